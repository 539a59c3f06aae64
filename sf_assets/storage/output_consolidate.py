"""One consolidated Parquet file from a dataset's part files, streamed with bounded memory."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:  # Dask workers import this module (engine_result): no pydantic there
    from sf_assets.config.output import OutputConfig

log = logging.getLogger(__name__)


def writer_options(compression: str, profile: str = "gateway") -> dict[str, object]:
    """ParquetWriter options, each passed explicitly so a pyarrow default never decides what a reader must know.

    ``gateway`` (docs/VALUES.md): format 2.4, data page v1, only PLAIN / RLE / RLE_DICTIONARY encodings, UTC
    microsecond timestamps (never INT96), decimals as FIXED_LEN_BYTE_ARRAY at every precision, statistics.
    ``modern`` keeps the same types and pages and allows format 2.6 and zstd.
    """
    gateway = profile == "gateway"
    return {
        "version": "2.4" if gateway else "2.6",  # 2.4: every logical type we write, no nanosecond timestamps
        "data_page_version": "1.0",  # v2 pages are what older readers fail on
        "use_dictionary": True,  # RLE_DICTIONARY, falling back to PLAIN when the dictionary grows too large
        "use_byte_stream_split": False,
        "column_encoding": None,  # no DELTA_* encodings
        "compression": None if compression == "none" else compression,
        "coerce_timestamps": "us",
        "allow_truncated_timestamps": False,  # a timestamp finer than a microsecond fails instead of losing digits
        "use_deprecated_int96_timestamps": False,
        "store_decimal_as_integer": False,  # every precision as FIXED_LEN_BYTE_ARRAY, as every reader knows it
        "write_time_adjusted_to_utc": False,  # TIME: a time of day without a zone (isAdjustedToUTC false)
        "write_statistics": True,
        "write_page_index": False,
        "store_schema": True,
    }


@dataclass(frozen=True)
class PartFormat:
    """How the consolidated file is written (codec, profile, row group size). An engine that writes its part
    files this way hands over a single part as the consolidated file itself: no second encoding."""

    compression: str
    profile: str
    row_group_rows: int

    @classmethod
    def of(cls, output: OutputConfig) -> PartFormat:
        """The format of the consolidated file `output` asks for."""
        return cls(output.compression, output.parquet_profile, output.row_group_rows)

    def write(self, table: pa.Table, path: str | Path) -> None:
        """Write ``table`` as one Parquet file in this format."""
        pq.write_table(table, path, row_group_size=self.row_group_rows,
                       **writer_options(self.compression, self.profile))


def has_room(folder: Path, needed_bytes: int) -> bool:
    """True when the disk holding ``folder`` has ``needed_bytes`` free."""
    return shutil.disk_usage(folder).free > needed_bytes


def consolidate(
    parts: Sequence[Path], target: Path, schema: pa.Schema, row_group_rows: int, compression: str = "snappy",
    profile: str = "gateway", observe: Callable[[pa.RecordBatch], None] | None = None,
) -> int:
    """Stream the parts' rows into ``target`` in row groups of ``row_group_rows``; returns rows.

    At most one row group (plus one source row group) is held in memory; ``observe`` sees every batch read.
    """
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with pq.ParquetWriter(target, schema, **writer_options(compression, profile)) as writer:
        for part in parts:
            with pq.ParquetFile(part) as handle:
                for batch in handle.iter_batches(batch_size=min(row_group_rows, 65_536)):
                    if observe is not None:
                        observe(batch)
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
