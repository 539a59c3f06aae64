"""The job tracker: one `chunks` row per chunk of a refresh (plan, Bulk job, progress, outcome).

The only module that reads or writes the `chunks` table (`extract/refresh.py` owns `refreshes`): the figures
other stages show of the chunks are the named functions at the end.

Statuses: queued → running → success | failed. While a chunk runs, its Bulk job id, the job's API
version, the next results locator and the pages done are saved after every page (the pages
themselves in `chunk_pages`, each with the locator or `resultPages` URL it was fetched from), so a crashed
process resumes with the pages not recorded yet of the same job.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

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
    return datetime.now(UTC).isoformat(timespec="seconds")


def _state(row: tuple[Any, ...]) -> ChunkState:
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
                "UPDATE chunks SET job_id = ?, job_api_version = ?, next_locator = NULL, pages_done = 0 WHERE "
                f"{_WHERE}",
                (job_id, api_version, key.refresh_id, key.object, key.chunk_id),
            )

    def page_done(self, key: ChunkKey, page: int, locator: str | None, records: int, next_locator: str | None) -> None:
        """Record page `page` (fetched with `locator` or from that URL, `records` rows) and where the next one
        starts (None: no page after it, or pages fetched in parallel); `pages_done` counts the pages recorded."""
        with self._lock, transaction(self.conn):
            self.conn.execute(
                "INSERT OR REPLACE INTO chunk_pages (refresh_id, object, chunk_id, page, locator, records) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key.refresh_id, key.object, key.chunk_id, page, locator, records),
            )
            self.conn.execute(
                f"UPDATE chunks SET next_locator = ?, pages_done = (SELECT COUNT(*) FROM chunk_pages WHERE {_WHERE}) "
                f"WHERE {_WHERE}", (next_locator, *(key.refresh_id, key.object, key.chunk_id) * 2))

    def pages(self, key: ChunkKey) -> dict[int, str | None]:
        """The pages recorded for the chunk's job: page number → the locator or URL it was fetched from."""
        with self._lock:
            return dict(self.conn.execute(f"SELECT page, locator FROM chunk_pages WHERE {_WHERE} ORDER BY page",
                                          (key.refresh_id, key.object, key.chunk_id)).fetchall())

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


class ChunkProgress(NamedTuple):
    """How far the chunks of a refresh are: planned, done, when the last one ended, the objects planned."""

    planned: int
    done: int
    last_ended: str | None
    objects: frozenset[str]


def chunk_progress(conn: sqlite3.Connection, refresh_id: str) -> ChunkProgress:
    """The chunks of `refresh_id` planned and done (status success), over every object."""
    planned, done, last = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(status = 'success'), 0), MAX(ended_at) FROM chunks WHERE refresh_id = ?",
        (refresh_id,)).fetchone()
    objects = frozenset(r[0] for r in conn.execute("SELECT DISTINCT object FROM chunks WHERE refresh_id = ?",
                                                     (refresh_id,)))
    return ChunkProgress(planned, done, last, objects)


def object_totals(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> tuple[int, int, int, int, int, int]:
    """(rows, chunks done, chunks planned, chunks failed, Bulk jobs, bytes) of `object_name` in `refresh_id`: rows,
    jobs and bytes count the chunks done (a job: the one that delivered a chunk)."""
    totals: tuple[int, int, int, int, int, int] = conn.execute(
        "SELECT COALESCE(SUM(CASE WHEN status = 'success' THEN rows END), 0), COALESCE(SUM(status = 'success'), 0), "
        "COUNT(*), COALESCE(SUM(status = 'failed'), 0), COUNT(DISTINCT CASE WHEN status = 'success' THEN job_id END), "
        "COALESCE(SUM(CASE WHEN status = 'success' THEN bytes END), 0) FROM chunks WHERE refresh_id = ? AND object = ?",
        (refresh_id, object_name)).fetchone()
    return totals


def rows_per_object(conn: sqlite3.Connection, refresh_id: str) -> dict[str, int]:
    """Rows of the successful chunks of each planned object of `refresh_id` (0 when none succeeded)."""
    return dict(conn.execute(
        "SELECT object, COALESCE(SUM(CASE WHEN status = 'success' THEN rows END), 0) FROM chunks "
        "WHERE refresh_id = ? GROUP BY object ORDER BY object", (refresh_id,)).fetchall())


def chunk_outcomes(conn: sqlite3.Connection, refresh_id: str) -> dict[str, tuple[int, ...]]:
    """Per object of `refresh_id`, its chunks counted as (ok: success at the first attempt with no retry, fixed:
    success after a retry or a re-run, failed, skipped: queued or running, retried: with a logged retry)."""
    return {obj: tuple(counts) for obj, *counts in conn.execute(
        "SELECT object, SUM(status = 'success' AND attempts <= 1 AND retries = 0), "
        "SUM(status = 'success' AND (attempts > 1 OR retries > 0)), SUM(status = 'failed'), "
        "SUM(status NOT IN ('success', 'failed')), SUM(retries > 0) FROM chunks WHERE refresh_id = ? "
        "GROUP BY object ORDER BY object", (refresh_id,))}


def chunks_with_retries(conn: sqlite3.Connection, refresh_id: str) -> list[tuple[str, str, int, str, str]]:
    """(object, chunk id, retries, their causes, status) of each chunk of `refresh_id` with a logged retry."""
    return conn.execute(
        "SELECT object, chunk_id, retries, retry_causes, status FROM chunks WHERE refresh_id = ? AND retries > 0 "
        "ORDER BY object, chunk_id", (refresh_id,)).fetchall()


def status_counts(conn: sqlite3.Connection, refresh_id: str) -> list[tuple[str, str, int, int]]:
    """(object, status, chunks, rows) of `refresh_id`, by object and status."""
    return conn.execute(
        "SELECT object, status, COUNT(*), COALESCE(SUM(rows), 0) FROM chunks WHERE refresh_id = ? "
        "GROUP BY object, status ORDER BY object, status", (refresh_id,)).fetchall()


def extracted_sizes(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """(bytes, rows) of each object's non-empty successful chunk files over every refresh recorded."""
    return {obj: (size, rows) for obj, size, rows in conn.execute(
        "SELECT object, SUM(bytes), SUM(rows) FROM chunks WHERE status = 'success' AND rows > 0 GROUP BY object")}


def chunk_files_of(conn: sqlite3.Connection, refresh_ids: Collection[str]) -> list[Path]:
    """The chunk files recorded for the refreshes `refresh_ids`."""
    wanted = set(refresh_ids)  # filtered here: a long-lived state DB holds more refreshes than SQL parameters
    return [Path(path) for refresh_id, path in conn.execute(
        "SELECT refresh_id, file_path FROM chunks WHERE file_path IS NOT NULL") if refresh_id in wanted]


def extraction_speed(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> tuple[int, float]:
    """Rows and wall seconds (last attempt, job latency and download included) of the object's extracted chunks."""
    rows, seconds = 0, 0.0
    for count, started, ended in conn.execute(
            "SELECT rows, started_at, ended_at FROM chunks WHERE refresh_id = ? AND object = ? AND status = 'success' "
            "AND rows IS NOT NULL AND started_at IS NOT NULL AND ended_at IS NOT NULL", (refresh_id, object_name)):
        rows += count
        seconds += (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    return rows, seconds
