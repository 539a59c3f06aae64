"""Bulk API 2.0 query jobs: state machine, job JSON and result-page positions (locators)."""
from __future__ import annotations

import base64
import datetime as dt
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .auth import USER_ID
from .ids import ALPHABET, checksum
from .plan import QueryPlan

TERMINAL = ("JobComplete", "Failed", "Aborted")


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def encode_locator(position: int, emitted: int, size: int = 0) -> str:
    """Locator of the page at row ``position`` after ``emitted`` rows; ``size`` fixes its rows (a `resultPages`
    page), 0 leaves them to the request's maxRecords."""
    raw = f"{position}:{emitted}:{size}" if size else f"{position}:{emitted}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_locator(locator: str) -> tuple[int, int, int]:
    """(row position, rows already returned, fixed page size or 0); ValueError when malformed."""
    raw = base64.urlsafe_b64decode(locator + "=" * (-len(locator) % 4)).decode()
    parts = [int(x) for x in raw.split(":")]
    if len(parts) not in (2, 3) or min(parts) < 0:
        raise ValueError(f"malformed locator {locator}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else 0


@dataclass
class Job:
    """One query job."""

    id: str
    plan: QueryPlan
    operation: str
    api_version: str
    column_delimiter: str
    line_ending: str
    fail: bool
    extra_polls: int
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    state: str = "UploadComplete"
    polls: int = 0
    records: int = 0
    error: str | None = None
    processing_s: float | None = None  # modelled processing time (a service profile); None: done at the 2nd poll
    started: float = field(default_factory=time.monotonic)
    due_polls: int = 0  # polls made once the job could be complete

    def advance(self) -> bool:
        """One status poll; returns True when this poll was an injected extra (slow) one."""
        if self.state in TERMINAL:
            return False
        self.polls += 1
        if self.processing_s is None:
            self.due_polls += self.polls >= 2  # the first poll processes the job, the second finds it done
        else:
            self.due_polls += time.monotonic() - self.started >= self.processing_s
        if self.due_polls < 1 + self.extra_polls:
            self.state = "InProgress"
            return self.due_polls >= 1
        if self.fail:
            self.state, self.error = "Failed", "InternalServerError : the query job failed (injected fault)"
        else:
            self.plan = self.plan.pinned()  # one snapshot: the count and every page see the rows as they are now
            self.records = self.plan.count()
            self.state = "JobComplete"
            self.plan.data.live.after_job()
        return False

    def info(self, detail: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.plan.sobject.name, "createdById": USER_ID,
            "createdDate": _stamp(self.created), "systemModstamp": _stamp(self.created), "state": self.state,
            "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(self.api_version),
            "jobType": "V2Query", "lineEnding": self.line_ending, "columnDelimiter": self.column_delimiter,
        }
        if detail:
            out.update({"numberRecordsProcessed": self.records, "retries": 0,
                        "totalProcessingTime": 0 if self.state != "JobComplete" else self.processing_ms})
            if self.error:
                out["errorMessage"] = self.error
        return out

    @property
    def processing_ms(self) -> int:
        """``totalProcessingTime`` of a completed job: the modelled time, or 120 ms without a profile."""
        return 120 if self.processing_s is None else round(self.processing_s * 1000)

    def page(self, locator: str | None, max_records: int) -> tuple[np.ndarray, str]:
        """Row indexes of the page at ``locator`` and the next locator (``"null"`` on the last page); a page
        whose locator fixes its size (`resultPages`) holds that many rows whatever ``max_records`` says."""
        position, emitted, size = decode_locator(locator) if locator else (self.plan.start, 0, 0)
        wanted = min(size or max_records, self.records - emitted)
        idx, next_position = self.plan.scan(position, max(wanted, 0))
        done = emitted + len(idx) >= self.records
        return idx, "null" if done else encode_locator(next_position, emitted + len(idx), size)

    def page_locators(self, locator: str | None, max_records: int, count: int) -> tuple[list[str], str | None]:
        """Locators of up to ``count`` consecutive pages of ``max_records`` rows from ``locator`` (None: the first
        page; its own size wins), and the locator of the page after them (None when they reach the end)."""
        position, emitted, size = decode_locator(locator) if locator else (self.plan.start, 0, 0)
        size = size or max_records
        out: list[str] = []
        while len(out) < count and (emitted < self.records or not out):
            out.append(encode_locator(position, emitted, size))
            idx, position = self.plan.scan(position, max(min(size, self.records - emitted), 0))
            emitted += len(idx)
        return out, encode_locator(position, emitted, size) if emitted < self.records else None


class JobStore:
    """Jobs of the org, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._seq = itertools.count(1)
        self._failed_once: set[str] = set()

    def new_id(self) -> str:
        n = next(self._seq)
        digits = ""
        for _ in range(9):
            n, r = divmod(n, 62)
            digits = ALPHABET[r] + digits
        id15 = "7505g0" + digits
        return id15 + checksum(id15)

    def rearm_fail_once(self) -> None:
        """Let the next job of each `job_fail_once` object fail again (a new fault plan was set)."""
        with self._lock:
            self._failed_once.clear()

    def should_fail(self, obj: str, fail_once: frozenset[str]) -> bool:
        """True for the first job of an object listed in ``job_fail_once``."""
        with self._lock:
            if obj.lower() in {o.lower() for o in fail_once} and obj.lower() not in self._failed_once:
                self._failed_once.add(obj.lower())
                return True
            return False

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def delete(self, job_id: str) -> bool:
        with self._lock:
            return self._jobs.pop(job_id, None) is not None

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())
