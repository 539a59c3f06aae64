"""Low-level Bulk API 2.0 query client over the connection's pooled session.

simple-salesforce's bulk2 hides job ids and locators; resumable extraction needs both, so this
client speaks the REST endpoints itself: create (query | queryAll), get, poll, abort, delete and
ONE results page per call, streamed and gzip-decoded on the fly. Salesforce error arrays
(``[{errorCode, message}]``) become typed exceptions: `BulkPermanentError` (INVALID_FIELD,
MALFORMED_QUERY, INVALIDJOBSTATE, API_DISABLED_FOR_ORG, ...), `BulkTransientError` (5xx, 429, the
concurrency limits; requests' connection errors and timeouts are transient too) and `BulkSessionExpired`
(401 although the HTTP session logged in again once). A daily limit or an expired bare access token
(`RefreshStop`) stops the `ApiGovernor` at once: nothing is retried and no later request starts. Every
response's ``Sforce-Limit-Info`` header feeds the governor.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from sf_assets.config.models import ExtractionConfig, RetryConfig
from sf_assets.observability.redaction import redact
from sf_assets.salesforce.connection import SalesforceConnection
from sf_assets.salesforce.errors import RefreshStop, error_fields, response_payload
from sf_assets.salesforce.governor import ApiGovernor
from sf_assets.salesforce.retry import PERMANENT_CODES, TransientError, call_with_retry, describe_cause, is_transient

log = logging.getLogger(__name__)
BULK_RETRY_MESSAGE = "Retrying {what}. Attempt {attempt} of {attempts} ({cause})"
T = TypeVar("T")
TERMINAL_STATES = frozenset({"JobComplete", "Failed", "Aborted"})
_INVALID_QUERY = re.compile(r"INVALID_FIELD|MALFORMED_QUERY|INVALID_TYPE|No such column|Didn't understand relationship")
_READ_BLOCK = 1 << 20


class BulkError(Exception):
    """A Bulk API failure; `status` and `content` (the error array) feed `describe_cause`."""

    def __init__(self, message: str, *, status: int | None = None, content: Any = None) -> None:
        super().__init__(redact(message))
        self.status = status
        self.content = content


class BulkPermanentError(BulkError):
    """Retrying cannot help: invalid query or field, API disabled, wrong job state, timeout."""


class BulkJobNotFound(BulkPermanentError):
    """The job does not exist (deleted, or older than Salesforce keeps jobs)."""


class BulkSessionExpired(BulkError):
    """401 INVALID_SESSION_ID, still failing after logging in again (`http.SESSION_RENEWALS` times)."""


class BulkTransientError(BulkError, TransientError):
    """Worth retrying: 5xx, 429, a concurrency limit, a body cut off mid-stream."""


class BulkJobFailed(BulkTransientError):
    """The job ended Failed or Aborted for a reason a new job may not have."""


@dataclass(frozen=True)
class JobInfo:
    """The fields of a query job that extraction uses."""

    id: str
    state: str
    api_version: str
    operation: str = "query"
    object: str | None = None
    records_processed: int | None = None
    error_message: str | None = None

    @property
    def terminal(self) -> bool:
        """JobComplete, Failed or Aborted."""
        return self.state in TERMINAL_STATES

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobInfo:
        """JobInfo from a job response (apiVersion may be a number: 62.0)."""
        processed = data.get("numberRecordsProcessed")
        return cls(
            id=str(data["id"]),
            state=str(data["state"]),
            api_version=f"{float(data['apiVersion']):.1f}",
            operation=str(data.get("operation", "query")),
            object=data.get("object"),
            records_processed=None if processed is None else int(processed),
            error_message=data.get("errorMessage") or None,
        )


def error_from_response(response: requests.Response) -> BulkError:
    """The typed exception of a failed response (body read; tokens redacted)."""
    payload = response_payload(response)
    code, message = error_fields(payload)
    message = message or response.text[:300]
    text = f"HTTP {response.status_code}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if response.status_code == 401:
        cls: type[BulkError] = BulkSessionExpired
    elif code in PERMANENT_CODES:  # whatever the status: retrying cannot fix the query or a field
        cls = BulkPermanentError
    elif is_transient(requests.HTTPError(response=response)):
        cls = BulkTransientError
    elif response.status_code == 404:
        cls = BulkJobNotFound
    else:
        cls = BulkPermanentError
    return cls(text, status=response.status_code, content=payload)


def job_failure(info: JobInfo) -> BulkError:
    """The error of a Failed/Aborted job: permanent when its message names an invalid query or field."""
    message = f"Bulk job {info.id} ended {info.state}: {info.error_message or 'no error message'}"
    return (BulkPermanentError if _INVALID_QUERY.search(info.error_message or "") else BulkJobFailed)(message)


def retry_call(fn: Callable[[], T], what: str, policy: RetryConfig,
               retry_on: Callable[[BaseException], bool] = is_transient,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """`call_with_retry` with the Bulk log format: 'Retrying <what>. Attempt 2 of 3 (HTTP 503)'."""
    return call_with_retry(fn, what, policy, sleep, retry_on=retry_on, message=BULK_RETRY_MESSAGE)


class ResultsPage:
    """One streamed results page: `records` (Sforce-NumberOfRecords), `next_locator` (None on the last
    page) and `read()` of the gzip-decoded CSV body; a connection lost mid-body raises BulkTransientError."""

    def __init__(self, response: requests.Response) -> None:
        self._response = response
        locator = response.headers.get("Sforce-Locator")
        self.next_locator: str | None = None if locator in (None, "", "null") else locator
        count = response.headers.get("Sforce-NumberOfRecords")
        if count is None or not count.strip().isdigit():
            response.close()
            raise BulkTransientError(f"results page without a valid Sforce-NumberOfRecords header ({count!r})")
        self.records = int(count)

    def read(self, size: int = -1) -> bytes:
        """Up to `size` decoded bytes (all the rest when negative); b'' at the end."""
        try:
            if size is None or size < 0:
                return b"".join(iter(lambda: self.read(_READ_BLOCK), b""))
            return self._response.raw.read(size, decode_content=True) or b""
        except (Urllib3Error, requests.RequestException, OSError) as exc:
            raise BulkTransientError(f"results page body interrupted: {type(exc).__name__}") from exc

    def close(self) -> None:
        """Release the connection."""
        self._response.close()

    def __enter__(self) -> ResultsPage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BulkClient:
    """Bulk API 2.0 query calls for one connection; thread-safe. `requests_sent` counts API requests."""

    def __init__(self, connection: SalesforceConnection, governor: ApiGovernor,
                 retry: RetryConfig | None = None, extraction: ExtractionConfig | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.connection = connection
        self.governor = governor
        self.retry = retry or RetryConfig()
        self.extraction = extraction or ExtractionConfig()
        self.sleep = sleep or governor.pause  # every wait is cut short by cancellation
        self.requests_sent = 0
        self._lock = threading.Lock()
        connection.limit_requests(self.extraction.max_concurrent_requests)

    @property
    def download_width(self) -> int:
        """Results pages that may download at once (`extraction.max_concurrent_requests` less the short requests')."""
        return self.connection.http.budget.download_width

    def _url(self, api_version: str, *parts: str) -> str:
        return "/".join([f"{self.connection.instance_url}/services/data/v{api_version}/jobs/query", *parts])

    def _send(self, method: str, url: str, *, stream: bool = False, **kwargs: Any) -> requests.Response:
        """One request (after a 401 the HTTP session logs in again and resends it once). Raises BulkError
        subclasses, and `RefreshStop` after stopping the governor."""
        headers = {**self.connection.auth_headers(), **kwargs.pop("headers", {})}
        with self._lock:
            self.requests_sent += 1
        try:
            response = self.connection.http.request(method, url, headers=headers, stream=stream, **kwargs)
        except RefreshStop as stop:
            self.governor.stop(stop)
            raise
        self.governor.observe_header(response.headers.get("Sforce-Limit-Info"))
        if response.ok:
            return response
        error = error_from_response(response)
        response.close()
        raise error

    def _json(self, method: str, url: str, label: str, **kwargs: Any) -> dict[str, Any]:
        def once() -> dict[str, Any]:
            response = self._send(method, url, **kwargs)
            return response.json() if response.content else {}

        return retry_call(once, label, self.retry, sleep=self.sleep)

    def create_query_job(self, soql: str, *, query_all: bool = False, label: str = "Bulk API query") -> JobInfo:
        """Create a query (or queryAll) job; its `api_version` is the one to fetch results with.

        A POST retried after a lost response can leave an orphan job (Salesforce deletes it in 7 days).
        """
        self.governor.check()
        body = {"operation": "queryAll" if query_all else "query", "query": soql,
                "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}
        info = JobInfo.from_json(self._json("POST", self._url(self.connection.api_version), label, json=body))
        log.info("Created Bulk %s job %s (API %s)", info.operation, info.id, info.api_version)
        return info

    def get_job(self, job_id: str, api_version: str, *, label: str = "Bulk API query") -> JobInfo:
        """The job's current info (BulkJobNotFound when it no longer exists)."""
        return JobInfo.from_json(self._json("GET", self._url(api_version, job_id), label))

    def abort_job(self, job_id: str, api_version: str, *, label: str = "Bulk API query") -> JobInfo:
        """PATCH state=Aborted (only UploadComplete/InProgress jobs can be aborted)."""
        info = JobInfo.from_json(self._json("PATCH", self._url(api_version, job_id), label, json={"state": "Aborted"}))
        log.warning("Aborted Bulk job %s", job_id)
        return info

    def get_json(self, path: str, label: str, **params: Any) -> dict[str, Any]:
        """GET `path` (from /services/...) as JSON, retried when transient."""
        return self._json("GET", self.connection.instance_url + path, label, params=params)

    def results_page(self, job_id: str, api_version: str, locator: str | None, max_records: int) -> ResultsPage:
        """Open ONE results page (not retried here: the caller retries the whole page, body included)."""
        params: dict[str, Any] = {"maxRecords": max_records}
        if locator:
            params["locator"] = locator
        return self._open_page(self._url(api_version, job_id, "results"), params)

    def results_page_at(self, path: str) -> ResultsPage:
        """Open the results page a `resultPages` URL names (a path from /services/...; not retried here)."""
        return self._open_page(self.connection.instance_url + path, {})

    def _open_page(self, url: str, params: dict[str, Any]) -> ResultsPage:
        self.governor.check()
        response = self._send("GET", url, stream=True, params=params,
                              headers={"Accept": "text/csv", "Accept-Encoding": "gzip"})
        return ResultsPage(response)


class QueryJob:
    """An open query job: its latest `info` and the calls that need its id and API version."""

    def __init__(self, client: BulkClient, info: JobInfo, label: str) -> None:
        self.client = client
        self.info = info
        self.label = label

    def wait(self) -> JobInfo:
        """Poll until JobComplete, fast at first and backing off with the job's time: each wait is
        `poll_fraction` of the time waited so far, within poll_initial_s..poll_max_s (longer when throttled).

        Raises BulkJobFailed (Failed/Aborted), BulkPermanentError (failed on an invalid query or
        field, or not done within job_timeout_minutes) and ApiBudgetExceeded from the governor.
        """
        client, cfg = self.client, self.client.extraction
        started = time.monotonic()
        deadline = started + cfg.job_timeout_minutes * 60
        while True:
            client.governor.check()
            self.info = info = client.get_job(self.info.id, self.info.api_version, label=self.label)
            if info.state == "JobComplete":
                return info
            if info.state in ("Failed", "Aborted"):
                raise job_failure(info)
            if time.monotonic() >= deadline:
                raise BulkPermanentError(f"Bulk job {info.id} not complete after {cfg.job_timeout_minutes:g} minutes")
            waited = time.monotonic() - started
            client.sleep(client.governor.poll_delay(min(max(cfg.poll_initial_s, cfg.poll_fraction * waited),
                                                        cfg.poll_max_s)))

    def results_page(self, locator: str | None, max_records: int) -> ResultsPage:
        """Open one results page of this job, with the job's own API version."""
        return self.client.results_page(self.info.id, self.info.api_version, locator, max_records)


@contextmanager
def open_query_job(client: BulkClient, soql: str, *, query_all: bool = False, resume: JobInfo | None = None,
                   label: str = "Bulk API query") -> Iterator[QueryJob]:
    """Create a query job (or adopt `resume`) for the block; abort it if the block raises anything,
    KeyboardInterrupt and cancellation included, unless the job is already terminal (Salesforce only
    aborts UploadComplete/InProgress jobs, and a JobComplete job's pages stay fetchable for resume). After a
    `RefreshStop` that refuses every request (the daily API limit) the job is left to finish by itself."""
    job = QueryJob(client, resume or client.create_query_job(soql, query_all=query_all, label=label), label)
    try:
        yield job
    except BaseException as error:
        if isinstance(error, RefreshStop) and error.refuses_every_request and not job.info.terminal:
            log.info("Bulk job %s is left to finish by itself: Salesforce refuses every request now", job.info.id)
        elif not job.info.terminal:
            try:
                client.abort_job(job.info.id, job.info.api_version, label=f"abort of {label}")
            except Exception as exc:  # the original error matters more
                log.error("Could not abort Bulk job %s: %s", job.info.id, describe_cause(exc))
        raise
