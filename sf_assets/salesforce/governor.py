"""API-usage governor: daily request budget from `Sforce-Limit-Info`, throttling and the Bulk job slots.

States follow the latest usage seen (usage only grows within Salesforce's rolling 24 hours):
``normal`` below ``warn_pct``; ``throttled`` at or above it (one job at a time, slower polls);
``halted`` at or above ``halt_pct``, which is sticky: every later `check()` raises
`ApiBudgetExceeded`, so extraction stops at its next check, aborts its open job and records why.
`stop()` halts at once on a `RefreshStop` (a daily limit, an expired access token): every later check
raises that error again. `cancel()` does the same with `ExtractionCancelled` when the run is interrupted;
every wait of the Bulk client (`pause`) is cut short by both.

The job slots are this process's (`max_concurrent_jobs` threads at once) and, when `shared_slots` is given,
also the machine's: a job starts only while its thread holds one of the slots every process of this install
shares (`storage.job_slots`), so Bulk jobs stay within the limit when several runs extract at once.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal, Protocol

from sf_assets.config.models import ApiUsageConfig
from sf_assets.salesforce.api_usage import ApiUsage, usage_from_header
from sf_assets.salesforce.errors import RefreshStop

log = logging.getLogger(__name__)
GovernorState = Literal["normal", "throttled", "halted"]
THROTTLED_POLL_FACTOR = 4.0
_SLOT_WAIT_S = 0.5
_SHARED_SLOT_WAIT_S = 0.2


class SharedJobSlots(Protocol):
    """Job slots shared with other processes (`storage.job_slots.JobSlotFiles`)."""

    def try_take(self, limit: int) -> Callable[[], None] | None:
        """Hold one of slots 1..`limit`: its release function, or None when all are held."""
        ...


class ApiBudgetExceeded(RuntimeError):
    """API usage reached the halt threshold: no new request may start."""


class ExtractionCancelled(RuntimeError):
    """Extraction was interrupted (Ctrl+C, run termination): worker threads stop at their next check."""


class ApiGovernor:
    """Thread-safe API budget keeper and job semaphore (`max_concurrent_jobs`, 1 when throttled)."""

    def __init__(self, policy: ApiUsageConfig, max_concurrent_jobs: int = 1, throttled: bool = False,
                 shared_slots: SharedJobSlots | None = None) -> None:
        self.policy = policy
        self._shared_slots = shared_slots
        self.max_concurrent_jobs = max_concurrent_jobs
        self._forced_throttle = throttled
        self._usage: ApiUsage | None = None
        self._halted_by: ApiUsage | None = None
        self._stopped_by: RefreshStop | None = None
        self._cancelled: str | None = None
        self._active_jobs = 0
        self._cond = threading.Condition()

    @property
    def usage(self) -> ApiUsage | None:
        """The latest usage seen, with when it was seen (None before the first response)."""
        with self._cond:
            return self._usage

    @property
    def state(self) -> GovernorState:
        """normal, throttled or halted."""
        with self._cond:
            return self._state()

    def _state(self) -> GovernorState:
        if self._halted_by is not None or self._stopped_by is not None:
            return "halted"
        if self._forced_throttle or (self._usage is not None and self._usage.pct >= self.policy.warn_pct):
            return "throttled"
        return "normal"

    def observe_header(self, value: str | None) -> None:
        """Feed one response's `Sforce-Limit-Info` header (ignored when absent or unparsable)."""
        usage = usage_from_header(value)
        if usage is not None:
            self.observe(usage)

    def observe(self, usage: ApiUsage) -> None:
        """Record the latest usage and move between states (logged once per change)."""
        with self._cond:
            before = self._state()
            self._usage = usage if usage.at else dataclasses.replace(usage, at=datetime.now(UTC))
            if usage.pct >= self.policy.halt_pct and self._halted_by is None:
                self._halted_by = usage
            after = self._state()
            self._cond.notify_all()
        if after != before:
            if after == "halted":
                log.error("%s reached the halt threshold of %g %%: stopping extraction",
                          usage.describe(), self.policy.halt_pct)
            elif after == "throttled":
                log.warning("%s is at or above %g %%: throttling (one Bulk job at a time, slower polls)",
                            usage.describe(), self.policy.warn_pct)

    def check(self) -> None:
        """Raise ApiBudgetExceeded once usage reached the halt threshold (ExtractionCancelled once cancelled,
        the stopping error once stopped)."""
        with self._cond:
            self._check_locked()

    def cancel(self, reason: str) -> None:
        """Make every later check (and every pause) raise ExtractionCancelled."""
        with self._cond:
            self._cancelled = reason
            self._cond.notify_all()

    def stop(self, cause: RefreshStop) -> None:
        """Halt at once: every later check (and every pause) raises `cause` again (logged once)."""
        with self._cond:
            first = self._stopped_by is None
            if first:
                self._stopped_by = cause
            self._cond.notify_all()
        if first:
            log.error("Stopping extraction at once (no retry, no new request): %s", cause)

    def pause(self, seconds: float) -> None:
        """Sleep up to `seconds`, cut short by cancellation or a stop; then `check()`."""
        with self._cond:
            self._cond.wait_for(lambda: self._cancelled is not None or self._stopped_by is not None, timeout=seconds)
            self._check_locked()

    def poll_delay(self, delay_s: float) -> float:
        """The wait between job polls: longer while throttled."""
        return delay_s * THROTTLED_POLL_FACTOR if self.state == "throttled" else delay_s

    def job_limit(self) -> int:
        """Bulk jobs allowed at once right now."""
        with self._cond:
            return self._limit()

    def _limit(self) -> int:
        return 1 if self._state() == "throttled" else self.max_concurrent_jobs

    @contextmanager
    def job_slot(self) -> Iterator[None]:
        """Hold one of the Bulk job slots for the block (waits for a free one; checks the budget)."""
        with self._cond:
            while True:
                self._check_locked()
                if self._active_jobs < self._limit():
                    break
                self._cond.wait(_SLOT_WAIT_S)
            self._active_jobs += 1
        try:
            release = self._take_shared_slot()
            try:
                yield
            finally:
                release()
        finally:
            with self._cond:
                self._active_jobs -= 1
                self._cond.notify_all()

    def _take_shared_slot(self) -> Callable[[], None]:
        """Wait for one of the machine's slots (cut short like `pause`); its release function."""
        if self._shared_slots is None:
            return lambda: None
        waited = False
        while (release := self._shared_slots.try_take(self.job_limit())) is None:
            if not waited:
                log.info("Waiting for a Bulk job slot: other runs of this install have %d Bulk job(s) open "
                         "(extraction.max_concurrent_jobs)", self.job_limit())
                waited = True
            self.pause(_SHARED_SLOT_WAIT_S)
        return release

    def _check_locked(self) -> None:
        if self._cancelled is not None:
            raise ExtractionCancelled(self._cancelled)
        if self._stopped_by is not None:
            raise copy.copy(self._stopped_by)  # a fresh exception per raising thread
        if self._halted_by is not None:
            raise ApiBudgetExceeded(
                f"API usage {self._halted_by.describe()} reached the halt threshold of {self.policy.halt_pct:g} %"
            )
