"""OS-level file locks (``filelock``) that die with their process and keep their file.

The lock is ``flock`` on POSIX and ``LockFileEx``-style locking on Windows: the operating system
releases it when the holder exits or is killed, so a stale lock is simply free again. The file is
never deleted (``preserve_lock_file=True``, filelock >= 3.30): by default filelock's Windows release
deletes it, which another process may have open, and on POSIX a deleted lock file would let a second
process lock a new inode under the same name. The same flag makes a file system without ``flock`` an
error instead of filelock's silent fall-back to a lock file that outlives a killed holder.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

from filelock import FileLock


def os_file_lock(path: Path, timeout: float) -> FileLock:
    """The lock on `path` (its folder created), shared by every thread of this process, its file kept on release."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, timeout=timeout, thread_local=False, preserve_lock_file=True)


def acquire_os_lock(lock: FileLock, path: Path, **kwargs: Any) -> None:
    """`lock.acquire(**kwargs)` (filelock's Timeout when held elsewhere); one clear RuntimeError when the file
    system of `path` has no OS file locks."""
    try:
        lock.acquire(**kwargs)
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise
        raise RuntimeError(f"the file system of {path.parent} has no OS file locks (flock); keep paths.state_db "
                           "on a local disk") from None
