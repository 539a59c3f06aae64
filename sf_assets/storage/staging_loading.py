"""An object's loading file: its chunk files' rows in a private SQLite file, appended as each chunk is extracted.

The extraction step appends every finished chunk to ``<staging>.loading/<Object>.db`` on a
background thread while the next chunks download (``ChunkPreloader``), so the staging step only
swaps that table into the staging DB (SQLite's transfer optimisation copies its pages) instead of
converting Parquet then. Each appended chunk is recorded in the file (``_sf_chunks``: path, size,
mtime, rows, field plan) in the same transaction as its rows; the staging step uses the file only
when those records are exactly its valid chunk files and the row count agrees, and otherwise
rebuilds it from the chunk files (``load_chunks``: the same append, in the staging step). A
re-extracted chunk (new size or mtime) therefore costs one rebuild, never a wrong row.

Only ADBC (``adbc-driver-sqlite``: rows bound from Arrow buffers in C, about twice Python's
``executemany``, ``bench/staging_load.py``) writes rows to the file, with SQLite's rollback journal
and locks: a kill mid-append rolls back at the next open, and a second appender at the same
time (another process) fails at once, which only means the staging step loads that chunk.
ADBC bundles its own SQLite library, so it never opens the file while Python's ``sqlite3`` has it
open in this process, and never opens the staging DB (see ``staging``).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.chunk_schema import ChunkCheck, check_chunk, read_conformed
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets.storage.staging_types import create_table_sql, quote, register_decimal_collation, to_sqlite_arrow

log = logging.getLogger(__name__)

_CHUNKS = "_sf_chunks"
PAGE_SIZE = 16384  # of a new staging DB and of every loading file (see storage.staging)
Identity = tuple[str, int, int, int, str]


def loading_folder(staging_db_path: Path) -> Path:
    """The folder of the private loading files, next to the staging DB."""
    return staging_db_path.with_name(staging_db_path.name + ".loading")


def loading_file(staging_db_path: Path, object_name: str) -> Path:
    """The loading file of one object."""
    return loading_folder(staging_db_path) / f"{object_name}.db"


def append_chunk(db: Path, plan: FieldPlan, chunk: ChunkCheck, batch_rows: int) -> None:
    """Append one valid chunk's rows to the loading file (created if missing); a chunk already in it unchanged is
    skipped; a recorded chunk it supersedes (re-extracted, of another refresh or plan) makes the file start over."""
    identity = _identity(chunk, plan)
    db.parent.mkdir(parents=True, exist_ok=True)
    recorded = _recorded(db)
    if recorded is not None and identity in recorded:
        return
    if recorded is None or any(_supersedes(identity, r) for r in recorded):
        _start_over(db, plan)
    _ingest(db, plan, chunk, identity, batch_rows)


def load_chunks(db: Path, plan: FieldPlan, chunks: Sequence[ChunkCheck], batch_rows: int) -> int:
    """Make the loading file hold exactly ``chunks`` (reusing what extraction appended); returns its rows.

    A file whose row count disagrees with its records is rebuilt once from the chunk files.
    """
    rows = sum(c.rows for c in chunks)
    for attempt in (1, 2):
        wanted = {_identity(c, plan) for c in chunks}
        recorded = _recorded(db) if attempt == 1 else None
        if recorded is None or not set(recorded) <= wanted:  # missing, unreadable, another chunk (version), a retry
            db.parent.mkdir(parents=True, exist_ok=True)
            _start_over(db, plan)  # an object without chunks still gets its (empty) table
        for chunk in chunks:
            append_chunk(db, plan, chunk, batch_rows)
        loaded = _row_count(db, plan.object_name)
        if loaded == rows:
            return rows
        log.warning("The loading file of %s holds %d rows, its chunk files %d: rebuilding it", plan.object_name,
                    loaded, rows)
    raise RuntimeError(f"{plan.object_name}: the loading file holds {loaded} rows after a rebuild, "
                       f"the chunk files {rows}")


def _row_count(db: Path, table: str) -> int:
    conn = connect_readonly(db)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()[0])
    finally:
        conn.close()


def remove_loading_file(db: Path) -> bool:
    """Delete a loading file and its journal; False when another program holds one open (deleted later)."""
    return all([delete_when_free(path) for path in (db, db.with_name(db.name + "-journal"))])


def _start_over(db: Path, plan: FieldPlan) -> None:
    """A new, empty loading file; one that another program holds open (Windows) is emptied in place instead."""
    if not remove_loading_file(db):
        conn = sqlite3.connect(db)
        try:
            tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in tables:
                conn.execute(f"DROP TABLE {quote(name)}")
            conn.commit()
        finally:
            conn.close()
    _create(db, plan)


def _supersedes(new: Identity, old: Identity) -> bool:
    """A recorded chunk the new one makes stale: the same file re-extracted, another refresh's folder, another plan."""
    return new[0] == old[0] or Path(new[0]).parent != Path(old[0]).parent or new[4] != old[4]


def _identity(chunk: ChunkCheck, plan: FieldPlan) -> Identity:
    stat = chunk.path.stat()
    return str(chunk.path.resolve()), stat.st_size, stat.st_mtime_ns, chunk.rows, plan.to_json()


def _recorded(db: Path) -> list[Identity] | None:
    """The chunks recorded in the loading file; None when it is missing or unreadable (a killed append)."""
    if not db.exists():
        return None
    try:
        conn = connect_readonly(db)
        try:
            return [tuple(r) for r in conn.execute(f"SELECT path, bytes, mtime_ns, rows, plan_json FROM {_CHUNKS}")]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def _create(db: Path, plan: FieldPlan) -> None:
    conn = register_decimal_collation(sqlite3.connect(db))  # the DDL names our collation: ADBC cannot parse it
    try:
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # the staging DB's: the swap copies pages as they are
        conn.execute(create_table_sql(plan, plan.object_name))
        conn.execute(
            f"CREATE TABLE {_CHUNKS} (path TEXT, bytes INTEGER, mtime_ns INTEGER, rows INTEGER, plan_json TEXT)"
        )
        conn.commit()
    finally:
        conn.close()  # closed before ADBC opens the file: one SQLite library at a time


def _ingest(db: Path, plan: FieldPlan, chunk: ChunkCheck, identity: Identity, batch_rows: int) -> None:
    """The chunk's rows and its record in one transaction; the next batch is read and converted on a second
    thread while this one is ingested (both release the GIL in C)."""
    import adbc_driver_sqlite.dbapi as adbc  # imported here: only staging needs the driver

    batches = (to_sqlite_arrow(b) for b in read_conformed(chunk.path, plan.arrow_schema(), batch_rows))
    with adbc.connect(str(db), autocommit=True) as conn, conn.cursor() as cursor, ThreadPoolExecutor(1) as reader:
        cursor.execute("PRAGMA synchronous=OFF")  # no fsync for a local work file; the rollback journal stays
        cursor.fetchall()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            upcoming = reader.submit(next, batches, None)
            while (ready := upcoming.result()) is not None:
                upcoming = reader.submit(next, batches, None)
                cursor.adbc_ingest(plan.object_name, ready, mode="append")
            cursor.execute(f"INSERT INTO {_CHUNKS} VALUES (?, ?, ?, ?, ?)", identity)
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise


class ChunkPreloader:
    """Appends finished chunks to the object's loading file on one background thread while extraction goes on;
    a failure only costs time: the staging step loads what is missing."""

    def __init__(self, staging_db: Path, plan: FieldPlan, batch_rows: int) -> None:
        self.db, self.plan, self.batch_rows = loading_file(staging_db, plan.object_name), plan, batch_rows
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="preload")
        self._pending: list[tuple[Path, Future[None]]] = []

    def submit(self, chunk_file: Path) -> None:
        """Queue a finished chunk file."""
        self._pending.append((chunk_file, self._pool.submit(self._append, chunk_file)))

    def _append(self, chunk_file: Path) -> None:
        chunk = check_chunk(chunk_file, self.plan)
        if chunk.status == "invalid":
            raise ValueError(f"chunk file {chunk_file.name} is invalid ({chunk.reason})")
        append_chunk(self.db, self.plan, chunk, self.batch_rows)

    def __enter__(self) -> ChunkPreloader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Wait for every queued append (the file is closed when the step ends); log the failures."""
        self._pool.shutdown(wait=True)
        for chunk_file, future in self._pending:
            if future.exception() is not None:
                log.warning("Pre-loading chunk %s into SQLite failed (%s); the staging step will load it",
                            chunk_file.name, future.exception())
