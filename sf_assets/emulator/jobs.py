"""Bulk API 2.0 query jobs: state machine, job JSON and result-page positions (locators)."""
from __future__ import annotations

import base64
import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .auth import USER_ID
from .ids import ALPHABET, checksum
from .plan import QueryPlan

TERMINAL = ("JobComplete", "Failed", "Aborted")


def _stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def encode_locator(position: int, emitted: int) -> str:
    return base64.urlsafe_b64encode(f"{position}:{emitted}".encode()).decode().rstrip("=")


def decode_locator(locator: str) -> tuple[int, int]:
    """(row position, rows already returned); ValueError when malformed."""
    raw = base64.urlsafe_b64decode(locator + "=" * (-len(locator) % 4)).decode()
    position, emitted = (int(x) for x in raw.split(":"))
    return position, emitted


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

    def advance(self) -> bool:
        """One status poll; returns True when this poll was an injected extra (slow) one."""
        if self.state in TERMINAL:
            return False
        self.polls += 1
        if self.polls < 2 + self.extra_polls:
            self.state = "InProgress"
            return self.polls >= 2
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
                        "totalProcessingTime": 0 if self.state != "JobComplete" else 120})
            if self.error:
                out["errorMessage"] = self.error
        return out

    def page(self, locator: str | None, max_records: int) -> tuple[np.ndarray, str]:
        """Row indexes of the page at ``locator`` and the next locator (``"null"`` on the last page)."""
        position, emitted = decode_locator(locator) if locator else (self.plan.start, 0)
        wanted = min(max_records, self.records - emitted)
        idx, next_position = self.plan.scan(position, max(wanted, 0))
        done = emitted + len(idx) >= self.records
        return idx, "null" if done else encode_locator(next_position, emitted + len(idx))


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
