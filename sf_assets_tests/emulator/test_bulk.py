"""Bulk API 2.0 query jobs over real HTTPS (simple-salesforce and raw requests)."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from sf_assets.emulator import EmulatorOrg

from .helpers import api, parse_csv, session, sf
from .helpers import bulk_job as _job
from .helpers import bulk_pages as _pages

WIDGET_FIELDS = ["Id", "Name", "Text__c", "LongText__c", "Flag__c", "Count__c", "Ratio__c", "Amount__c", "Percent__c",
                 "Day__c", "Stamp__c", "Clock__c", "Color__c", "Tags__c", "Account__c", "Account__r.Name", "Email__c",
                 "Phone__c", "Url__c", "ShipStreet", "ShipLatitude", "Location__Latitude__s", "Score__c", "IsDeleted",
                 "CreatedDate"]


def _as_csv(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def test_simple_salesforce_bulk2_matches_expected(org: EmulatorOrg) -> None:
    soql = "SELECT Id, Name, Industry, NumberOfEmployees, Phone, Description FROM Account"
    chunks = list(sf(org).bulk2.Account.query(soql, max_records=70, wait=0))
    assert len(chunks) > 3
    rows = [r for chunk in chunks for r in parse_csv(chunk)[1:]]
    expected = [
        e
        for e in org.data.generate(
            "Account", 0, 10**9, ["IsDeleted", *soql[7 : soql.index(" FROM")].split(", ")]
        ).to_pylist()
        if not e.pop("IsDeleted")
    ]
    assert rows == [[_as_csv(v) for v in e.values()] for e in expected]
    assert org.counters()["jobs_created"] == {"Account": 1} and org.counters()["pages"] == len(chunks)


def test_query_all_includes_deleted(org: EmulatorOrg) -> None:
    rows = [r for _, page in _pages(org, _job(org, "SELECT Id, IsDeleted FROM Opportunity", "queryAll"), 1000)
            for r in page[1:]]
    assert len(rows) == org.data.row_count("Opportunity", include_deleted=True)
    assert sum(r[1] == "true" for r in rows) == len(rows) - org.data.row_count("Opportunity")


def test_awkward_values_survive_csv_round_trip(org: EmulatorOrg) -> None:
    pages = _pages(org, _job(org, f"SELECT {', '.join(WIDGET_FIELDS)} FROM Widget__c"), 60)
    header = pages[0][1][0]
    assert header == WIDGET_FIELDS
    rows = [r for _, page in pages for r in page[1:]]
    table = org.data.generate("Widget__c", 0, 10**9, WIDGET_FIELDS).to_pylist()
    expected = [t for t in table if not t["IsDeleted"]]
    assert len(rows) == len(expected)
    texts = [v for r in rows for v in r if v]
    for needle in ('"', ",", "\n", "\r\n", "\rend", "\u2028", "中文", "🚀", "é"):
        assert any(needle in t for t in texts), needle
    for lookalike in ("NULL", "N/A", "NaN", "00123", "1E5", "   "):  # strings, never nulls or numbers
        assert lookalike in texts, lookalike
    assert any(len(t) == 32000 for t in texts) and any(t.startswith(" ") and t.endswith(" ") for t in texts)
    for row, exp in zip(rows, expected):
        got = dict(zip(header, row))
        assert got["Id"] == exp["Id"] and got["LongText__c"] == exp["LongText__c"]
        assert got["Account__r.Name"] == exp["Account__r.Name"] and got["Flag__c"] == str(exp["Flag__c"]).lower()
        for num in ("Amount__c", "Ratio__c", "Score__c", "Percent__c"):
            assert (got[num] is None) == (exp[num] is None)
            if exp[num] is not None:
                assert Decimal(got[num]) == Decimal(str(exp[num])), num
        if exp["Stamp__c"] is not None:
            stamp = exp["Stamp__c"]
            assert got["Stamp__c"] == f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}Z"
        clock = exp["Clock__c"]
        assert got["Clock__c"] == f"{clock:%H:%M:%S}.{clock.microsecond // 1000:03d}Z"
        assert got["Day__c"] == (None if exp["Day__c"] is None else exp["Day__c"].isoformat())


def test_gzip_and_refetch_identical(org: EmulatorOrg) -> None:
    job_id = _job(org, "SELECT Id, Name, Amount, CloseDate FROM Opportunity")
    plain = _pages(org, job_id, 500, **{"Accept-Encoding": "identity"})  # requests asks for gzip by default
    zipped = _pages(org, job_id, 500, **{"Accept-Encoding": "gzip"})
    assert all(r.headers.get("Content-Encoding") == "gzip" for r, _ in zipped)
    assert all("Content-Encoding" not in r.headers for r, _ in plain)
    assert [p for _, p in plain] == [p for _, p in zipped]
    second = plain[1][0]
    again = session(org).get(second.url)
    assert again.content == second.content and again.headers["Sforce-Locator"] == second.headers["Sforce-Locator"]


def test_results_need_complete_job_and_same_version(org: EmulatorOrg) -> None:
    s = session(org)
    job = s.post(api(org, "/jobs/query"), json={"operation": "query", "query": "SELECT Id FROM Account"}).json()
    early = s.get(api(org, f"/jobs/query/{job['id']}/results"))
    assert early.status_code == 400 and early.json()[0]["errorCode"]
    job_id = _job(org, "SELECT Id FROM Account", version="61.0")
    mismatch = s.get(api(org, f"/jobs/query/{job_id}/results"))
    assert mismatch.status_code == 409
    info = s.get(f"{org.instance_url}/services/data/v61.0/jobs/query/{job_id}").json()
    assert info["apiVersion"] == 61.0 and info["numberRecordsProcessed"] == org.data.row_count("Account")


def test_abort_delete_and_list(org: EmulatorOrg) -> None:
    s = session(org)
    job = s.post(api(org, "/jobs/query"), json={"operation": "query", "query": "SELECT Id FROM Contact"}).json()
    listed = s.get(api(org, "/jobs/query")).json()
    assert listed["done"] is True and job["id"] in {j["id"] for j in listed["records"]}
    aborted = s.patch(api(org, f"/jobs/query/{job['id']}"), json={"state": "Aborted"})
    assert aborted.json()["state"] == "Aborted"
    assert s.get(api(org, f"/jobs/query/{job['id']}")).json()["state"] == "Aborted"
    assert s.delete(api(org, f"/jobs/query/{job['id']}")).status_code == 204
    assert s.get(api(org, f"/jobs/query/{job['id']}")).status_code == 404
    assert org.counters()["aborts"] == 1 and org.counters()["deletes"] == 1


@pytest.mark.parametrize("soql, code", [
    ("SELECT Id, BillingAddress FROM Account", "FUNCTIONALITY_NOT_ENABLED"),
    ("SELECT Id, Location__c FROM Widget__c", "FUNCTIONALITY_NOT_ENABLED"),
    ("SELECT Id, Blob__c FROM Widget__c", "FUNCTIONALITY_NOT_ENABLED"),
    ("SELECT COUNT() FROM Account", "FUNCTIONALITY_NOT_ENABLED"),
    ("SELECT Id FROM Account OFFSET 5", "FUNCTIONALITY_NOT_ENABLED"),
    ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "FUNCTIONALITY_NOT_ENABLED"),
    ("SELECT Id, Nope__c FROM Account", "INVALID_FIELD"),
    ("SELECT Id FROM Account WHERE (", "MALFORMED_QUERY"),
])
def test_refused_bulk_queries(org: EmulatorOrg, soql: str, code: str) -> None:
    r = session(org).post(api(org, "/jobs/query"), json={"operation": "query", "query": soql})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == code


def test_id_range_chunk(org: EmulatorOrg) -> None:
    lo, hi = org.data.id_for("Opportunity", 700), org.data.id_for("Opportunity", 1900)
    start, stop = org.data.index_range_for("Opportunity", lo, hi)
    started = time.perf_counter()
    rows = [r for _, p in _pages(org, _job(org, f"SELECT Id FROM Opportunity WHERE Id >= '{lo}' AND Id < '{hi}'"), 400)
            for r in p[1:]]
    expected = org.data.generate("Opportunity", start, stop, ["Id", "IsDeleted"]).to_pylist()
    assert [r[0] for r in rows] == [e["Id"] for e in expected if not e["IsDeleted"]]
    assert time.perf_counter() - started < 5


def test_a_job_without_records_answers_in_the_form_the_org_is_set_to(org: EmulatorOrg) -> None:
    s, admin, bodies = session(org), f"{org.instance_url}/__emulator__/empty_result", {}
    try:
        for form in ("empty", "header", "not_found"):
            assert s.post(admin, json={"form": form}).json() == {"form": form}
            job = _job(org, "SELECT Id, Name FROM Account WHERE Name = 'no such account'")
            r = s.get(api(org, f"/jobs/query/{job}/results"))
            assert r.status_code == 200 and s.get(api(org, f"/jobs/query/{job}")).json()["numberRecordsProcessed"] == 0
            assert r.headers["Sforce-NumberOfRecords"] == "0" and r.headers["Sforce-Locator"] == "null"
            bodies[form] = r.content
        refused = s.post(admin, json={"form": "blank"})
        assert refused.status_code == 400 and "empty, header, not_found" in refused.text
        rows = parse_csv(s.get(api(org, f"/jobs/query/{_job(org, 'SELECT Id FROM Account')}/results")).text)
        assert len(rows) == 1 + org.data.row_count("Account")  # a job with records is unaffected
    finally:
        org.set_empty_result("empty")
    assert bodies == {"empty": b"", "header": b'"Id","Name"\n', "not_found": b"Records not found for this query"}
