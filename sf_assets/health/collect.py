"""Collect health figures: chunk counts and rows from the state DB, free disk space."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from sf_assets.health.report import ChunkCounts, DiskFree, FileInfo
from sf_assets.publish.copy import ALGORITHM
from sf_assets.storage.files import file_digest

_CHUNK_COUNTS_SQL = """
SELECT object,
       SUM(status = 'success' AND attempts <= 1 AND retries = 0),
       SUM(status = 'success' AND (attempts > 1 OR retries > 0)),
       SUM(status = 'failed'),
       SUM(status NOT IN ('success', 'failed')),
       SUM(retries > 0)
FROM chunks WHERE refresh_id = ? GROUP BY object ORDER BY object
"""
_RETRIED_SQL = """
SELECT object, chunk_id, retries, retry_causes, status FROM chunks
WHERE refresh_id = ? AND retries > 0 ORDER BY object, chunk_id
"""
_ROWS_SQL = """
SELECT object, COALESCE(SUM(CASE WHEN status = 'success' THEN rows END), 0)
FROM chunks WHERE refresh_id = ? GROUP BY object ORDER BY object
"""


def chunk_counts(conn: sqlite3.Connection, refresh_id: str) -> dict[str, ChunkCounts]:
    """Per object: ok (success, nothing retried), fixed (success after a retried call or a re-run), failed,
    skipped (queued/running), and retried (chunks with at least one logged retry, whatever their outcome)."""
    return {obj: ChunkCounts(*counts) for obj, *counts in conn.execute(_CHUNK_COUNTS_SQL, (refresh_id,))}


def retried_chunks(conn: sqlite3.Connection, refresh_id: str) -> list[str]:
    """One line per chunk with a logged retry: which chunk, how many retries, their causes and how it ended."""
    return [f"{obj} chunk {chunk} retried {n} time(s) ({causes}); {status}"
            for obj, chunk, n, causes, status in conn.execute(_RETRIED_SQL, (refresh_id,))]


def rows_per_object(conn: sqlite3.Connection, refresh_id: str) -> dict[str, int]:
    """Rows of the successful chunks of each planned object (0 when none succeeded)."""
    return dict(conn.execute(_ROWS_SQL, (refresh_id,)).fetchall())


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
