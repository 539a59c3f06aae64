"""The low-memory dataset engine: the SQL runs inside the staging DB, rows stream into Parquet parts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.storage.output_types import cast_table
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets.storage.staging_types import from_sqlite_column
from sf_assets.transform.engine_result import EngineResult, part_path
from sf_assets.transform.result_schema import declared_types, output_schema


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
    conn = connect_readonly(staging_db)
    writer: pq.ParquetWriter | None = None
    parts: list[Path] = []
    rows = part_rows = 0
    schema: pa.Schema | None = None
    try:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        while True:
            batch = cursor.fetchmany(batch_rows)
            if not batch and schema is not None:
                break
            columns = list(zip(*batch)) if batch else [()] * len(names)
            arrays = [from_sqlite_column(col, declared.get(n.lower())) for col, n in zip(columns, names)]
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
            if not batch:
                break
    finally:
        if writer is not None:
            writer.close()
        conn.close()
    assert schema is not None
    return EngineResult(rows, schema, tuple(parts))
