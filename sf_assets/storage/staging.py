"""SQLite staging of one object's chunk files (the staging DB is a file of its own, not the state DB).

The table is named like the object, its columns like the plan's with ``.`` mapped to ``_``
(see ``staging_types``). A load is rerun-safe and crash-safe:

1. Every valid chunk's rows are in the object's **loading file**, a private SQLite file written by
   ADBC (``staging_loading``): usually appended by the extraction step while the next chunk
   downloaded, else (re)built now from the chunk files.
2. Python's ``sqlite3`` opens ``staging.db``, attaches the loading file and, in one transaction,
   replaces the table by a copy of the loaded one (SQLite's transfer optimisation copies pages,
   ~0.1 s per 25 MB), builds the indexes and records the staged files; then ANALYZE.
3. The loading file is deleted. Any failure or kill leaves the previous table untouched; the
   next load rebuilds a loading file that does not match its chunk files, and drops
   ``<Object>__loading`` tables of older versions.

Why private files: ``adbc-driver-sqlite`` bundles its own SQLite library. Two SQLite libraries
with the same database open in one process do not see each other's POSIX locks, so closing one
releases the other's locks and deletes the ``-wal``/``-shm`` the other still maps: SIGBUS or a
"database disk image is malformed" file (sqlite.org, "How To Corrupt An SQLite Database File",
2.2.1; reproduced in ``docs/RELIABILITY.md``). ``staging.db`` itself is only ever opened by
Python's ``sqlite3``, so any reader in the process (dataset engine, health stats) is safe.

Bookkeeping tables (names start with ``_sf_``): ``_sf_tables`` (object, plan JSON, rows,
staged_at) and ``_sf_staged_files`` (object, path, bytes, mtime_ns, rows): the dataset engine
reads the Parquet chunk files directly only while they are exactly the files staged here.
The DB stays in WAL with synchronous=NORMAL, so readers may read the previous table while a
load runs. ``database is locked`` is retried (1 s apart, 3 tries) and then named as such.

Replacing the previous table (every refresh but the first) drops it with ``secure_delete=FAST``:
Python's SQLite here is built with secure_delete on, which zero-fills every freed page, so the
drop wrote the whole old table to the WAL (558 MB and 3.3 s for 2 M Opportunity rows; 0.3 s with
FAST: ``bench/staging_restage.py``). Freed pages keep their old bytes until reused by the next
load; the staging DB is a local working file holding the same data anyway.

A new staging DB (and every loading file) has 16 KiB pages: the SQLite engine's scan of 2 M
Opportunity rows took 3.05–3.44 s instead of 3.74–3.87 s with 4 KiB (a ``VACUUM INTO`` copy of
the same DB, this machine). An existing staging DB keeps its page size.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from sf_assets.config.models import ObjectConfig, StagingConfig
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.chunk_schema import SchemaCheck, check_chunks
from sf_assets.storage.sqlite_util import connect, connect_readonly, retry_locked
from sf_assets.storage.staging_loading import PAGE_SIZE, load_chunks, loading_file, loading_folder, remove_loading_file
from sf_assets.storage.staging_types import create_table_sql, quote, sql_names

log = logging.getLogger(__name__)

LOADING_SUFFIX = "__loading"  # in-place loading tables of older versions
_LOCK_ATTEMPTS = 3
_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS _sf_tables (
    object TEXT PRIMARY KEY, plan_json TEXT NOT NULL, rows INTEGER NOT NULL, staged_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _sf_staged_files (
    object TEXT NOT NULL, path TEXT NOT NULL, bytes INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    rows INTEGER NOT NULL, PRIMARY KEY (object, path));
"""


@dataclass(frozen=True)
class IndexBuild:
    """One index built after a load."""

    name: str
    column: str
    seconds: float


@dataclass(frozen=True)
class StagingResult:
    """Outcome of ``stage_object``; ``invalid_chunks`` were skipped and need re-extraction."""

    table: str
    rows: int
    seconds: float
    rows_per_s: float
    indexes: tuple[IndexBuild, ...]
    check: SchemaCheck

    @property
    def invalid_chunks(self) -> list[Path]:
        return [c.path for c in self.check.invalid]


def index_columns(plan: FieldPlan, object_cfg: ObjectConfig) -> list[str]:
    """SQL names of the columns to index: Id, join keys and index_fields present in the plan."""
    by_lower = {c.name.lower(): name for c, name in zip(plan.columns, sql_names(plan))}
    wanted = ["Id", *object_cfg.join_keys, *object_cfg.index_fields]
    out: list[str] = []
    for field_name in wanted:
        name = by_lower.get(field_name.lower())
        if name is None:
            log.debug("%s: not indexing %s (not in the field plan)", plan.object_name, field_name)
        elif name not in out:
            out.append(name)
    return out


def stage_object(
    staging_db_path: Path,
    plan: FieldPlan,
    chunk_files: Sequence[Path],
    object_cfg: ObjectConfig,
    staging_cfg: StagingConfig,
) -> StagingResult:
    """Check, load and index one object's chunk files into table ``plan.object_name``."""
    table = plan.object_name
    check = check_chunks(plan, chunk_files, staging_cfg.max_invalid_chunk_pct)
    loading_folder(staging_db_path).mkdir(parents=True, exist_ok=True)
    loading = loading_file(staging_db_path, table)
    started = time.perf_counter()
    rows = load_chunks(loading, plan, check.valid, staging_cfg.batch_rows)
    indexes = _swap_in(staging_db_path, loading, plan, check, rows, index_columns(plan, object_cfg), staging_cfg)
    remove_loading_file(loading)
    pa.default_memory_pool().release_unused()  # the batches loaded: Arrow's allocator keeps them otherwise
    seconds = time.perf_counter() - started
    rate = rows / seconds if seconds > 0 else 0.0
    log.info("Staged %d rows of %s in %.1f s (%.0f rows/s)", rows, table, seconds, rate)
    return StagingResult(table, rows, seconds, rate, indexes, check)


def _swap_in(staging_db: Path, loading: Path, plan: FieldPlan, check: SchemaCheck, rows: int, columns: list[str],
             cfg: StagingConfig) -> tuple[IndexBuild, ...]:
    """Replace the staged table by the loaded one, index it, record the files (one transaction), ANALYZE."""
    table = plan.object_name
    what = f"the staging DB {staging_db}"
    conn = connect(staging_db, cfg.cache_size_mb, busy_timeout_s=cfg.lock_timeout_s / _LOCK_ATTEMPTS,
                   page_size=PAGE_SIZE)
    conn.execute("PRAGMA secure_delete=FAST")  # dropping the previous table must not rewrite it (module doc)
    try:
        retry_locked(lambda: conn.executescript(_BOOKKEEPING), _LOCK_ATTEMPTS, what=what)
        retry_locked(lambda: _drop_old_loading_tables(conn), _LOCK_ATTEMPTS, what=what)
        conn.execute("ATTACH DATABASE ? AS loaded", (str(loading),))
        try:
            builds = retry_locked(lambda: _replace(conn, plan, check, rows, columns), _LOCK_ATTEMPTS, what=what)
        finally:
            conn.execute("DETACH DATABASE loaded")
        t0 = time.perf_counter()
        retry_locked(lambda: conn.execute(f"ANALYZE main.{quote(table)}"), _LOCK_ATTEMPTS, what=what)
        log.debug("ANALYZE %s in %.2f s", table, time.perf_counter() - t0)
    finally:
        conn.close()
    return builds


def _drop_old_loading_tables(conn: sqlite3.Connection) -> None:
    """Drop ``<Object>__loading`` tables left in the staging DB by versions that loaded in place."""
    tables = [name for (name,) in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")]
    for name in tables:
        if name.endswith(LOADING_SUFFIX):
            log.warning("Dropping the left-over table %s of an interrupted load", name)
            conn.execute(f"DROP TABLE main.{quote(name)}")


def _replace(conn: sqlite3.Connection, plan: FieldPlan, check: SchemaCheck, rows: int,
             columns: list[str]) -> tuple[IndexBuild, ...]:
    table = plan.object_name
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"DROP TABLE IF EXISTS main.{quote(table)}")
        conn.execute(create_table_sql(plan, table).replace("CREATE TABLE ", "CREATE TABLE main.", 1))
        conn.execute(f"INSERT INTO main.{quote(table)} SELECT * FROM loaded.{quote(table)}")
        builds = []
        for column in columns:
            name = f"ix_{table}_{column}".lower()
            t0 = time.perf_counter()
            conn.execute(f"CREATE INDEX main.{quote(name)} ON {quote(table)}({quote(column)})")
            seconds = time.perf_counter() - t0
            log.info("Created index %s on %s(%s) in %.1f s", name, table, column, seconds)
            builds.append(IndexBuild(name, column, seconds))
        _record(conn, plan, check, rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise
    return tuple(builds)


def _record(conn: sqlite3.Connection, plan: FieldPlan, check: SchemaCheck, rows: int) -> None:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    table = plan.object_name
    conn.execute(
        "INSERT OR REPLACE INTO main._sf_tables (object, plan_json, rows, staged_at) VALUES (?, ?, ?, ?)",
        (table, plan.to_json(), rows, now),
    )
    conn.execute("DELETE FROM main._sf_staged_files WHERE object = ?", (table,))
    for chunk in check.valid:
        stat = chunk.path.stat()
        conn.execute(
            "INSERT INTO main._sf_staged_files (object, path, bytes, mtime_ns, rows) VALUES (?, ?, ?, ?, ?)",
            (table, str(chunk.path.resolve()), stat.st_size, stat.st_mtime_ns, chunk.rows),
        )


def staging_stats(db: Path) -> dict[str, Any]:
    """Tables, rows, indexes and file size of the staging DB (for the health JSON)."""
    if not db.exists():
        return {"path": str(db), "exists": False, "tables": {}}
    conn = connect_readonly(db)
    try:
        tables: dict[str, Any] = {}
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_sf_tables'").fetchone():
            for name, rows, staged_at in conn.execute("SELECT object, rows, staged_at FROM _sf_tables ORDER BY object"):
                indexes = [r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name", (name,)
                )]
                tables[name] = {"rows": rows, "staged_at": staged_at, "indexes": indexes}
    finally:
        conn.close()
    size = sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    return {"path": str(db), "exists": True, "bytes": size, "tables": tables}
