"""The low-level Bulk API 2.0 query client, against the emulator over real HTTPS (plus pure error mapping)."""
from __future__ import annotations

import json
import time

import pytest
import requests

from sf_assets.config.models import ApiUsageConfig, EmulatorAuth, PasswordAuth, RetryConfig, SalesforceConfig
from sf_assets.emulator import FaultPlan
from sf_assets.pipeline.emulator import open_connection
from sf_assets.salesforce.bulk2 import (
    BulkClient,
    BulkJobFailed,
    BulkJobNotFound,
    BulkPermanentError,
    BulkSessionExpired,
    BulkTransientError,
    JobInfo,
    error_from_response,
    job_failure,
    open_query_job,
)
from sf_assets.salesforce.governor import ApiGovernor
from sf_assets.salesforce.retry import describe_cause

RETRY = RetryConfig(attempts=4, backoff_base_s=0.01, backoff_max_s=0.02, jitter_s=0.0)
SOQL = "SELECT Id, Name FROM Account"


@pytest.fixture
def connection(org, tmp_path):
    state = org.write_state_file(tmp_path / "org.json")
    conn = open_connection(SalesforceConfig(auth=EmulatorAuth(kind="emulator", state_file=state, autostart=False)))
    conn.client()
    yield conn
    conn.close()


@pytest.fixture
def client(connection):
    from sf_assets.config.models import ExtractionConfig

    extraction = ExtractionConfig(poll_initial_s=0.01, poll_max_s=0.02)
    return BulkClient(connection, ApiGovernor(ApiUsageConfig(), 2), RETRY, extraction)


def _response(status: int, payload: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(payload).encode()
    return response


@pytest.mark.parametrize(("status", "code", "kind"), [
    (401, "INVALID_SESSION_ID", BulkSessionExpired),
    (503, "SERVER_UNAVAILABLE", BulkTransientError),
    (429, "REQUEST_LIMIT_EXCEEDED", BulkTransientError),
    (403, "REQUEST_LIMIT_EXCEEDED", BulkTransientError),
    (400, "INVALID_FIELD", BulkPermanentError),
    (400, "MALFORMED_QUERY", BulkPermanentError),
    (400, "INVALIDJOBSTATE", BulkPermanentError),
    (403, "API_DISABLED_FOR_ORG", BulkPermanentError),
    (404, "NOT_FOUND", BulkJobNotFound),
])
def test_error_payloads_become_typed_errors(status, code, kind):
    error = error_from_response(
        _response(status, [{"errorCode": code, "message": "Bearer 00Dxx!AQsecret-token-value"}])
    )
    assert type(error) is kind
    assert describe_cause(error) == f"HTTP {status} {code}"
    assert "secret-token-value" not in str(error)


def test_failed_job_is_permanent_only_for_an_invalid_query():
    def info(message):
        return JobInfo("750x", "Failed", "62.0", error_message=message)

    assert type(job_failure(info("InternalServerError : the query job failed"))) is BulkJobFailed
    assert type(job_failure(info("INVALID_FIELD: No such column 'Foo__c' on entity 'Account'"))) is BulkPermanentError


def test_query_job_pages_with_locators(org, client):
    info = client.create_query_job(SOQL)
    assert (info.state, info.api_version, info.operation) == ("UploadComplete", "62.0", "query")
    with open_query_job(client, SOQL, resume=info) as job:
        done = job.wait()
    expected = org.data.row_count("Account")
    assert (done.state, done.records_processed) == ("JobComplete", expected)
    locator, records, lines = None, [], 0
    while True:
        with client.results_page(done.id, done.api_version, locator, 100) as page:
            assert page._response.headers["Content-Encoding"] == "gzip"
            body = page.read()
        assert body.startswith(b'"Id","Name"\n')
        records.append(page.records)
        lines += body.count(b'\n"001')
        locator = page.next_locator
        if locator is None:
            break
    assert sum(records) == lines == expected and records[:-1] == [100] * (len(records) - 1)
    assert client.governor.usage is not None and client.governor.usage.used > 0


def test_results_need_the_jobs_api_version_and_completion(client):
    info = client.create_query_job(SOQL)
    with pytest.raises(BulkPermanentError, match="INVALIDJOBSTATE"):
        client.results_page(info.id, info.api_version, None, 10)  # not complete yet
    with open_query_job(client, SOQL, resume=info) as job:
        job.wait()
    with pytest.raises(BulkPermanentError, match="HTTP 409 INVALIDJOBSTATE"):
        client.results_page(info.id, "61.0", None, 10)


def test_queryall_and_invalid_field(org, client):
    with open_query_job(client, "SELECT Id FROM Widget__c", query_all=True) as job:
        assert job.wait().records_processed == org.data.row_count("Widget__c", include_deleted=True)
    sent = client.requests_sent
    with pytest.raises(BulkPermanentError, match="INVALID_FIELD.*Bogus__c"):
        client.create_query_job("SELECT Id, Bogus__c FROM Account")
    assert client.requests_sent == sent + 1  # permanent: not retried
    assert org.counters()["aborts"] == 0


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_open_job_is_aborted_on_any_exception(org, client, error):
    with pytest.raises(type(error)):
        with open_query_job(client, SOQL) as job:
            raise error
    assert org.jobs.get(job.info.id).state == "Aborted"
    assert org.counters()["aborts"] == 1


def test_complete_job_is_kept_for_resume(org, client):
    with pytest.raises(RuntimeError):
        with open_query_job(client, SOQL) as job:
            job.wait()
            raise RuntimeError("after completion")
    assert org.jobs.get(job.info.id).state == "JobComplete"
    assert org.counters()["aborts"] == 0


def test_transient_errors_are_retried(org, client):
    org.set_faults(FaultPlan.parse("503:0.2,concurrent:0.1"))
    with open_query_job(client, SOQL) as job:
        assert job.wait().state == "JobComplete"
    errors = org.counters()["errors"]
    assert errors.get("503", 0) + errors.get("concurrent", 0) > 0


def test_expired_session_logs_in_again_once(make_org, tmp_path):
    org = make_org(faults=FaultPlan.parse("expire_session_after:2"))
    creds = org.credentials
    config = SalesforceConfig(auth=PasswordAuth(kind="password", username=creds["username"]), ca_bundle=org.ca_path,
                              login_url=org.login_url)
    connection = open_connection(config, {"SF_PASSWORD": creds["password"],
                                               "SF_SECURITY_TOKEN": creds["security_token"]})
    client = BulkClient(connection, ApiGovernor(ApiUsageConfig()), RETRY)
    try:
        with open_query_job(client, SOQL) as job:
            job.wait()
    finally:
        connection.close()
    counters = org.counters()
    assert counters["logins"] >= 2 and counters["errors"]["expire_session_after"] == counters["logins"] - 1


def test_polling_starts_fast_and_backs_off_with_the_jobs_time(org, connection):
    """Each wait between status polls is at most `poll_fraction` of the time waited so far (within the initial and
    maximum waits): a job that needs many polls is asked often at first and less and less, and a processed job
    is noticed within a quarter of its processing time. Doubling waits (the old schedule) fail the bound."""
    from sf_assets.config.models import ExtractionConfig

    waits: list[tuple[float, float]] = []  # (time waited before this sleep, the sleep)
    started: list[float] = []

    def recording_sleep(seconds: float) -> None:
        waits.append((time.monotonic() - started[0], seconds))
        time.sleep(seconds)

    extraction = ExtractionConfig(poll_initial_s=0.01, poll_fraction=0.25, poll_max_s=0.2)
    client = BulkClient(connection, ApiGovernor(ApiUsageConfig(), 2), RETRY, extraction, sleep=recording_sleep)
    org.set_faults(FaultPlan.parse("slow_jobs:20"))
    try:
        with open_query_job(client, SOQL) as job:
            started.append(time.monotonic())
            assert job.wait().state == "JobComplete"
    finally:
        org.set_faults(FaultPlan())
    sleeps = [s for _, s in waits]
    assert len(waits) >= 20 and sleeps[0] < 0.03 and sleeps[-1] == 0.2  # fast at first, then backing off to the cap
    assert all(s <= max(0.01, 0.25 * waited) + 1e-9 for waited, s in waits)
    assert sleeps == sorted(sleeps)
