"""Retries of transient Salesforce errors with tenacity: exponential backoff + jitter, logged."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from simple_salesforce.exceptions import SalesforceError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from sf_assets.config.models import RetryConfig
from sf_assets.observability.redaction import redact
from sf_assets.salesforce.errors import daily_limit_of, error_fields, response_payload

log = logging.getLogger(__name__)
T = TypeVar("T")
_TRANSIENT_STATUS = {408, 420, 429, 500, 502, 503, 504}
_retry_observer: contextvars.ContextVar[Callable[[str], None] | None] = contextvars.ContextVar(
    "sf_assets_retry_observer", default=None)


@dataclass
class AttemptSequence:
    """The one "Attempt n of N" count that every retry inside `one_attempt_sequence` shares, and the furthest
    position (e.g. results pages recorded) the work has reached."""

    attempts: int
    attempt: int = 1
    reached: int = 0
    step: str = ""


_sequence: contextvars.ContextVar[AttemptSequence | None] = contextvars.ContextVar("sf_assets_attempts", default=None)


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
    """A short, secret-free cause such as 'HTTP 503 SERVER_UNAVAILABLE' or 'connection refused' (no repr)."""
    status = getattr(exc, "status", None)
    if status is None and isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
    code = error_code(exc)
    if status:
        return f"HTTP {status}" + (f" {code}" if code else "")
    said = network_cause(exc)
    if said:
        return said
    if isinstance(exc, OSError) and exc.strerror:  # a share or a disk: 'No such file or directory: <path>'
        return redact(f"{exc.strerror}{': ' + str(exc.filename) if exc.filename else ''}")[:200]
    if isinstance(exc, TransientError) and str(exc):  # our own transient errors say what happened
        return " ".join(redact(str(exc)).split())[:200]
    return " ".join(redact(f"{type(exc).__name__}: {exc}").split())[:200]


_RESET = ("reset", "aborted", "RemoteDisconnected", "ProtocolError", "IncompleteRead", "body interrupted",
          "ChunkedEncodingError", "closed connection")


def network_cause(exc: BaseException) -> str | None:
    """What went wrong on the network in words ('connection refused', 'connection reset by Salesforce while
    downloading results', ...), or None when `exc` is no network error."""
    text = f"{type(exc).__name__}: {exc}"
    url = str(getattr(getattr(exc, "request", None), "url", "") or "")
    downloading = " while downloading results" if "/results" in url or "results page" in text else ""
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy refused or dropped the connection"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed" + (" (certificate not trusted)" if any(t in text for t in _TLS_VERIFY) else "")
    if isinstance(exc, requests.Timeout):
        return "Salesforce did not answer within salesforce.read_timeout_s / connect_timeout_s"
    if not isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, TransientError)):
        return None
    if "refused" in text.lower():
        return "connection refused"
    if "Name or service not known" in text or "getaddrinfo failed" in text or "nodename nor servname" in text:
        return "host name not found (DNS)"
    if any(word in text for word in _RESET):
        return f"connection reset by Salesforce{downloading}"
    return None


@contextlib.contextmanager
def observe_retries(on_retry: Callable[[str], None]) -> Iterator[None]:
    """Call `on_retry(cause)` for every retry logged inside the block (in this thread), e.g. to count a chunk's."""
    token = _retry_observer.set(on_retry)
    try:
        yield
    finally:
        _retry_observer.reset(token)


@contextlib.contextmanager
def one_attempt_sequence(attempts: int) -> Iterator[AttemptSequence]:
    """Every retry inside the block (of a chunk: its Bulk job, its pages, its REST calls, nested or not) counts as
    the next attempt of ONE sequence of `attempts`: the log reads "Attempt 2 of 3", "Attempt 3 of 3", then the
    block fails; without this, nested retries would each count from 1. Progress past the furthest point reached
    (`note_progress`) starts a new sequence, named by its step ("page 4"), so a long chunk is not failed by
    retries that each succeeded; a job started over counts on until it gets further than the last one. A sequence
    nested in another (one results page of a chunk's parallel download) that fails with its attempts used up uses
    up the outer one too: the chunk does not try the page `attempts` times more."""
    outer = _sequence.get()
    sequence = AttemptSequence(attempts)
    token = _sequence.set(sequence)
    try:
        yield sequence
    except Exception:
        if outer is not None and sequence.attempt >= sequence.attempts:
            outer.attempt = max(outer.attempt, outer.attempts)
        raise
    finally:
        _sequence.reset(token)


def note_progress(position: int, step: str) -> None:
    """The work of the current `one_attempt_sequence` reached `position` (e.g. pages recorded); past the furthest
    so far, the next retry counts from 1 again and names `step` (what is tried next)."""
    sequence = _sequence.get()
    if sequence is not None and position > sequence.reached:
        sequence.reached, sequence.attempt, sequence.step = position, 1, step


RETRY_MESSAGE = "Retrying {what} due to {cause}. Attempt {attempt} of {attempts}"


def call_with_retry(fn: Callable[[], T], what: str, policy: RetryConfig, sleep: Callable[[float], None] | None = None,
                    *, retry_on: Callable[[BaseException], bool] = is_transient, message: str = RETRY_MESSAGE) -> T:
    """Call `fn`, retrying errors `retry_on` accepts per `policy`; each retry is logged with `message`
    (inside `one_attempt_sequence` the retries count in that sequence, and stop when it is used up)."""
    sequence = _sequence.get()

    def used_up(_: RetryCallState) -> bool:  # the sequence's attempts, whichever call made them
        return sequence is not None and sequence.attempt >= sequence.attempts

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        cause = describe_cause(exc) if exc else "?"
        attempt, attempts, label = state.attempt_number + 1, policy.attempts, what
        if sequence is not None:
            sequence.attempt += 1
            attempt, attempts = sequence.attempt, sequence.attempts
            label = f"{what} ({sequence.step})" if sequence.step else what
        log.warning(message.format(what=label, cause=cause, attempt=attempt, attempts=attempts))
        observer = _retry_observer.get()
        if observer is not None:
            observer(cause)

    kwargs: dict[str, Any] = {"sleep": sleep} if sleep is not None else {}
    retrying = Retrying(
        stop=stop_after_attempt(policy.attempts) if sequence is None else used_up,
        wait=wait_exponential(multiplier=policy.backoff_base_s, max=policy.backoff_max_s)
        + wait_random(0, policy.jitter_s),
        retry=retry_if_exception(retry_on),
        before_sleep=before_sleep,
        reraise=True,
        **kwargs,
    )
    return retrying(fn)
