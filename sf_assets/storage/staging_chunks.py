"""Chunk DBs: each chunk file loaded into a private SQLite file of its own, as soon as it is extracted.

The extraction step loads every finished chunk into ``<staging>.loading/<Object>.<chunk>.db`` on a
background thread while the next chunks download (``ChunkPreloader``), so the staging step only
copies rows SQLite to SQLite (``staging._swap_in``) instead of converting Parquet then.
``ensure_chunk_db`` is the one way a chunk DB is made: the staging step calls it for every chunk
too and reuses a chunk DB only when its recorded identity (chunk file path, size, mtime, rows and
the field plan) still matches; anything else is rebuilt from the chunk file.

Each chunk DB is written by ADBC (``adbc-driver-sqlite``: rows bound from Arrow buffers in C, about
twice Python's ``executemany``, ``bench/staging_load.py``) under a temporary owner-tagged name
that nothing else opens (journal off: it is disposable), closed, then renamed into place: a kill
leaves only a temporary file, removed by the next load once its owner is dead. ADBC bundles its
own SQLite library, so it never opens a file Python's ``sqlite3`` has open (see ``staging``).
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.chunk_schema import ChunkCheck, check_chunk, read_conformed
from sf_assets.storage.files import replace_with_retry
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets.storage.staging_types import create_table_sql, register_decimal_collation, to_sqlite_arrow
from sf_assets.storage.temp_owner import owner_tag

log = logging.getLogger(__name__)

_IDENTITY = "_sf_chunk"


def loading_folder(staging_db_path: Path) -> Path:
    """The folder of the private chunk DBs, next to the staging DB."""
    return staging_db_path.with_name(staging_db_path.name + ".loading")


def chunk_db_path(folder: Path, object_name: str, chunk_file: Path) -> Path:
    """Where the chunk DB of ``chunk_file`` lives."""
    return folder / f"{object_name}.{chunk_file.stem}.db"


def ensure_chunk_db(folder: Path, plan: FieldPlan, chunk: ChunkCheck, batch_rows: int) -> Path:
    """The chunk DB of a valid chunk: the existing one when it matches the chunk file and plan, else built now."""
    path = chunk_db_path(folder, plan.object_name, chunk.path)
    identity = _identity(chunk, plan)
    if path.exists() and _recorded_identity(path) == identity:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{plan.object_name}.{chunk.path.stem}.{owner_tag()}.{uuid.uuid4().hex[:8]}.db"
    try:
        _load(tmp, plan, chunk, identity, batch_rows)
        replace_with_retry(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def remove_chunk_dbs(folder: Path, object_name: str) -> None:
    """Delete the object's chunk DBs (after they were copied into the staging DB)."""
    for path in folder.glob(f"{object_name}.*.db"):
        if path.name.count(".") == 2:  # <Object>.<chunk>.db; owner-tagged temporaries belong to their writer
            path.unlink(missing_ok=True)


def _identity(chunk: ChunkCheck, plan: FieldPlan) -> tuple[str, int, int, int, str]:
    stat = chunk.path.stat()
    return str(chunk.path.resolve()), stat.st_size, stat.st_mtime_ns, chunk.rows, plan.to_json()


def _recorded_identity(path: Path) -> tuple[str, int, int, int, str] | None:
    try:
        conn = connect_readonly(path)
        try:
            row = conn.execute(f"SELECT path, bytes, mtime_ns, rows, plan_json FROM {_IDENTITY}").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return tuple(row) if row else None


def _load(db: Path, plan: FieldPlan, chunk: ChunkCheck, identity: tuple, batch_rows: int) -> None:
    """Create the table and the identity row with ``sqlite3``, close it, then ingest the rows with ADBC only.

    The next batch is read and converted on a second thread while this one is ingested (both release
    the GIL in C).
    """
    import adbc_driver_sqlite.dbapi as adbc  # imported here: only staging needs the driver

    table = plan.object_name
    create = register_decimal_collation(sqlite3.connect(db))  # the DDL names our collation: ADBC cannot parse it
    try:
        create.execute(create_table_sql(plan, table))
        create.execute(f"CREATE TABLE {_IDENTITY} (path TEXT, bytes INTEGER, mtime_ns INTEGER, rows INTEGER, "
                       "plan_json TEXT)")
        create.execute(f"INSERT INTO {_IDENTITY} VALUES (?, ?, ?, ?, ?)", identity)
        create.commit()
    finally:
        create.close()  # closed before ADBC opens the file: one SQLite library at a time
    batches = (to_sqlite_arrow(b) for b in read_conformed(chunk.path, plan.arrow_schema(), batch_rows))
    with adbc.connect(str(db), autocommit=True) as conn, conn.cursor() as cursor, ThreadPoolExecutor(1) as reader:
        for pragma in ("journal_mode=OFF", "synchronous=OFF"):  # a disposable file: a crash just discards it
            cursor.execute(f"PRAGMA {pragma}")
            cursor.fetchall()
        upcoming = reader.submit(next, batches, None)
        while (ready := upcoming.result()) is not None:
            upcoming = reader.submit(next, batches, None)
            cursor.adbc_ingest(table, ready, mode="append")


class ChunkPreloader:
    """Builds chunk DBs on one background thread while extraction goes on; a failure only costs time:
    the staging step builds that chunk DB itself."""

    def __init__(self, staging_db: Path, plan: FieldPlan, batch_rows: int) -> None:
        self.folder, self.plan, self.batch_rows = loading_folder(staging_db), plan, batch_rows
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="chunk-db")
        self._pending: list[tuple[Path, Future[Path]]] = []

    def submit(self, chunk_file: Path) -> None:
        """Queue the chunk DB of a finished chunk file."""
        self._pending.append((chunk_file, self._pool.submit(self._build, chunk_file)))

    def _build(self, chunk_file: Path) -> Path:
        chunk = check_chunk(chunk_file, self.plan)
        if chunk.status == "invalid":
            raise ValueError(f"chunk file {chunk_file.name} is invalid ({chunk.reason})")
        return ensure_chunk_db(self.folder, self.plan, chunk, self.batch_rows)

    def __enter__(self) -> ChunkPreloader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Wait for every queued chunk DB (none is left half-written by this process); log the failures."""
        self._pool.shutdown(wait=True)
        for chunk_file, future in self._pending:
            if future.exception() is not None:
                log.warning("Pre-loading chunk %s into SQLite failed (%s); the staging step will load it",
                            chunk_file.name, future.exception())

