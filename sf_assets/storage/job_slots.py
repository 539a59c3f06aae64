"""Bulk job slots shared by every process that refreshes from one state DB: one OS file lock per slot.

The UI's "Materialize all" extracts each object in a run (a process) of its own, all at once; the terminal's
refresh extracts them on threads of one process. Either way the org must never see more than
``extraction.max_concurrent_jobs`` Bulk jobs from this laptop, so a job is started only while its thread holds
one of the slot files ``bulk_job_slot_<n>.lock`` beside the state DB (``storage.os_lock``: a killed holder's
slot is free again at once, on Windows as on POSIX).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from filelock import Timeout

from sf_assets.storage.os_lock import acquire_os_lock, os_file_lock


class JobSlotFiles:
    """The slot files in `folder`: `try_take(limit)` holds one of slots 1..limit, or none when all are held."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def slot_path(self, number: int) -> Path:
        """The lock file of slot `number` (1-based)."""
        return self.folder / f"bulk_job_slot_{number}.lock"

    def try_take(self, limit: int) -> Callable[[], None] | None:
        """Hold the first free slot of 1..`limit` (never waits); its release function, or None when all are held."""
        for number in range(1, limit + 1):
            path = self.slot_path(number)
            lock = os_file_lock(path, 0)
            try:
                acquire_os_lock(lock, path, blocking=False)
            except Timeout:
                continue
            return lock.release
        return None
