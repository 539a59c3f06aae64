"""Retention on the share: keep the newest N published copies of a stem, never touch other names."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sf_assets.publish.naming import find_published, ready_path
from sf_assets.storage.deletion import delete_when_free

log = logging.getLogger(__name__)

STALE_TMP_S = 24 * 3600.0


def prune_published(
    share_dir: Path, stem: str, suffix: str, keep_last: int, *, protect: Path | None = None
) -> list[Path]:
    """Delete all but the newest `keep_last` copies of `stem` (and their READY markers); return those removed.

    `.tmp` leftovers of our naming older than a day (a copy interrupted by a crash) go too.
    A copy that cannot be deleted (e.g. open in Power BI on Windows) stays until a later refresh deletes it
    (``storage.deletion``); `protect` (the copy just published, even if a clock set back makes it look older)
    always stays.
    """
    removed = []
    for entry in find_published(share_dir, stem, suffix)[:-keep_last]:
        if entry.path == protect:
            continue
        # Marker first: a READY marker must never point at a missing copy.
        if delete_when_free(ready_path(entry.path)) and delete_when_free(entry.path):
            removed.append(entry.path)
    for entry in find_published(share_dir, stem, suffix, tmp=True):
        if time.time() - entry.path.stat().st_mtime > STALE_TMP_S:
            delete_when_free(entry.path)
    if removed:
        log.info("Retention removed %d old copies of %s%s from %s", len(removed), stem, suffix, share_dir)
    return removed
