"""Retries of transient Salesforce errors with tenacity: exponential backoff + jitter, logged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import requests
from simple_salesforce.exceptions import SalesforceError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from sf_assets.config.models import RetryConfig
from sf_assets.observability.redaction import redact
from sf_assets.salesforce.errors import daily_limit_of, error_fields, response_payload

log = logging.getLogger(__name__)
T = TypeVar("T")
_TRANSIENT_STATUS = {408, 420, 429, 500, 502, 503, 504}


class TransientError(Exception):
    """An error worth retrying that is not an HTTP/requests exception (e.g. a short results page)."""


def error_code(exc: BaseException) -> str | None:
    """Salesforce errorCode of an error response (first of the array), if any."""
    return error_fields(getattr(exc, "content", None))[0]


# Salesforce errorCodes that no retry can fix: the query, a field or the credentials are wrong.
PERMANENT_CODES = frozenset({
    "INVALID_FIELD", "MALFORMED_QUERY", "INVALID_TYPE", "INVALID_QUERY_FILTER_OPERATOR", "INVALID_SESSION_ID",
    "INVALID_AUTH_HEADER", "INVALID_LOGIN", "INSUFFICIENT_ACCESS", "API_DISABLED_FOR_ORG",
})
_TLS_VERIFY = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "hostname mismatch", "doesn't match")


def is_permanent(exc: BaseException) -> bool:
    """Errors retrying cannot fix: TLS verification, 401 (the caller already logged in again), bad SOQL/fields."""
    if isinstance(exc, requests.exceptions.SSLError) and any(t in str(exc) for t in _TLS_VERIFY):
        return True
    status = getattr(exc, "status", None)
    if status is None and isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
    return status == 401 or error_code(exc) in PERMANENT_CODES


def is_transient(exc: BaseException) -> bool:
    """Timeouts, connection errors, 5xx, 429 and the concurrency limits (REQUEST_LIMIT_EXCEEDED other than
    TotalRequests) are transient; a daily limit and every `is_permanent` error are not."""
    if is_permanent(exc):
        return False
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
        return True
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code in _TRANSIENT_STATUS or _concurrency_limit(response_payload(exc.response))
    if isinstance(exc, SalesforceError):
        return getattr(exc, "status", 0) in _TRANSIENT_STATUS or _concurrency_limit(exc.content)
    return False


def _concurrency_limit(payload: object) -> bool:
    code, message = error_fields(payload)
    return code == "REQUEST_LIMIT_EXCEEDED" and daily_limit_of(code, message) is None


def describe_cause(exc: BaseException) -> str:
    """A short, secret-free cause such as 'HTTP 503' or 'ConnectionError'."""
    status = getattr(exc, "status", None)
    if status is None and isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
    code = error_code(exc)
    if status:
        return f"HTTP {status}" + (f" {code}" if code else "")
    return redact(f"{type(exc).__name__}: {exc}")[:200]


RETRY_MESSAGE = "Retrying {what} due to {cause}. Attempt {attempt} of {attempts}"


def call_with_retry(fn: Callable[[], T], what: str, policy: RetryConfig, sleep: Callable[[float], None] | None = None,
                    *, retry_on: Callable[[BaseException], bool] = is_transient, message: str = RETRY_MESSAGE) -> T:
    """Call `fn`, retrying errors `retry_on` accepts per `policy`; each retry is logged with `message`."""

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(message.format(what=what, cause=describe_cause(exc) if exc else "?",
                                   attempt=state.attempt_number + 1, attempts=policy.attempts))

    kwargs = {"sleep": sleep} if sleep is not None else {}
    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_exponential(multiplier=policy.backoff_base_s, max=policy.backoff_max_s) + wait_random(0, policy.jitter_s),
        retry=retry_if_exception(retry_on),
        before_sleep=before_sleep,
        reraise=True,
        **kwargs,
    )
    return retrying(fn)
