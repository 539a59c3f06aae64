"""Housekeeping: chunk files of finished refreshes, stale temp files, old output versions."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from pathlib import Path

from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import TEMP_FILE
from sf_assets.storage.manifest import SUCCESS
from sf_assets.storage.output import CURRENT, TEMP_VERSION
from sf_assets.storage.temp_owner import remove_dead_temps

log = logging.getLogger(__name__)


def delete_finished_chunk_files(paths: Iterable[Path]) -> int:
    """Delete the chunk files of finished refreshes (`extract.refresh.finished_refreshes`); returns how many."""
    deleted = sum(delete_when_free(path) for path in paths if path.exists())
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
        removed += delete_when_free(entry)
    log.info("Removed %d entries older than %.0f h from %s", removed, older_than_hours, temp_dir)
    return removed


def prune_versions(dataset_dir: Path, keep: int = 2) -> list[Path]:
    """Delete all but the newest ``keep`` promoted version folders of one dataset; returns those deleted.

    The version ``current.json`` points at is never deleted, whatever its age. A version folder without its
    ``_SUCCESS`` is one an earlier prune half deleted (a file in it was open in another program): it goes too.
    """
    try:
        current = json.loads((dataset_dir / CURRENT).read_text(encoding="utf-8")).get("folder")
    except (OSError, ValueError):
        current = None
    folders = [p for p in dataset_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    complete = sorted((p for p in folders if (p / SUCCESS).exists()),
                      key=lambda p: (p.name == current, p.stat().st_mtime), reverse=True)
    half_deleted = [p for p in folders if p.name.startswith("v") and p.name != current and not (p / SUCCESS).exists()]
    return [folder for folder in [*complete[keep:], *half_deleted] if delete_when_free(folder)]


# Temp version folders of versions before owner tags (``.<dataset>__<refresh>.tmp-<hex>``): removed once
# an hour old, since no run of this version writes them.
_LEGACY_TEMP_VERSION = re.compile(r"^\..+__.+\.tmp-[0-9a-f]{8}$")


def remove_dead_output_temps(output_dir: Path, dataset_names: Iterable[str]) -> list[Path]:
    """Temp version folders and temp files that killed runs left under the output folder (never a live run's)."""
    removed = remove_dead_temps(output_dir, TEMP_FILE)
    for name in dataset_names:
        folder = output_dir / name
        removed += remove_dead_temps(folder, TEMP_FILE)
        removed += remove_dead_temps(folder, TEMP_VERSION)
        for legacy in (p for p in folder.glob(".*") if _LEGACY_TEMP_VERSION.match(p.name)):
            if legacy.is_dir() and time.time() - legacy.stat().st_mtime > 3600 and delete_when_free(legacy):
                log.info("Removed the left-over temp %s of an older version", legacy)
                removed.append(legacy)
    return removed
