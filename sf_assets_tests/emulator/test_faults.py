"""Fault injection: parsing, each kind observed through counters, and the admin endpoint."""
from __future__ import annotations

import pytest
import requests

from sf_assets.emulator import EmulatorOrg, FaultPlan
from sf_assets.emulator.limits import CONCURRENCY

from .helpers import api, parse_csv, session
from .test_bulk import _job


def test_parse_and_errors() -> None:
    plan = FaultPlan.parse("503:0.05, reset:0.02,job_fail_once:Account,slow_jobs:3,expire_session_after:10,"
                           "daily_limit_after:7")
    assert plan.rates == {"503": 0.05, "reset": 0.02} and plan.job_fail_once == {"Account"}
    assert plan.slow_jobs == 3 and plan.expire_session_after == 10 and plan.daily_limit_after == 7
    assert FaultPlan.parse(str(plan)) == plan
    for bad in ("boom:1", "503:2", "503:x", "slow_jobs:-1", "503"):
        with pytest.raises(ValueError):
            FaultPlan.parse(bad)


def test_decisions_are_deterministic() -> None:
    plan = FaultPlan.parse("503:0.3")
    first = [plan.hits("503", 7, n) for n in range(200)]
    assert first == [plan.hits("503", 7, n) for n in range(200)] and 30 < sum(first) < 90


@pytest.mark.parametrize("kind, status, code, texts", [
    ("503", 503, "SERVER_UNAVAILABLE", {"Server is temporarily unavailable (injected fault)"}),
    ("concurrent", 403, "REQUEST_LIMIT_EXCEEDED", set(CONCURRENCY))])
def test_transient_faults_answer_transient_texts(org: EmulatorOrg, kind: str, status: int, code: str,
                                                 texts: set[str]) -> None:
    org.set_faults(FaultPlan.parse(f"{kind}:0.5"))
    responses = [session(org).get(api(org, "/limits")) for _ in range(30)]
    failed = [r for r in responses if r.status_code != 200]
    assert failed and {r.status_code for r in failed} == {status}
    assert {r.json()[0]["errorCode"] for r in failed} == {code} and {r.json()[0]["message"] for r in failed} <= texts
    assert not any("TotalRequests" in r.text for r in failed)  # a transient refusal never reads as the daily limit
    assert org.counters()["errors"][kind] == len(failed)


def test_daily_limits_are_used_up_mid_run_and_reset_the_next_day(make_org) -> None:
    org = make_org(faults=FaultPlan.parse("daily_limit_after:3"))
    s = session(org)
    codes = [s.get(api(org, "/limits")).status_code for _ in range(5)]
    refused = s.get(api(org, "/limits"))
    assert codes == [200, 200, 200, 403, 403] and refused.status_code == 403
    assert refused.json() == [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=100000/100000"
    assert org.counters()["errors"]["daily_limit"] == 3
    org.new_day()
    assert s.get(api(org, "/limits")).json()["DailyApiRequests"]["Remaining"] == 100_000 - 1

    org.set_faults(FaultPlan.parse("bulk_job_cap_after:1"))
    create = {"operation": "query", "query": "SELECT Id FROM Account"}
    first, second = (s.post(api(org, "/jobs/query"), json=create) for _ in range(2))
    assert first.status_code == 200 and second.status_code == 400
    assert second.json() == [{"errorCode": "LIMIT_EXCEEDED",
                              "message": "Max bulk v2 query jobs (10000) per 24 hrs has been reached (10001)"}]
    assert s.get(api(org, "/limits")).json()["DailyBulkV2QueryJobs"]["Remaining"] == 0
    org.new_day()
    org.set_faults(FaultPlan.parse("bulk_result_cap_after:1"))
    assert s.post(api(org, "/jobs/query"), json=create).status_code == 200
    capped = s.post(api(org, "/jobs/query"), json=create)
    assert capped.status_code == 400 and "Max bulk v2 query result size stored" in capped.json()[0]["message"]
    assert org.counters()["errors"]["bulk_job_cap"] == org.counters()["errors"]["bulk_result_cap"] == 1
    assert s.post(f"{org.instance_url}/__emulator__/new_day").json()["DailyBulkV2QueryFileStorageMB"]["Remaining"] > 0


def test_reset_mid_body(org: EmulatorOrg) -> None:
    job_id = _job(org, "SELECT Id, Name FROM Account")
    org.set_faults(FaultPlan.parse("reset:1"))
    with pytest.raises(requests.exceptions.RequestException):
        session(org).get(api(org, f"/jobs/query/{job_id}/results"), params={"maxRecords": 100})
    assert org.counters()["errors"]["reset"] == 1


def test_short_page(org: EmulatorOrg) -> None:
    job_id = _job(org, "SELECT Id FROM Account")
    org.set_faults(FaultPlan.parse("short_page:1"))
    r = session(org).get(api(org, f"/jobs/query/{job_id}/results"), params={"maxRecords": 100})
    assert len(parse_csv(r.text)) - 1 < int(r.headers["Sforce-NumberOfRecords"]) == 100
    assert org.counters()["errors"]["short_page"] == 1


def test_job_fail_once_and_slow_jobs(make_org) -> None:
    org = make_org(faults=FaultPlan.parse("job_fail_once:Contact,slow_jobs:2"))
    s = session(org)
    states = []
    for _ in range(2):
        job = s.post(api(org, "/jobs/query"), json={"operation": "query", "query": "SELECT Id FROM Contact"}).json()
        seen = [s.get(api(org, f"/jobs/query/{job['id']}")).json() for _ in range(5)]
        states.append([j["state"] for j in seen])
    assert states[0] == ["InProgress"] * 3 + ["Failed"] * 2 and seen[-1]["state"] == "JobComplete"
    assert states[1] == ["InProgress"] * 3 + ["JobComplete"] * 2
    failed = s.get(api(org, f"/jobs/query/{org.jobs.all()[0].id}")).json()
    assert failed["errorMessage"]
    errors = org.counters()["errors"]
    assert errors["job_fail_once"] == 1 and errors["slow_jobs"] == 4


def test_expire_session_after(make_org) -> None:
    org = make_org(faults=FaultPlan.parse("expire_session_after:3"))
    codes = [session(org).get(api(org, "/limits")).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 401, 401]
    assert org.counters()["errors"]["expire_session_after"] == 1


def test_admin_endpoint(org: EmulatorOrg) -> None:
    s = session(org)
    s.get(api(org, "/limits"))
    counters = s.get(f"{org.instance_url}/__emulator__/counters").json()
    assert counters["limits_calls"] == 1 and counters["requests"] >= 1
    assert s.post(f"{org.instance_url}/__emulator__/faults", json={"faults": "503:1"}).status_code == 200
    assert s.get(api(org, "/limits")).status_code == 503
    assert s.post(f"{org.instance_url}/__emulator__/faults", json={"faults": "bogus:1"}).status_code == 400
    s.post(f"{org.instance_url}/__emulator__/faults", json={"faults": ""})
    s.post(f"{org.instance_url}/__emulator__/api_used_pct", json={"pct": 85})
    assert s.get(api(org, "/limits")).headers["Sforce-Limit-Info"].startswith("api-usage=85")
    assert session(org, "nope").get(f"{org.instance_url}/__emulator__/counters").status_code == 401
