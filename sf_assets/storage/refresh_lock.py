"""One refresh at a time per state DB: an OS-level lock (``filelock``) that dies with its process.

The lock is ``flock`` on POSIX and ``LockFileEx``-style locking on Windows, held on
``refresh.lock`` for the whole refresh: the operating system releases it when the holder exits or
is killed, so a stale lock is simply free again and exactly one waiting process gets it. The lock
file is never deleted: filelock is told to keep it (``preserve_lock_file=True``, filelock >= 3.30;
by default its Windows release deletes the file, which another process may have open, and on POSIX a
deleted lock file would let a second process lock a new inode under the same name). The same flag makes
a file system without ``flock`` an error instead of filelock's silent fall-back to a lock file that
outlives a killed holder. Who holds it (pid, host, since) is written to ``refresh.lock.holder.json``
for the error message only.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from sf_assets.storage.files import atomic_write_text


class RefreshLocked(RuntimeError):
    """Another live process holds the refresh lock."""


def _lock(path: Path, timeout: float) -> FileLock:
    """The lock on `path`, its file kept on release (filelock's Windows release deletes it unless told not to)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, timeout=timeout, thread_local=False, preserve_lock_file=True)


def _acquire(lock: FileLock, path: Path, **kwargs: Any) -> None:
    try:
        lock.acquire(**kwargs)
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise
        raise RuntimeError(f"the file system of {path.parent} has no OS file locks (flock); keep paths.state_db "
                           "on a local disk") from None


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
    lock = _lock(path, 0)
    try:
        _acquire(lock, path, blocking=False)
    except Timeout:
        return False
    lock.release()
    return True


@contextlib.contextmanager
def refresh_lock(path: Path, wait_s: float = PROBE_WAIT_S) -> Iterator[None]:
    """Hold `path` for the duration of a refresh; RefreshLocked (naming the holder) when another process has it
    for longer than `wait_s` (sensors probe the lock every few seconds)."""
    lock = _lock(path, wait_s)
    try:
        _acquire(lock, path, timeout=wait_s, poll_interval=0.02)
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
