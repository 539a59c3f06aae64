"""SQLite staging of one object's chunk files (the staging DB is a file of its own, not the state DB).

The table is named like the object, its columns like the plan's with ``.`` mapped to ``_``
(see ``staging_types``). A load is rerun-safe: rows go into ``<object>__loading`` in
transactions of ``batch_rows`` rows; on success one transaction drops the old table, renames
the new one, builds the indexes and records the staged files; any failure drops the loading
table and leaves the previous table untouched. ``database is locked`` is retried (1 s, 3 tries).

Bookkeeping tables (names start with ``_sf_``): ``_sf_tables`` (object, plan JSON, rows,
staged_at) and ``_sf_staged_files`` (object, path, bytes, mtime_ns, rows): the dataset engine
reads the Parquet chunk files directly only while they are exactly the files staged here.

Load speed: batches go to SQLite through ADBC's bulk ingestion (``adbc-driver-sqlite``: rows are
bound from Arrow buffers in C), after vectorized Arrow casts of temporal and decimal columns to
the ISO text SQLite stores. Python's ``executemany`` has to build a Python object per value and
was measured at about half the speed on the same rows (``bench/staging_load.py``). Each batch is one
transaction, so the WAL stays bounded. The DB stays in WAL with synchronous=NORMAL throughout,
because readers (the dataset engine, health stats) may read the previous table while a load runs
and a crash must never damage the other staged tables.

Replacing the previous table (every refresh but the first) drops it with ``secure_delete=FAST``:
Python's SQLite here is built with secure_delete on, which zero-fills every freed page, so the
drop wrote the whole old table to the WAL (558 MB and 3.3 s for 2 M Opportunity rows; 0.3 s with
FAST: ``bench/staging_restage.py``). Freed pages keep their old bytes until reused by the next
load; the staging DB is a local working file holding the same data anyway.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from sf_assets.config.models import ObjectConfig, StagingConfig
from sf_assets.salesforce.field_plan import FieldPlan
from sf_assets.storage.chunk_schema import SchemaCheck, check_chunks
from sf_assets.storage.sqlite_util import connect, retry_locked
from sf_assets.storage.staging_types import declared_type, quote, sql_names, to_sqlite_arrow

log = logging.getLogger(__name__)

LOADING_SUFFIX = "__loading"
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


def create_table_sql(plan: FieldPlan, table: str) -> str:
    """CREATE TABLE from the field plan: declared types, NOT NULL for non-nullable columns."""
    cols = [
        f"{quote(name)} {declared_type(col)}{'' if col.nullable else ' NOT NULL'}"
        for name, col in zip(sql_names(plan), plan.columns)
    ]
    return f"CREATE TABLE {quote(table)} (\n    " + ",\n    ".join(cols) + "\n)"


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
    conn = connect(staging_db_path, staging_cfg.cache_size_mb)
    try:
        started = time.perf_counter()
        conn.executescript(_BOOKKEEPING)
        loading = table + LOADING_SUFFIX
        retry_locked(lambda: conn.execute(f"DROP TABLE IF EXISTS {quote(loading)}"))
        retry_locked(lambda: conn.execute(create_table_sql(plan, loading)))
        try:
            rows = _load(staging_db_path, loading, check, staging_cfg.batch_rows)
            load_seconds = time.perf_counter() - started
            indexes = retry_locked(lambda: _swap(conn, plan, check, rows, index_columns(plan, object_cfg)))
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            retry_locked(lambda: conn.execute(f"DROP TABLE IF EXISTS {quote(loading)}"))
            raise
        t0 = time.perf_counter()
        retry_locked(lambda: conn.execute(f"ANALYZE {quote(table)}"))
        log.debug("ANALYZE %s in %.2f s", table, time.perf_counter() - t0)
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    rate = rows / load_seconds if load_seconds > 0 else 0.0
    log.info("Staged %d rows of %s in %.1f s (%.0f rows/s loading)", rows, table, seconds, rate)
    return StagingResult(table, rows, seconds, rate, indexes, check)


def _load(db: Path, table: str, check: SchemaCheck, batch_rows: int) -> int:
    """Ingest every valid chunk into ``table``, one transaction of ``batch_rows`` rows at a time.

    The next batch is read and converted on a second thread while this one is ingested (both
    release the GIL in C), so the load runs at the speed of SQLite's inserts.
    """
    import adbc_driver_sqlite.dbapi as adbc  # imported here: only staging needs the driver

    batches = (to_sqlite_arrow(b) for chunk in check.valid for b in check.batches(chunk, batch_rows))
    rows = 0
    with adbc.connect(str(db)) as conn, conn.cursor() as cursor, ThreadPoolExecutor(1) as reader:
        upcoming = reader.submit(next, batches, None)
        while (ready := upcoming.result()) is not None:
            upcoming = reader.submit(next, batches, None)
            retry_locked(lambda: _ingest(conn, cursor, table, ready))
            rows += ready.num_rows
    return rows


def _ingest(conn: Any, cursor: Any, table: str, batch: pa.RecordBatch) -> None:
    """Append one batch in its own transaction (rolled back on failure)."""
    try:
        cursor.adbc_ingest(table, batch, mode="append")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise


def _swap(conn: sqlite3.Connection, plan: FieldPlan, check: SchemaCheck, rows: int, columns: list[str]) -> tuple[IndexBuild, ...]:
    """Replace the table by the loaded one, build its indexes and record the files: one transaction."""
    table = plan.object_name
    conn.execute("PRAGMA secure_delete=FAST")  # dropping the previous table must not rewrite it (module doc)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
        conn.execute(f"ALTER TABLE {quote(table + LOADING_SUFFIX)} RENAME TO {quote(table)}")
        builds = []
        for column in columns:
            name = f"ix_{table}_{column}".lower()
            t0 = time.perf_counter()
            conn.execute(f"CREATE INDEX {quote(name)} ON {quote(table)}({quote(column)})")
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
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    table = plan.object_name
    conn.execute(
        "INSERT OR REPLACE INTO _sf_tables (object, plan_json, rows, staged_at) VALUES (?, ?, ?, ?)",
        (table, plan.to_json(), rows, now),
    )
    conn.execute("DELETE FROM _sf_staged_files WHERE object = ?", (table,))
    for chunk in check.valid:
        stat = chunk.path.stat()
        conn.execute(
            "INSERT INTO _sf_staged_files (object, path, bytes, mtime_ns, rows) VALUES (?, ?, ?, ?, ?)",
            (table, str(chunk.path.resolve()), stat.st_size, stat.st_mtime_ns, chunk.rows),
        )


def staging_stats(db: Path) -> dict[str, Any]:
    """Tables, rows, indexes and file size of the staging DB (for the health JSON)."""
    if not db.exists():
        return {"path": str(db), "exists": False, "tables": {}}
    conn = sqlite3.connect(f"file:{db.as_posix()}?mode=ro", uri=True)
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
