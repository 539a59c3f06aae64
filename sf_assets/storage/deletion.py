"""Delete a file or folder when it is free; when another program holds it open, record it and delete it later.

On Windows a file open in another program (a virus scanner, Explorer's preview pane, Power BI Desktop)
cannot be deleted or renamed (WinError 32), and neither can a folder holding it. ``delete_when_free``
deletes what it can, and when something stays it logs one warning and records the path in the pending
list of the configuration whose folders hold it (``<work_dir>/pending_deletes.json``);
``retry_pending_deletes`` (at preflight and after every successful refresh) deletes what has been freed
since. A recorded path written again since (another size or modification time) belongs to its new
writer: it is dropped from the list, never deleted. Nothing here raises an ``OSError``, so cleanup
never fails a step.

The folders of a configuration (work, output, share, state, logs) are registered once per process by
``track_deletes`` (the Dagster resource that loads the configuration, and ``retry_pending_deletes``):
deletes deep in the storage code know only their path, and each path is recorded in the list of the
configuration that owns it. A path under no registered folder is logged and not recorded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from sf_assets.config.models import PathsConfig

log = logging.getLogger(__name__)

PENDING_LIST = "pending_deletes.json"
_LOCK_WAIT_S = 10.0
_roots: dict[Path, Path] = {}  # a folder a configuration owns -> that configuration's pending list
_roots_guard = threading.Lock()


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def track_deletes(paths: PathsConfig) -> Path:
    """Record held paths under the folders of `paths` in `<work_dir>/pending_deletes.json`; returns that list."""
    pending = _absolute(paths.work_dir) / PENDING_LIST
    folders = [paths.work_dir, paths.output_dir, paths.log_dir, paths.state_db.parent, paths.staging_db.parent,
               *([paths.share_dir] if paths.share_dir is not None else [])]
    with _roots_guard:
        _roots.update({_absolute(folder): pending for folder in folders})
    return pending


def _pending_list_of(path: Path) -> Path | None:
    """The pending list of the deepest registered folder holding `path`."""
    path = _absolute(path)
    with _roots_guard:
        owners = [root for root in _roots if path.is_relative_to(root)]
        return _roots[max(owners, key=lambda root: len(root.parts))] if owners else None


def _remove(path: Path) -> OSError | None:
    """Delete `path` (a folder with everything in it that is free); the first error when something stays."""
    try:
        if path.is_dir() and not path.is_symlink():
            errors: list[BaseException] = []

            def note(_function: Any, _path: Any, error: Any) -> None:
                errors.append(error if isinstance(error, BaseException) else error[1])

            if sys.version_info >= (3, 12):  # shutil.rmtree's keyword changed
                shutil.rmtree(path, onexc=note)
            else:
                shutil.rmtree(path, onerror=note)
            if not path.exists():
                return None
            first = next((e for e in errors if isinstance(e, OSError) and not isinstance(e, FileNotFoundError)), None)
            return first or OSError(f"{path} is still there")
        path.unlink()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc
    return None


def _stamp(path: Path) -> list[int] | None:
    """What tells a recorded path from one written again since: mtime and size (a folder: mtime); None if gone."""
    try:
        stat = path.lstat()
    except OSError:
        return None
    return [stat.st_mtime_ns, 0 if path.is_dir() else stat.st_size]


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def delete_when_free(path: Path) -> bool:
    """Delete the file or folder `path` now; True when it is gone (or never was).

    When something stays (on Windows: open in another program), logs one warning, records `path` for
    `retry_pending_deletes` and returns False. Never raises an OSError.
    """
    error = _remove(path)
    if error is None:
        return True
    pending = _pending_list_of(path)
    later = "a later refresh deletes it" if pending is not None else "it stays"
    log.warning("Could not delete %s (%s): another program may have it open; %s", path, _reason(error), later)
    if pending is not None:
        try:
            with _locked(pending):
                entries = _read(pending)
                entries[str(_absolute(path))] = {"stamp": _stamp(path),
                                                 "since": datetime.now(UTC).isoformat(timespec="seconds")}
                _write(pending, entries)
        except (OSError, Timeout) as exc:
            log.warning("Could not record %s in %s: %s", path, pending, exc)
    return False


def retry_pending_deletes(paths: PathsConfig) -> list[Path]:
    """Delete the recorded paths of this configuration that are free now; returns those deleted. Never raises."""
    pending = track_deletes(paths)
    deleted: list[Path] = []
    try:
        with _locked(pending):
            entries = _read(pending)
            kept: dict[str, Any] = {}
            for name, entry in entries.items():
                path = Path(name)
                stamp = _stamp(path)
                if stamp is None:
                    continue
                if stamp != entry.get("stamp"):
                    log.info("%s was written again since its delete was put off: left to its new writer", path)
                    continue
                if _remove(path) is None:
                    log.info("Deleted %s, left by an earlier refresh while another program had it open", path)
                    deleted.append(path)
                else:
                    kept[name] = {**entry, "stamp": _stamp(path)}
            if kept != entries:
                _write(pending, kept)
    except (OSError, Timeout) as exc:
        log.warning("Could not retry the deletes recorded in %s: %s", pending, exc)
        return deleted
    if kept:
        log.warning("%d file(s) or folder(s) are still open in another program; a later refresh deletes them (%s)",
                    len(kept), pending)
    return deleted


@contextmanager
def _locked(pending: Path) -> Iterator[None]:
    """Hold the pending list's lock (processes and threads record at the same time)."""
    pending.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(pending.with_name(pending.name + ".lock"), timeout=_LOCK_WAIT_S, thread_local=False):
        yield


def _read(pending: Path) -> dict[str, Any]:
    try:
        entries = json.loads(pending.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        log.warning("The pending deletes list %s is unreadable: starting it over", pending)
        return {}
    return entries if isinstance(entries, dict) else {}


def _write(pending: Path, entries: dict[str, Any]) -> None:
    """Replace the list atomically (its own temp file: the atomic writes of ``files`` delete through here)."""
    tmp = pending.with_name(f".{pending.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(entries, indent=2), encoding="utf-8")
        os.replace(tmp, pending)
    finally:
        if tmp.exists():
            _remove(tmp)
