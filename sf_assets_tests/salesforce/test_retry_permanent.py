"""Errors retrying cannot fix are raised at once: TLS verification, 401 after a fresh login, bad SOQL or fields."""

import pytest
import requests

from sf_assets.config.models import RetryConfig
from sf_assets.salesforce.bulk2 import BulkPermanentError, BulkSessionExpired, error_from_response
from sf_assets.salesforce.retry import call_with_retry, is_permanent, is_transient
from sf_assets_tests.salesforce.test_bulk2 import _response

RETRY = RetryConfig(attempts=4, backoff_base_s=0.01, backoff_max_s=0.02, jitter_s=0.0)


def _count_calls(fn):
    calls = {"n": 0}

    def wrapped():
        calls["n"] += 1
        return fn()

    return wrapped, calls


def test_a_tls_verification_failure_is_not_retried(org, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    session = requests.Session()  # default trust store: the emulator's throw-away CA is not in it
    fn, calls = _count_calls(lambda: session.get(f"{org.instance_url}/services/data", timeout=5))
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        call_with_retry(fn, "GET /services/data", RETRY, sleep=lambda s: None)
    assert calls["n"] == 1


def test_a_connection_reset_is_still_retried():
    fn, calls = _count_calls(lambda: (_ for _ in ()).throw(requests.ConnectionError("Connection reset by peer")))
    with pytest.raises(requests.ConnectionError):
        call_with_retry(fn, "GET", RETRY, sleep=lambda s: None)
    assert calls["n"] == RETRY.attempts


@pytest.mark.parametrize(("status", "code"), [(400, "INVALID_FIELD"), (400, "MALFORMED_QUERY"), (400, "INVALID_TYPE"),
                                              (401, "INVALID_SESSION_ID"), (500, "INVALID_FIELD")])
def test_permanent_salesforce_errors_are_raised_at_once(status, code):
    error = error_from_response(_response(status, [{"errorCode": code, "message": "no"}]))
    assert isinstance(error, (BulkPermanentError, BulkSessionExpired))
    assert is_permanent(error) and not is_transient(error)
    fn, calls = _count_calls(lambda: (_ for _ in ()).throw(error))
    with pytest.raises(type(error)):
        call_with_retry(fn, "Bulk API query", RETRY, sleep=lambda s: None)
    assert calls["n"] == 1


def test_an_unknown_field_through_simple_salesforce_is_not_retried(org):
    from sf_assets.config.models import EmulatorAuth, SalesforceConfig
    from sf_assets.pipeline.emulator import open_connection

    state = org.write_state_file(org.settings.state_dir / "retry-test-org.json")
    connection = open_connection(
        SalesforceConfig(auth=EmulatorAuth(kind="emulator", state_file=state, autostart=False))
    )
    try:
        client = connection.client()
        fn, calls = _count_calls(lambda: client.query("SELECT Id, Bogus__c FROM Account"))
        with pytest.raises(Exception, match="INVALID_FIELD"):
            call_with_retry(fn, "SOQL check", RETRY, sleep=lambda s: None)
        assert calls["n"] == 1
    finally:
        connection.close()
