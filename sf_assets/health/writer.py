"""The one writer of `health_check_<refresh_id>.json`: merged under a cross-process lock, written atomically.

Several processes write the same file (the output step, `sf-assets run` on a failure, the failure
sensor, the publish run). Each write takes the lock `.health_check.lock` in the output folder (a file
of its own: on Windows the JSON itself cannot be replaced while a lock holds it open), reads the
file, merges what the writer renders into it with `merge_health`, and replaces it atomically. A
failure is logged, never raised: the health JSON must never fail the refresh it reports on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from sf_assets.observability.redaction import redact
from sf_assets.publish.naming import safe_component
from sf_assets.storage.files import atomic_write_text

log = logging.getLogger(__name__)
ATTEMPTS = 3
LOCK_NAME = ".health_check.lock"
LOCK_TIMEOUT_S = 120.0  # a writer holds the lock for milliseconds; a dead holder's lock is freed by the OS
ACCUMULATED = ("run_ids",)  # lists that every writer adds to


def health_report_path(output_dir: Path, refresh_id: str) -> Path:
    """`<output_dir>/health_check_<refresh_id>.json` (the id made filesystem-safe)."""
    return Path(output_dir) / f"health_check_{safe_component(refresh_id)}.json"


def health_lock_path(output_dir: Path) -> Path:
    """The lock file every health-JSON writer of `output_dir` holds while it reads, merges and replaces a report."""
    return Path(output_dir) / LOCK_NAME


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, tuple, dict)) and not value)


def merge_health(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The one merge rule of the health JSON: a writer never erases what another recorded.

    Every key of `old` stays unless `new` has a non-empty value for it (None, "", [] and {} mean "nothing
    to say"); the lists named in `ACCUMULATED` (run ids) are unions, oldest first.
    """
    merged = dict(old)
    for key, value in new.items():
        if key in ACCUMULATED:
            merged[key] = list(dict.fromkeys([*(old.get(key) or []), *(value or [])]))
        elif not _empty(value) or key not in old:
            merged[key] = value
    return merged


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_health(output_dir: Path, refresh_id: str, render: Callable[[], Mapping[str, Any]], *,
                 sleep: Callable[[float], None] = time.sleep, lock_timeout_s: float = LOCK_TIMEOUT_S) -> Path | None:
    """Merge `render()` into the refresh's health JSON under the writers' lock; its path, or None if that failed.

    `render` runs while the lock is held, so it sees every fact a previous writer recorded. The file is
    replaced atomically (temp file + rename, 3 attempts); nothing is raised.
    """
    path = health_report_path(output_dir, refresh_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(health_lock_path(output_dir), timeout=lock_timeout_s, thread_local=False):
            data = merge_health(_read(path), render())
            text = json.dumps(data, indent=2, ensure_ascii=False)
            retrying = Retrying(stop=stop_after_attempt(ATTEMPTS), wait=wait_exponential(multiplier=0.5, max=5),
                                retry=retry_if_exception_type(OSError), sleep=sleep, reraise=True)
            retrying(atomic_write_text, path, text)
    except Exception as exc:  # the health report must never fail the run it reports on
        cause = " ".join(redact(f"{type(exc).__name__}: {exc}").split())[:300]
        log.error("Could not write the health report of refresh %s to %s: %s", refresh_id, output_dir, cause)
        return None
    log.info("Wrote health report %s (status %s)", path, data.get("status"))
    return path
