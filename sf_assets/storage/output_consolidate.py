"""One consolidated Parquet file from a dataset's part files, streamed with bounded memory."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)


def writer_options(compression: str) -> dict[str, object]:
    """ParquetWriter options Power BI reads: UTC microsecond timestamps, never INT96."""
    return {
        "compression": None if compression == "none" else compression,
        "coerce_timestamps": "us",
        "use_deprecated_int96_timestamps": False,
    }


def has_room(folder: Path, needed_bytes: int) -> bool:
    """True when the disk holding ``folder`` has ``needed_bytes`` free."""
    return shutil.disk_usage(folder).free > needed_bytes


def consolidate(
    parts: Sequence[Path], target: Path, schema: pa.Schema, row_group_rows: int, compression: str = "snappy"
) -> int:
    """Stream the parts' rows into ``target`` in row groups of ``row_group_rows``; returns rows.

    At most one row group (plus one source row group) is held in memory.
    """
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(target, schema, **writer_options(compression)) as writer:
        for part in parts:
            with pq.ParquetFile(part) as handle:
                for batch in handle.iter_batches(batch_size=min(row_group_rows, 65_536)):
                    pending.append(batch)
                    pending_rows += batch.num_rows
                    if pending_rows >= row_group_rows:
                        rows += _flush(writer, pending, schema, row_group_rows)
                        pending, pending_rows = [], 0
        if pending:
            rows += _flush(writer, pending, schema, row_group_rows)
    log.info("Consolidated %d rows from %d parts into %s", rows, len(parts), target.name)
    return rows


def _flush(writer: pq.ParquetWriter, batches: list[pa.RecordBatch], schema: pa.Schema, row_group_rows: int) -> int:
    table = pa.Table.from_batches(batches, schema=schema)
    writer.write_table(table, row_group_size=row_group_rows)
    rows: int = table.num_rows
    return rows
