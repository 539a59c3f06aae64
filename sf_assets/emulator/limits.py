"""The org's daily (rolling 24-hour) limits: API requests, Bulk API 2.0 query jobs and their stored result size.

What Salesforce answers when one is used up, and the texts of the transient concurrency limits, are
documented with their sources in docs/EMULATOR.md ("Limits and sessions").
"""
from __future__ import annotations

import threading
from typing import Any

from .faults import FaultPlan

TOTAL_REQUESTS = "TotalRequests Limit exceeded."
CONCURRENCY = ("ConcurrentPerOrgLongTxn Limit exceeded.",
               "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")
BULK_RESULT_KB_MAX = 1_000_000_000  # the stored result size the refusal names, in KB
BULK_RESULT_MB_MAX = 976_562  # the same as /limits shows it (DailyBulkV2QueryFileStorageMB)


class DailyLimits:
    """Usage of the day's API requests and Bulk query jobs; the ``*_after`` faults use up a limit mid-run."""

    def __init__(self, api_max: int, bulk_jobs_max: int) -> None:
        self.api_max = api_max
        self.bulk_jobs_max = bulk_jobs_max
        self._lock = threading.Lock()
        self._faults = FaultPlan()
        self._api_base = self._api_served = self._jobs = 0
        self._result_full = False
        self._requests_since_faults = self._jobs_since_faults = 0

    def set_faults(self, faults: FaultPlan) -> None:
        """Count the ``*_after`` faults of `faults` from now."""
        with self._lock:
            self._faults = faults
            self._requests_since_faults = self._jobs_since_faults = 0

    def set_api_used_pct(self, pct: float) -> None:
        """API requests used so far today, as a percentage of the maximum."""
        with self._lock:
            self._api_base, self._api_served = int(self.api_max * pct / 100), 0

    def new_day(self) -> None:
        """24 hours later: nothing of any daily limit is used."""
        with self._lock:
            self._api_base = self._api_served = self._jobs = 0
            self._result_full = False

    def count_request(self, counts: bool = True) -> int:
        """Count one API request (unless not `counts`); returns its sequence number (``daily_limit_after``: the
        day's requests run out)."""
        with self._lock:
            if not counts:
                return self._api_served
            self._api_served += 1
            self._requests_since_faults += 1
            if self._faults.daily_limit_after and self._requests_since_faults == self._faults.daily_limit_after + 1:
                self._api_base = self.api_max  # other clients of the org used up the rest of the day's requests
            return self._api_served

    def api_used(self) -> int:
        """API requests used in the last 24 hours (at most the maximum)."""
        with self._lock:
            return min(self._api_base + self._api_served, self.api_max)

    def api_exhausted(self) -> bool:
        """True once the day's API requests are used up: every request is refused."""
        return self.api_used() >= self.api_max

    def take_bulk_job(self) -> tuple[str, str] | None:
        """Count one query job to be created; (counter key, refusal message) when a daily Bulk limit refuses it."""
        with self._lock:
            self._jobs_since_faults += 1
            if self._faults.bulk_job_cap_after and self._jobs_since_faults == self._faults.bulk_job_cap_after + 1:
                self._jobs = self.bulk_jobs_max
            if self._faults.bulk_result_cap_after and self._jobs_since_faults == self._faults.bulk_result_cap_after + 1:
                self._result_full = True
            self._jobs += 1
            if self._jobs > self.bulk_jobs_max:
                return "bulk_job_cap", (f"Max bulk v2 query jobs ({self.bulk_jobs_max}) per 24 hrs has been reached "
                                        f"({self._jobs})")
            if self._result_full:
                return "bulk_result_cap", (f"Max bulk v2 query result size stored ({BULK_RESULT_KB_MAX}) kb per 24 hrs "
                                           "has been exceeded")
            return None

    def limit_info(self) -> str:
        """The ``Sforce-Limit-Info`` header value."""
        return f"api-usage={self.api_used()}/{self.api_max}"

    def limits(self) -> dict[str, Any]:
        """The daily entries of ``/limits``."""
        with self._lock:
            jobs_left = max(0, self.bulk_jobs_max - self._jobs)
            result_left = 0 if self._result_full else BULK_RESULT_MB_MAX
        return {
            "DailyApiRequests": {"Max": self.api_max, "Remaining": self.api_max - self.api_used()},
            "DailyBulkV2QueryJobs": {"Max": self.bulk_jobs_max, "Remaining": jobs_left},
            "DailyBulkV2QueryFileStorageMB": {"Max": BULK_RESULT_MB_MAX, "Remaining": result_left},
        }
