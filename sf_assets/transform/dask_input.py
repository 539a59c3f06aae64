"""Staged tables as Dask DataFrames with explicit meta from the field plan.

Input path (bench/dask_read_path.py measures both): a table is read from its Parquet chunk
files when those files are exactly the ones staged (same path, size and mtime, recorded by
staging), a partition per run of row groups of at most PARTITION_ROWS rows (a chunk may hold
millions of rows: a worker's memory is bounded by the partition, not by the chunk, and a large
chunk spreads over the workers); otherwise from SQLite in rowid ranges of as many rows. SQLite stays the
system of record: the Parquet path is only a faster reader of the same bytes that were loaded.
Either way, columns carry their SQL names (``Account_Name``) and hold exactly what the SQLite
staging table holds (``staging_types.engine_arrow``): Arrow-backed strings for text, dates,
times, timestamps (ISO text: exact from 1700 to 4000, where pandas nanoseconds end in 2262) and
decimals of more than 15 digits (exact text); Float64 for narrower decimals and doubles; Int64
and boolean. No column is a pandas object column of Python values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.chunk_schema import read_conformed
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets.storage.staging_types import engine_arrow, from_sqlite_column, quote, sql_names
from sf_assets.transform.staged import StagedTable

Source = Literal["auto", "parquet", "sqlite"]
PARTITION_ROWS = 262_144  # 4 row groups of a chunk file (page_writer.ROW_GROUP_ROWS); a worker peaked at ~650 MB
Piece = tuple[str, tuple[int, ...]]  # a chunk file and the row groups of one partition


_PANDAS_OF_ARROW = {
    pa.string(): pd.StringDtype("pyarrow"), pa.bool_(): pd.BooleanDtype(),
    pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(),
}


def table_meta(plan: FieldPlan) -> pd.DataFrame:
    """Empty frame with the SQL names and pandas dtypes of the plan's columns."""
    return pd.DataFrame({
        name: pd.Series([], dtype=col.pandas_dtype) for name, col in zip(sql_names(plan), plan.columns)
    })


def to_pandas(table: pa.Table, plan: FieldPlan) -> pd.DataFrame:
    """A typed Arrow table in plan column order as a frame matching ``table_meta(plan)``."""
    frame = engine_arrow(table).to_pandas(types_mapper=_PANDAS_OF_ARROW.get)
    meta = table_meta(plan)
    return frame.astype(meta.dtypes.to_dict()) if len(frame) else meta


def file_pieces(path: str, rows_per_piece: int = PARTITION_ROWS) -> list[Piece]:
    """The chunk file's row groups in runs of at most ``rows_per_piece`` rows (one run if a group is larger; an
    empty file is one empty run)."""
    meta = pq.read_metadata(path)
    pieces: list[Piece] = []
    groups: list[int] = []
    rows = 0
    for group in range(meta.num_row_groups):
        group_rows = meta.row_group(group).num_rows
        if groups and rows + group_rows > rows_per_piece:
            pieces.append((path, tuple(groups)))
            groups, rows = [], 0
        groups.append(group)
        rows += group_rows
    if groups or not pieces:
        pieces.append((path, tuple(groups)))
    return pieces


def read_parquet_partition(piece: Piece, plan: FieldPlan) -> pd.DataFrame:
    """Row groups of one chunk file, conformed to the plan's schema."""
    path, groups = piece
    batches = list(read_conformed(Path(path), plan.arrow_schema(), 1 << 20, row_groups=groups))
    return to_pandas(pa.Table.from_batches(batches, plan.arrow_schema()), plan)


def read_sqlite_partition(bounds: tuple[str, int, int], plan: FieldPlan) -> pd.DataFrame:
    """Rows lo <= rowid < hi of the staged table, typed by the plan."""
    db, lo, hi = bounds
    names = sql_names(plan)
    conn = connect_readonly(db)
    try:
        rows = conn.execute(
            f"SELECT {', '.join(map(quote, names))} FROM {quote(plan.object_name)} "
            "WHERE rowid >= ? AND rowid < ? ORDER BY rowid", (lo, hi),
        ).fetchall()
    finally:
        conn.close()
    columns = list(zip(*rows)) if rows else [()] * len(names)
    arrays = [from_sqlite_column(values, col.column_type) for values, col in zip(columns, plan.columns)]
    return to_pandas(pa.Table.from_arrays(arrays, names=names), plan)


def dask_table(table: StagedTable, staging_db: Path, source: Source = "auto") -> dd.DataFrame:
    """The staged table as a Dask DataFrame (see the module doc for the input path)."""
    meta = table_meta(table.plan)
    if source == "parquet" or (source == "auto" and table.files_unchanged()):
        pieces = [piece for f in table.files for piece in file_pieces(str(f.path), PARTITION_ROWS)]
        return dd.from_map(read_parquet_partition, pieces, plan=table.plan, meta=meta, enforce_metadata=False)
    conn = connect_readonly(staging_db)
    try:
        lo, hi = conn.execute(f"SELECT min(rowid), max(rowid) FROM {quote(table.name)}").fetchone()
    finally:
        conn.close()
    starts = range(lo or 0, (hi or 0) + 1, PARTITION_ROWS)
    bounds = [(str(staging_db), s, s + PARTITION_ROWS) for s in starts] or [(str(staging_db), 0, 0)]
    return dd.from_map(read_sqlite_partition, bounds, plan=table.plan, meta=meta, enforce_metadata=False)
