"""One refresh at a time per state DB: an exclusive lock file that survives crashes (stale locks are taken over)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import psutil


class RefreshLocked(RuntimeError):
    """Another live process holds the refresh lock."""


def _holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot check another machine's process: assume it runs
    try:
        process = psutil.Process(int(holder["pid"]))
        return process.create_time() <= float(holder.get("process_started", process.create_time())) + 1
    except (psutil.Error, KeyError, ValueError):
        return False


@contextlib.contextmanager
def refresh_lock(path: Path) -> Iterator[None]:
    """Hold `path` for the duration of a refresh; RefreshLocked names the holder when it is alive."""
    path.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "process_started": psutil.Process().create_time(),
          "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None and _alive(holder):
                raise RefreshLocked(
                    f"another refresh is running (pid {holder.get('pid')} on {holder.get('host')} since "
                    f"{holder.get('since')}); lock file {path}") from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(me, handle)
        break
    else:
        raise RefreshLocked(f"could not take the refresh lock {path}")
    try:
        yield
    finally:
        if (_holder(path) or {}).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)
