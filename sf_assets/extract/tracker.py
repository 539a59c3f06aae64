"""The job tracker: one `chunks` row per chunk of a refresh (plan, Bulk job, progress, outcome).

Statuses: queued → running → success | failed. While a chunk runs, its Bulk job id, the job's API
version, the next results locator and the pages done are saved after every page (the pages
themselves in `chunk_pages`), so a crashed process resumes from the next page of the same job.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from sf_assets.storage.state_db import transaction


@dataclass(frozen=True)
class ChunkKey:
    """Identifies one chunk of one object in one refresh."""

    refresh_id: str
    object: str
    chunk_id: str


@dataclass(frozen=True)
class ChunkRange:
    """A planned Id range [id_lo, id_hi); None is an open end."""

    chunk_id: str
    id_lo: str | None
    id_hi: str | None


@dataclass(frozen=True)
class ChunkState:
    """One `chunks` row."""

    key: ChunkKey
    id_lo: str | None
    id_hi: str | None
    status: str
    attempts: int
    job_id: str | None
    job_api_version: str | None
    next_locator: str | None
    pages_done: int
    file_path: str | None
    rows: int | None
    bytes: int | None
    checksum: str | None
    started_at: str | None
    ended_at: str | None
    error: str | None
    max_last_modified: str | None
    job_records: int | None = None


_COLUMNS = ("refresh_id, object, chunk_id, id_lo, id_hi, status, attempts, job_id, job_api_version, next_locator, "
            "pages_done, file_path, rows, bytes, checksum, started_at, ended_at, error, max_last_modified, job_records")
_WHERE = "refresh_id = ? AND object = ? AND chunk_id = ?"


def utc_now() -> str:
    """ISO 8601 UTC timestamp with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _state(row: tuple) -> ChunkState:
    return ChunkState(ChunkKey(*row[:3]), *row[3:])


class ChunkTracker:
    """Reads and writes `chunks` / `chunk_pages`; safe to share between threads."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def _update(self, key: ChunkKey, assignments: str, *values: object) -> None:
        with self._lock:
            cursor = self.conn.execute(f"UPDATE chunks SET {assignments} WHERE {_WHERE}",
                                       (*values, key.refresh_id, key.object, key.chunk_id))
        if cursor.rowcount != 1:
            raise KeyError(f"no planned chunk {key}")

    def add_plan(self, refresh_id: str, object_name: str, ranges: Iterable[ChunkRange]) -> None:
        """Insert a chunk plan (status queued) in one transaction."""
        rows = [(refresh_id, object_name, r.chunk_id, r.id_lo, r.id_hi) for r in ranges]
        with self._lock, transaction(self.conn):
            self.conn.executemany(
                "INSERT INTO chunks (refresh_id, object, chunk_id, id_lo, id_hi) VALUES (?, ?, ?, ?, ?)", rows)

    def chunks(self, refresh_id: str, object_name: str) -> list[ChunkState]:
        """The object's chunks in chunk-id order (empty when not planned)."""
        with self._lock:
            rows = self.conn.execute(
                f"SELECT {_COLUMNS} FROM chunks WHERE refresh_id = ? AND object = ? ORDER BY chunk_id",
                (refresh_id, object_name)).fetchall()
        return [_state(r) for r in rows]

    def get(self, key: ChunkKey) -> ChunkState:
        """One chunk (KeyError when not planned)."""
        with self._lock:
            row = self.conn.execute(f"SELECT {_COLUMNS} FROM chunks WHERE {_WHERE}",
                                    (key.refresh_id, key.object, key.chunk_id)).fetchone()
        if row is None:
            raise KeyError(f"no planned chunk {key}")
        return _state(row)

    def start_attempt(self, key: ChunkKey, first: bool) -> None:
        """Status running, one more attempt (started_at set on the first attempt of a run)."""
        if first:
            self._update(key, "status = 'running', attempts = attempts + 1, started_at = ?, ended_at = NULL, "
                              "error = NULL", utc_now())
        else:
            self._update(key, "status = 'running', attempts = attempts + 1")

    def note_retry(self, key: ChunkKey, cause: str) -> None:
        """Count one logged retry of the chunk and keep its cause (each distinct cause once)."""
        with self._lock, transaction(self.conn):
            (causes,) = self.conn.execute(f"SELECT retry_causes FROM chunks WHERE {_WHERE}",
                                          (key.refresh_id, key.object, key.chunk_id)).fetchone()
            known = causes.split("; ") if causes else []
            self.conn.execute(f"UPDATE chunks SET retries = retries + 1, retry_causes = ? WHERE {_WHERE}",
                              ("; ".join(dict.fromkeys([*known, cause])), key.refresh_id, key.object, key.chunk_id))

    def set_job(self, key: ChunkKey, job_id: str | None, api_version: str | None) -> None:
        """Adopt a new Bulk job (or none): no page done yet."""
        with self._lock, transaction(self.conn):
            self.conn.execute(f"DELETE FROM chunk_pages WHERE {_WHERE}", (key.refresh_id, key.object, key.chunk_id))
            self.conn.execute(
                f"UPDATE chunks SET job_id = ?, job_api_version = ?, next_locator = NULL, pages_done = 0 WHERE {_WHERE}",
                (job_id, api_version, key.refresh_id, key.object, key.chunk_id))

    def page_done(self, key: ChunkKey, page: int, locator: str | None, records: int, next_locator: str | None) -> None:
        """Record page `page` (fetched with `locator`, `records` rows) and where the next one starts."""
        with self._lock, transaction(self.conn):
            self.conn.execute("INSERT OR REPLACE INTO chunk_pages (refresh_id, object, chunk_id, page, locator, records) "
                              "VALUES (?, ?, ?, ?, ?, ?)", (key.refresh_id, key.object, key.chunk_id, page, locator, records))
            self.conn.execute(f"UPDATE chunks SET next_locator = ?, pages_done = ? WHERE {_WHERE}",
                              (next_locator, page, key.refresh_id, key.object, key.chunk_id))

    def page_records(self, key: ChunkKey) -> int:
        """Sum of Sforce-NumberOfRecords over the pages done."""
        with self._lock:
            (total,) = self.conn.execute(f"SELECT COALESCE(SUM(records), 0) FROM chunk_pages WHERE {_WHERE}",
                                         (key.refresh_id, key.object, key.chunk_id)).fetchone()
        return int(total)

    def mark_success(self, key: ChunkKey, file_path: str, rows: int, size: int, checksum: str,
                     max_last_modified: str | None, job_records: int | None = None) -> None:
        """Status success with the chunk file's facts and its Bulk job's numberRecordsProcessed."""
        self._update(key, "status = 'success', file_path = ?, rows = ?, bytes = ?, checksum = ?, "
                          "max_last_modified = ?, job_records = ?, ended_at = ?, error = NULL",
                     file_path, rows, size, checksum, max_last_modified, job_records, utc_now())

    def mark_failed(self, key: ChunkKey, error: str) -> None:
        """Status failed with the cause (the job id and progress stay, for resume)."""
        self._update(key, "status = 'failed', ended_at = ?, error = ?", utc_now(), error[:2000])
