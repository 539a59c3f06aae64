"""A far-away org (service profiles) and the parallel results endpoint, measured over real HTTPS."""
from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from sf_assets.emulator import EmulatorOrg
from sf_assets.emulator.service import ServiceProfile, service_profile

from .helpers import api, bulk_job, bulk_pages, parse_csv, session

RTT = 0.050  # above the ~44 ms a local answer can wait for a delayed ACK (Nagle)
CAP = 400_000  # bytes/s per connection: a ~220 kB page takes ~0.55 s
ROWS_PER_S = 2_500  # Opportunity's ~2,440 rows take ~1 s to process, above the 0.3 s minimum
SOQL = "SELECT Id, Name, StageName, Amount, CloseDate, Description FROM Opportunity"


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_far_away_org_pays_round_trips_bandwidth_and_processing_time(make_org: Callable[..., EmulatorOrg]) -> None:
    org = make_org(service=ServiceProfile("test", rtt_ms=RTT * 1000, handshake_rtts=2, conn_bytes_per_s=CAP,
                                          job_rows_per_s=ROWS_PER_S, job_min_s=0.3))
    s = session(org)
    new = _timed(lambda: s.get(api(org, "/limits")))
    reused = min(_timed(lambda: s.get(api(org, "/limits"))) for _ in range(3))
    assert RTT <= reused < RTT + 0.25, "every request pays one round trip"
    assert new - reused >= 1.5 * RTT, "a new connection pays its handshake round trips on top"

    t0 = time.perf_counter()
    job = s.post(api(org, "/jobs/query"), json={"operation": "query", "query": SOQL}).json()
    t1 = time.perf_counter()
    processing = org.data.row_count("Opportunity") / ROWS_PER_S
    polls: list[tuple[float, float, dict]] = []
    while not polls or polls[-1][2]["state"] != "JobComplete":
        sent = time.perf_counter()
        info = s.get(api(org, f"/jobs/query/{job['id']}")).json()
        polls.append((sent, time.perf_counter(), info))
        assert time.perf_counter() - t0 < processing + 3, f"job still {info['state']}"
        time.sleep(0.1)
    assert len(polls) >= 3 and {p[2]["state"] for p in polls[:-1]} == {"InProgress"}
    assert polls[-1][1] - t0 >= processing, "complete only after its modelled processing time"
    assert polls[-2][0] - t1 < processing, "no poll after the processing time answered InProgress"
    assert polls[-1][2]["totalProcessingTime"] == round(processing * 1000)

    url = api(org, f"/jobs/query/{job['id']}/results")
    plain, zipped = [], []
    took_gzip = _timed(lambda: zipped.append(s.get(url, stream=True).raw.read(decode_content=False)))
    took = _timed(lambda: plain.append(s.get(url, headers={"Accept-Encoding": "identity"}).content))
    assert 0.6 * CAP <= len(plain[0]) / (took - RTT) <= 1.1 * CAP, "a connection downloads near its cap"
    assert gzip.decompress(zipped[0]) == plain[0] and len(zipped[0]) < len(plain[0]) / 2, "pages stay gzip"
    assert len(zipped[0]) / (took_gzip - RTT) <= 1.1 * CAP, "the cap counts the bytes on the wire"


def test_result_pages_hold_the_jobs_rows_five_urls_at_a_time(org: EmulatorOrg) -> None:
    job_id = bulk_job(org, SOQL)
    s, calls, urls = session(org), [], []
    next_url: str | None = api(org, f"/jobs/query/{job_id}/resultPages?maxRecords=300")
    while next_url:
        calls.append(s.get(next_url))
        assert calls[-1].status_code == 200, calls[-1].text
        body = calls[-1].json()
        assert 1 <= len(body["resultPages"]) <= 5 and body["done"] is (body["nextRecordsUrl"] is None)
        urls += [p["resultUrl"] for p in body["resultPages"]]
        next_url = body["nextRecordsUrl"] and org.instance_url + body["nextRecordsUrl"]
    assert len(calls) == 2 and len(urls) == 9  # 2,440 rows in pages of 300
    assert all(u.startswith(f"/services/data/v62.0/jobs/query/{job_id}/results?locator=") for u in urls)

    with ThreadPoolExecutor(5) as pool:  # in parallel, the last page first
        pages = list(pool.map(lambda u: s.get(org.instance_url + u), reversed(urls)))[::-1]
    for page in pages:
        assert page.status_code == 200 and int(page.headers["Sforce-NumberOfRecords"]) == len(parse_csv(page.text)) - 1
    parallel = [row for page in pages for row in parse_csv(page.text)[1:]]
    serial = [row for _, rows in bulk_pages(org, job_id, 300) for row in rows[1:]]
    assert parallel == serial and len(serial) == org.data.row_count("Opportunity")


def test_result_pages_by_api_version_and_job_state(org: EmulatorOrg) -> None:
    s = session(org)
    job_id = bulk_job(org, "SELECT Id FROM Account", version="58.0")
    ok = s.get(f"{org.instance_url}/services/data/v58.0/jobs/query/{job_id}/resultPages")
    assert ok.status_code == 200 and ok.json()["done"] is True and len(ok.json()["resultPages"]) == 1
    other = s.get(api(org, f"/jobs/query/{job_id}/resultPages"))
    assert other.status_code == 409 and other.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    old_id = bulk_job(org, "SELECT Id FROM Account", version="57.0")
    old = s.get(f"{org.instance_url}/services/data/v57.0/jobs/query/{old_id}/resultPages")
    assert old.status_code == 404 and old.json()[0]["errorCode"] == "NOT_FOUND"
    fresh = s.post(api(org, "/jobs/query"), json={"operation": "query", "query": "SELECT Id FROM Account"}).json()
    early = s.get(api(org, f"/jobs/query/{fresh['id']}/resultPages"))
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_service_profile_overrides() -> None:
    assert service_profile() == ServiceProfile() and not ServiceProfile().timed_jobs
    wan = service_profile("wan", "rtt_ms=30, conn_bytes_per_s=500000")
    assert (wan.rtt_ms, wan.conn_bytes_per_s, wan.job_min_s) == (30, 500_000, 2)
    assert wan.processing_s(1_000_000) == 10 and wan.processing_s(10) == 2
    for name, spec, cause in [("lan", "", "service profile 'lan'"), ("wan", "rtt=3", "service 'rtt=3'"),
                              ("wan", "rtt_ms=x", "'x' is not a number"), ("slow", "rtt_ms=-1", ">= 0")]:
        with pytest.raises(ValueError, match=cause):
            service_profile(name, spec)
