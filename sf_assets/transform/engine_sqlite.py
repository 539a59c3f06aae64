"""The low-memory dataset engine: the SQL runs inside SQLite, its rows stream into Parquet parts as Arrow.

Python's ``sqlite3`` opens the staging DB read-only and runs ``CREATE TABLE … AS <sql>`` into a
private result file in the parts folder (journal off: it is disposable), all in SQLite's C code;
then ADBC reads that file as Arrow record batches, which are typed by the staged columns'
declared types and written as parts. Fetching the rows through ``sqlite3`` instead built a
Python object per value: 15 s of 18 s for 2 M joined rows (``bench/refresh_vs_baseline.py
--engine sqlite``, docs/PERFORMANCE.md). ADBC never opens the staging DB, and ``sqlite3`` has
closed the result file before ADBC opens it: one SQLite library per file (see ``storage.staging``).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.config import PipelineConfig
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.output_types import cast_table
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets.storage.staging_types import from_sqlite_arrow, quote
from sf_assets.transform.engine_result import EngineResult, part_path
from sf_assets.transform.result_schema import declared_types, output_schema
from sf_assets.transform.staged import StagedTable

RESULT_TABLE = "result"
# Page cache of each file during the CREATE TABLE … AS (with 16 KiB result pages): 3.6–4.1 s, not 5.5 s, for 2 M rows.
CACHE_MB = 64


@dataclass(frozen=True)
class SqliteRunner:
    """The SQLite engine, started (nothing to start): one dataset's SQL per call."""

    decimals_as_float: bool = False
    engine: ClassVar[str] = "sqlite"

    def __call__(self, staging_db: Path, tables: dict[str, StagedTable], sql: str, out_dir: Path) -> EngineResult:
        """Run `sql` inside SQLite into Parquet parts under `out_dir`."""
        return run_sqlite(staging_db, sql, out_dir, decimals_as_float=self.decimals_as_float)


@contextmanager
def start(config: PipelineConfig, work_dir: Path, *, trial: bool = False,
          input_rows: int | None = None) -> Iterator[SqliteRunner]:
    """The engine of `transform.engine: sqlite` (`transform.engines`): no process, no cluster."""
    yield SqliteRunner(config.output.decimals_as_float)


def run_sqlite(
    staging_db: Path,
    sql: str,
    out_dir: Path,
    *,
    batch_rows: int = 50_000,
    rows_per_part: int = 1_000_000,
    decimals_as_float: bool = False,
) -> EngineResult:
    """Run ``sql`` in SQLite; write the result as Parquet parts of at most ``rows_per_part`` rows."""
    declared = declared_types(staging_db, sql)
    out_dir.mkdir(parents=True, exist_ok=True)
    result_db = out_dir / "result.db"
    try:
        _materialize(staging_db, sql, result_db)
        return _write_parts(result_db, out_dir, declared, batch_rows, rows_per_part, decimals_as_float)
    finally:
        for path in (result_db, result_db.with_name(result_db.name + "-journal")):
            delete_when_free(path)


def _materialize(staging_db: Path, sql: str, result_db: Path) -> None:
    conn = connect_readonly(staging_db)
    try:
        conn.execute("ATTACH DATABASE ? AS result_file", (str(result_db),))
        for pragma in ("result_file.page_size=16384", "result_file.journal_mode=OFF", "result_file.synchronous=OFF",
                       f"main.cache_size=-{CACHE_MB * 1024}", f"result_file.cache_size=-{CACHE_MB * 1024}"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(f"CREATE TABLE result_file.{quote(RESULT_TABLE)} AS {sql.strip().rstrip(';')}")
        conn.commit()
    finally:
        conn.close()  # closed before ADBC opens the result file


def _write_parts(result_db: Path, out_dir: Path, declared: dict, batch_rows: int, rows_per_part: int,
                 decimals_as_float: bool) -> EngineResult:
    import adbc_driver_sqlite.dbapi as adbc  # imported here: only this engine and staging need the driver

    writer: pq.ParquetWriter | None = None
    parts: list[Path] = []
    rows = part_rows = 0
    schema: pa.Schema | None = None
    with adbc.connect(str(result_db)) as conn, conn.cursor() as cursor, ThreadPoolExecutor(1) as reader_thread:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cursor.execute(f"SELECT * FROM {quote(RESULT_TABLE)} ORDER BY rowid")
        reader = cursor.fetch_record_batch()
        names = reader.schema.names
        typed = ([from_sqlite_arrow(col, declared.get(n.lower())) for col, n in zip(batch.columns, names)]
                 for batch in _batches_or_empty(reader))
        try:
            upcoming = reader_thread.submit(next, typed, None)  # the next batch is read and typed meanwhile
            while (arrays := upcoming.result()) is not None:
                upcoming = reader_thread.submit(next, typed, None)
                if schema is None:
                    schema = output_schema(names, [a.type for a in arrays], declared, decimals_as_float)
                table = cast_table(pa.Table.from_arrays(arrays, names=names), schema)
                if writer is None or part_rows >= rows_per_part:
                    if writer is not None:
                        writer.close()
                    parts.append(part_path(out_dir, len(parts)))
                    writer, part_rows = pq.ParquetWriter(parts[-1], schema), 0
                writer.write_table(table)
                rows += table.num_rows
                part_rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
    assert schema is not None
    return EngineResult(rows, schema, tuple(parts))


def _batches_or_empty(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """The reader's batches; one empty batch of its schema when the result has no rows (for the schema)."""
    empty = True
    for batch in reader:
        empty = False
        yield batch
    if empty:
        yield pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in reader.schema], schema=reader.schema)
