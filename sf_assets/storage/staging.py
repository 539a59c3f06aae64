"""SQLite staging of one object's chunk files (the staging DB is a file of its own, not the state DB).

The table is named like the object, its columns like the plan's with ``.`` mapped to ``_``
(see ``staging_types``). A load is rerun-safe: rows go into ``<object>__loading`` in
transactions of ``batch_rows`` rows; on success one transaction drops the old table, renames
the new one, builds the indexes and records the staged files; any failure drops the loading
table and leaves the previous table untouched. ``database is locked`` is retried (1 s, 3 tries).

Bookkeeping tables (names start with ``_sf_``): ``_sf_tables`` (object, plan JSON, rows,
staged_at) and ``_sf_staged_files`` (object, path, bytes, mtime_ns, rows): the dataset engine
reads the Parquet chunk files directly only while they are exactly the files staged here.

Load speed: a converter thread turns each Arrow batch into bind values (low-cardinality columns
convert their distinct values once) while the loading thread inserts ``ROWS_PER_STATEMENT``
rows per ``INSERT`` statement; the converter mostly waits on a full queue, so SQLite itself
is the limit. The DB stays in WAL with synchronous=NORMAL throughout, because readers (the
dataset engine, health stats) may read the previous table while a load runs and a crash must
never damage the other staged tables. Loading into a separate journal_mode=OFF /
synchronous=OFF file and copying it in at the swap was measured slower overall on a 2-core VM
(the copy writes every page to the WAL again). While loading, WAL auto-checkpoints every
``LOAD_WAL_CHECKPOINT_PAGES`` pages instead of SQLite's 1000 (fewer fsyncs, WAL still bounded);
the final checkpoint runs inside the timed load so that cost is not hidden.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sf_assets.config.models import ObjectConfig, StagingConfig
from sf_assets.salesforce.field_plan import FieldPlan
from sf_assets.storage.chunk_schema import SchemaCheck, check_chunks
from sf_assets.storage.sqlite_util import connect, retry_locked
from sf_assets.storage.staging_types import declared_type, quote, sql_names, to_sqlite_groups

log = logging.getLogger(__name__)

LOADING_SUFFIX = "__loading"
ROWS_PER_STATEMENT = 32
WAL_CHECKPOINT_PAGES = 1000  # SQLite's default
LOAD_WAL_CHECKPOINT_PAGES = 16384  # 64 MB of 4 KB pages: fewer fsyncs while loading, WAL stays bounded
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
            rows = _load(conn, loading, len(plan.columns), check, staging_cfg.batch_rows)
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


def _rows_per_statement(ncols: int) -> int:
    """Rows bound per INSERT statement: as many as ROWS_PER_STATEMENT, within 999 variables."""
    return max(1, min(ROWS_PER_STATEMENT, 999 // max(ncols, 1)))


def _load(conn: sqlite3.Connection, table: str, ncols: int, check: SchemaCheck, batch_rows: int) -> int:
    """Insert every valid chunk, ``batch_rows`` rows per transaction, several rows per statement.

    A thread converts the next batch while SQLite inserts this one (``sqlite3_step`` and the
    Arrow casts run without the GIL; see the module docstring for what the overlap is worth).
    """
    group = _rows_per_statement(ncols)
    one = "(" + ", ".join("?" * ncols) + ")"
    single_sql = f"INSERT INTO {quote(table)} VALUES {one}"
    group_sql = f"INSERT INTO {quote(table)} VALUES " + ", ".join([one] * group)
    batches: queue.Queue[tuple[list[list[Any]], list[list[Any]], int] | BaseException | None] = queue.Queue(maxsize=3)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in check.valid:
                for batch in check.batches(chunk, batch_rows):
                    if stop.is_set():
                        return
                    grouped, rest = to_sqlite_groups(batch, group)
                    batches.put((grouped, rest, batch.num_rows))
            batches.put(None)
        except BaseException as exc:  # handed to the loading thread
            batches.put(exc)

    producer = threading.Thread(target=produce, name=f"stage-{table}", daemon=True)
    conn.execute(f"PRAGMA wal_autocheckpoint={LOAD_WAL_CHECKPOINT_PAGES}")
    producer.start()
    rows = 0
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            grouped, rest, n = item
            retry_locked(lambda: _insert(conn, ((group_sql, grouped), (single_sql, rest))))
            rows += n
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting on a full queue
            try:
                batches.get(timeout=0.1)
            except queue.Empty:
                pass
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # inside the timed load: the cost stays visible
    return rows


def _insert(conn: sqlite3.Connection, statements: Sequence[tuple[str, list[list[Any]]]]) -> None:
    """One transaction of ``executemany`` calls."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, values in statements:
            if values:
                conn.executemany(sql, values)
        conn.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise


def _swap(conn: sqlite3.Connection, plan: FieldPlan, check: SchemaCheck, rows: int, columns: list[str]) -> tuple[IndexBuild, ...]:
    """Replace the table by the loaded one, build its indexes and record the files: one transaction."""
    table = plan.object_name
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
