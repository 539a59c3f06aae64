"""Limits told apart, against the emulator over HTTPS: a daily limit is raised at once and never retried, REST
or Bulk, and stops the governor; a concurrency limit is transient. (A whole refresh: extract/test_limits.py.)"""
from __future__ import annotations

import pytest

from sf_assets.config.models import ApiUsageConfig, RetryConfig
from sf_assets.emulator import FaultPlan
from sf_assets.salesforce.bulk2 import BulkClient, BulkTransientError, error_from_response
from sf_assets.salesforce.errors import (
    BULK_QUERY_JOBS,
    BULK_RESULT_SIZE,
    TOTAL_REQUESTS,
    DailyLimitExceeded,
    daily_limit_in,
)
from sf_assets.salesforce.governor import ApiGovernor
from sf_assets.salesforce.retry import call_with_retry, is_transient
from sf_assets_tests.extract.helpers import connect
from sf_assets_tests.salesforce.test_bulk2 import _response

RETRY = RetryConfig(attempts=4, backoff_base_s=0.01, backoff_max_s=0.02, jitter_s=0.0)


@pytest.mark.parametrize(("status", "code", "message", "limit"), [
    (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", TOTAL_REQUESTS),
    (400, "LIMIT_EXCEEDED", "Max bulk v2 query jobs (10000) per 24 hrs has been reached (10021)", BULK_QUERY_JOBS),
    (400, "LIMIT_EXCEEDED", "Max bulk v2 query result size stored (1000000000) kb per 24 hrs has been exceeded",
     BULK_RESULT_SIZE),
    (403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", None),
    (403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.", None),
])
def test_daily_and_concurrency_limits_are_told_apart(status, code, message, limit):
    response = _response(status, [{"errorCode": code, "message": message}])
    found = daily_limit_in(response)
    assert (found.limit if found else None) == limit
    if limit is None:  # a concurrency limit passes in seconds: backed off and retried
        assert type(error_from_response(response)) is BulkTransientError and is_transient(error_from_response(response))


def test_a_daily_limit_on_a_rest_call_is_raised_at_once(make_org, tmp_path):
    org = make_org()
    connection = connect(org, tmp_path)
    client = connection.client()
    org.set_faults(FaultPlan.parse("daily_limit_after:1"))
    assert client.query("SELECT COUNT() FROM Account")["totalSize"] > 0
    calls = []
    with pytest.raises(DailyLimitExceeded, match=r"daily API request limit \(TotalRequests\) is reached"):
        call_with_retry(lambda: calls.append(1) or client.query("SELECT COUNT() FROM Account"), "COUNT()", RETRY)
    assert len(calls) == 1 and org.counters()["errors"]["daily_limit"] == 1
    connection.close()


def test_a_daily_limit_on_a_bulk_call_stops_the_governor(make_org, tmp_path):
    org = make_org()
    connection = connect(org, tmp_path)
    client = BulkClient(connection, ApiGovernor(ApiUsageConfig(), 2), RETRY)
    connection.client()
    org.set_api_used_pct(100)  # the day's requests are used up: the org refuses every request
    with pytest.raises(DailyLimitExceeded) as info:
        client.create_query_job("SELECT Id FROM Account")
    assert client.governor.state == "halted" and org.counters()["errors"]["daily_limit"] == 1
    with pytest.raises(DailyLimitExceeded) as again:  # every later check raises it: no new request
        client.governor.check()
    assert again.value is not info.value and str(again.value) == str(info.value)
    assert org.counters()["errors"]["daily_limit"] == 1 and org.counters()["jobs_created"] == {}
    connection.close()
