"""Retention on the share: keep the newest N published copies of a stem, never touch other names."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from sf_assets.publish.naming import find_published, ready_path

log = logging.getLogger(__name__)

STALE_TMP_S = 24 * 3600.0


def discard(path: Path) -> bool:
    """Remove a file or folder if present; log (never raise) on failure. True when it is gone."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except (FileNotFoundError, NotADirectoryError):  # never existed, or its folder is gone
        return True
    except OSError as exc:
        log.warning("Could not remove %s: %s", path, exc)
        return False


def prune_published(share_dir: Path, stem: str, suffix: str, keep_last: int, *, protect: Path | None = None) -> list[Path]:
    """Delete all but the newest `keep_last` copies of `stem` (and their READY markers); return those removed.

    `.tmp` leftovers of our naming older than a day (a copy interrupted by a crash) go too.
    A copy that cannot be deleted (e.g. open in Power BI on Windows) is logged and kept, and so is
    `protect` (the copy just published, even if a clock set back makes it look older).
    """
    removed = []
    for entry in find_published(share_dir, stem, suffix)[:-keep_last]:
        if entry.path == protect:
            continue
        # Marker first: a READY marker must never point at a missing copy.
        if discard(ready_path(entry.path)) and discard(entry.path):
            removed.append(entry.path)
    for entry in find_published(share_dir, stem, suffix, tmp=True):
        if time.time() - entry.path.stat().st_mtime > STALE_TMP_S:
            discard(entry.path)
    if removed:
        log.info("Retention removed %d old copies of %s%s from %s", len(removed), stem, suffix, share_dir)
    return removed
