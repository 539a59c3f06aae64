"""One refresh at a time per state DB: an OS-level lock (``filelock``) that dies with its process.

The lock (``storage.os_lock``: released by the OS when its holder exits or is killed, its file kept) is
held on ``refresh.lock`` for the whole refresh, so a stale lock is simply free again and exactly one
waiting process gets it. Who holds it (pid, host, since) is written to ``refresh.lock.holder.json``
for the error message only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import Timeout

from sf_assets.storage.files import atomic_write_text
from sf_assets.storage.os_lock import acquire_os_lock, os_file_lock


class RefreshLocked(RuntimeError):
    """Another live process holds the refresh lock."""


def holder_path(path: Path) -> Path:
    """The JSON file naming the current holder of the lock at `path`."""
    return path.with_name(path.name + ".holder.json")


def _holder(path: Path) -> dict[str, Any]:
    try:
        holder: dict[str, Any] = json.loads(holder_path(path).read_text(encoding="utf-8"))
        return holder
    except (OSError, ValueError):
        return {}


PROBE_WAIT_S = 0.5  # a `lock_is_free` probe holds the lock for milliseconds: never mistake it for a refresh


def lock_is_free(path: Path) -> bool:
    """True when nobody holds the refresh lock (a probe: the lock is taken and released at once, no holder written)."""
    lock = os_file_lock(path, 0)
    try:
        acquire_os_lock(lock, path, blocking=False)
    except Timeout:
        return False
    lock.release()
    return True


@contextlib.contextmanager
def refresh_lock(path: Path, wait_s: float = PROBE_WAIT_S) -> Iterator[None]:
    """Hold `path` for the duration of a refresh; RefreshLocked (naming the holder) when another process has it
    for longer than `wait_s` (sensors probe the lock every few seconds)."""
    lock = os_file_lock(path, wait_s)
    try:
        acquire_os_lock(lock, path, timeout=wait_s, poll_interval=0.02)
    except Timeout:
        holder = _holder(path)
        raise RefreshLocked(
            f"another refresh is running (pid {holder.get('pid', '?')} on {holder.get('host', '?')} since "
            f"{holder.get('since', '?')}); lock file {path}") from None
    try:
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": datetime.now(UTC).isoformat(timespec="seconds")}
        atomic_write_text(holder_path(path), json.dumps(me))
        yield
    finally:
        lock.release()
