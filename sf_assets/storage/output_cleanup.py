"""Housekeeping: chunk files of finished refreshes, stale temp files, old output versions."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from sf_assets.storage.manifest import SUCCESS
from sf_assets.storage.sqlite_util import connect_readonly

log = logging.getLogger(__name__)

FINISHED = ("success", "superseded")


def delete_finished_chunk_files(state_db: Path) -> int:
    """Delete the chunk files of refreshes that finished (success or superseded); returns how many."""
    conn = connect_readonly(state_db)
    try:
        paths = [Path(p) for (p,) in conn.execute(
            "SELECT c.file_path FROM chunks c JOIN refreshes r ON r.refresh_id = c.refresh_id "
            f"WHERE c.file_path IS NOT NULL AND r.status IN ({', '.join('?' * len(FINISHED))})", FINISHED,
        )]
    finally:
        conn.close()
    deleted = 0
    for path in paths:
        if path.exists():
            path.unlink()
            deleted += 1
    log.info("Deleted %d chunk files of finished refreshes", deleted)
    return deleted


def remove_stale_files(temp_dir: Path, older_than_hours: float, keep: tuple[str, ...] = ()) -> int:
    """Remove files and folders under ``temp_dir`` not modified for ``older_than_hours`` (names in ``keep`` stay)."""
    if not temp_dir.exists():
        return 0
    cutoff = time.time() - older_than_hours * 3600
    removed = 0
    for entry in temp_dir.iterdir():
        if entry.name in keep or entry.stat().st_mtime >= cutoff:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    log.info("Removed %d entries older than %.0f h from %s", removed, older_than_hours, temp_dir)
    return removed


def prune_versions(dataset_dir: Path, keep: int = 2) -> list[Path]:
    """Delete all but the newest ``keep`` published version folders of one dataset."""
    versions = sorted(
        (p for p in dataset_dir.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / SUCCESS).exists()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    doomed = versions[keep:]
    for folder in doomed:
        shutil.rmtree(folder, ignore_errors=True)
    return doomed
