"""Salesforce error responses: the one parser of their bodies, and the errors after which a refresh stops at once.

An error body is ``[{"errorCode": ..., "message": ...}]`` (REST and Bulk API 2.0 alike). Two kinds of
answers mean that no later request of the refresh can succeed, so nothing is retried:

- a **daily limit** (`DailyLimitExceeded`): the org's API requests (``403 REQUEST_LIMIT_EXCEEDED:
  TotalRequests Limit exceeded.``), its Bulk API 2.0 query jobs (``400 LIMIT_EXCEEDED: Max bulk v2
  query jobs (10000) per 24 hrs has been reached``) or its Bulk query result size (``Max bulk v2 query
  result size stored ... per 24 hrs has been exceeded``), all counted over a rolling 24 hours;
- an expired **bare access token** (`AccessTokenExpired`): there is no login to get a new one.

The concurrency limits (``REQUEST_LIMIT_EXCEEDED: ConcurrentPerOrgLongTxn Limit exceeded.`` or
``ConcurrentRequests ...``) pass in seconds: they stay transient. Sources: docs/EMULATOR.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests


def error_fields(payload: Any) -> tuple[str | None, str | None]:
    """(errorCode, message) of a parsed error body: a list of error objects (the first counts) or one object."""
    first = payload[0] if isinstance(payload, list) and payload else payload
    if not isinstance(first, dict):
        return None, None
    message = first.get("message")  # one line: an INVALID_FIELD message quotes the SOQL over several lines
    return first.get("errorCode"), " ".join(str(message).split()) if message else None


def response_payload(response: requests.Response) -> Any:
    """The parsed JSON body of a response, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


class RefreshStop(RuntimeError):
    """No later request of this refresh can succeed: stop at once, retry nothing, leave every output as it was."""

    refuses_every_request = True  # False: other calls (aborting the open jobs) still work


class AccessTokenExpired(RefreshStop):
    """The configured bare access token is refused (there is no login to renew it); `worked_before`: this
    process saw Salesforce accept it, so it expired (else it may never have been valid)."""

    def __init__(self, worked_before: bool = True) -> None:
        super().__init__(worked_before)
        self.worked_before = worked_before

    @property
    def cause(self) -> str:
        """What happened to the token, in words."""
        if self.worked_before:
            return "the access token expired"
        return "Salesforce refused the session: INVALID_SESSION_ID (the access token is expired or invalid)"

    def __str__(self) -> str:
        return f"{self.cause}: set a new one, then `sf-assets run` resumes"


@dataclass(frozen=True)
class DailyLimit:
    """One daily (rolling 24-hour) limit of the org: its /limits name and how a user should read it."""

    key: str
    label: str
    refuses_every_request: bool


TOTAL_REQUESTS = DailyLimit("DailyApiRequests", "daily API request limit (TotalRequests)", True)
BULK_QUERY_JOBS = DailyLimit("DailyBulkV2QueryJobs", "daily Bulk API 2.0 query job limit", False)
BULK_RESULT_SIZE = DailyLimit("DailyBulkV2QueryFileStorageMB", "daily Bulk API 2.0 query result size limit", False)
RESETS = "Salesforce resets it within 24 hours"  # a rolling window: neither /limits nor any header says when


class DailyLimitExceeded(RefreshStop):
    """Salesforce refused a request because a daily limit of the org is used up."""

    def __init__(self, limit: DailyLimit, detail: str = "") -> None:
        super().__init__(limit, detail)
        self.limit = limit
        self.detail = detail
        self.refuses_every_request = limit.refuses_every_request

    def __str__(self) -> str:
        said = f" ({self.detail})" if self.detail else ""
        return f"Salesforce's {self.limit.label} is reached{said}; {RESETS}"


def daily_limit_of(code: str | None, message: str | None) -> DailyLimitExceeded | None:
    """The daily limit an error names, or None (a concurrency limit or any other error)."""
    text = message or ""
    if code == "REQUEST_LIMIT_EXCEEDED" and "TotalRequests" in text:
        limit = TOTAL_REQUESTS
    elif "Max bulk v2 query jobs" in text:
        limit = BULK_QUERY_JOBS
    elif "Max bulk v2 query result size" in text:
        limit = BULK_RESULT_SIZE
    else:
        return None
    return DailyLimitExceeded(limit, f"{code}: {text}" if code else text)


def daily_limit_in(response: requests.Response) -> DailyLimitExceeded | None:
    """The daily limit a refused response names (400 and 403 only; the body of any other answer is not read)."""
    if response.status_code not in (400, 403):
        return None
    return daily_limit_of(*error_fields(response_payload(response)))
