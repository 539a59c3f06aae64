"""Collect health figures: free disk space, file sizes and checksums (chunk figures: `extract/tracker.py`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from sf_assets.health.report import DiskFree, FileInfo
from sf_assets.publish.copy import ALGORITHM
from sf_assets.storage.files import file_digest


def disk_free(paths: Iterable[Path | str]) -> dict[str, DiskFree]:
    """Free space of each path's disk, measured at its nearest existing folder; errors recorded, not raised."""
    result = {}
    for path in paths:
        try:
            usage = shutil.disk_usage(_existing(Path(path)))
            result[str(path)] = DiskFree(usage.free, usage.total)
        except OSError as exc:
            result[str(path)] = DiskFree(error=f"{type(exc).__name__}: {exc}")
    return result


def _existing(path: Path) -> Path:
    """`path` or its nearest existing ancestor (an output folder may not exist before the first run)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def file_info(path: Path, checksum: str | None = None) -> FileInfo:
    """Size of `path`, and its checksum (computed, SHA-256, when not given)."""
    return FileInfo(path, path.stat().st_size, checksum or file_digest(path, ALGORITHM))
