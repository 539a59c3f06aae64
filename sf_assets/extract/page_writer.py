"""One Bulk results page → one typed Parquet part, streamed: CSV blocks are cast and written as they come.

The header line is split off and compared with the planned column names (another header means the
org's fields changed: `FieldDriftError`, the object is re-planned); the rest goes through
pyarrow's streaming CSV reader (every column a string), `cast_csv_table` and a ParquetWriter on a
temporary name, renamed only when the row count equals the page's Sforce-NumberOfRecords. Cast
blocks are gathered into row groups of ROW_GROUP_ROWS (one block is ~5k rows), the layout of a chunk file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sf_assets.salesforce.csv_cast import arrow_convert_options, arrow_parse_options, cast_csv_table
from sf_assets.salesforce.retry import TransientError
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import replace_when_free

CSV_BLOCK_BYTES = 1 << 20
NOT_FOUND_TEXT = "Records not found for this query"  # Bulk API 1.0's results body for a query without records
PARQUET_COMPRESSION = "snappy"
ROW_GROUP_ROWS = 65_536  # a page's part has the row groups of a chunk file: a one-page chunk is renamed, not re-written


class ChunkValidationError(TransientError):
    """Extracted data disagrees with Salesforce's counts or the plan: the chunk is redone with a new job."""


class FieldDriftError(ChunkValidationError):
    """A results header that differs from the plan: the org's fields changed (the object is re-planned)."""


class ShortPageError(TransientError):
    """A page had fewer or more rows than its Sforce-NumberOfRecords: fetch the same locator again."""


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


class _Body:
    """The page body after its header line (what pyarrow's reader consumes)."""

    def __init__(self, source: Readable, pending: bytes) -> None:
        self._source = source
        self._pending = pending
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, plus one more when they end in CR: pyarrow 26's CSV reader drops
        the LF of a CRLF inside a quoted value when a block ends between the two (checked)."""
        out = self._read(size)
        if out.endswith(b"\r"):
            out += self._read(1)
        return out

    def _read(self, size: int) -> bytes:
        if self._pending:
            if size < 0:
                out, self._pending = self._pending + self._source.read(), b""
            else:
                out, self._pending = self._pending[:size], self._pending[size:]
            return out
        return self._source.read(size)

    def close(self) -> None:
        self.closed = True


def split_header(source: Readable) -> tuple[list[str], _Body]:
    """(header names, rest of the body) of a CSV stream whose header is one LF-terminated line."""
    buffer = b""
    while b"\n" not in buffer:
        block = source.read(64 * 1024)
        if not block:
            break
        buffer += block
    line, _, rest = buffer.partition(b"\n")
    names = next(csv.reader([line.decode("utf-8-sig").rstrip("\r")]), [])
    return names, _Body(source, rest)


def page_batches(source: Readable, plan: FieldPlan, *, empty_job: bool = False) -> Iterator[pa.RecordBatch]:
    """String batches of one results page, after checking its header against the plan's columns.

    A job that reports no records (`empty_job`) may answer with a header line, an empty body or Bulk
    1.0's "Records not found for this query" (docs/EMULATOR.md "Empty results"): all are no rows. The
    last two from a job that reports records are a ChunkValidationError (the chunk gets a new job).
    """
    names, body = split_header(source)
    if names in ([], [NOT_FOUND_TEXT]):
        if empty_job and not body.read(CSV_BLOCK_BYTES).strip():
            return
        form = "an empty body" if not names else repr(NOT_FOUND_TEXT)
        raise ChunkValidationError(f"{plan.object_name}: a results page without a CSV header ({form}) "
                                   + ("followed by more text" if empty_job else "from a job that reports records"))
    if names != list(plan.query_column_names):
        raise FieldDriftError(f"{plan.object_name}: CSV header {names} differs from the planned columns "
                              f"{list(plan.query_column_names)}")
    first = body.read(CSV_BLOCK_BYTES)
    if not first:  # a header-only page
        return
    yield from pacsv.open_csv(
        _Body(body, first),
        read_options=pacsv.ReadOptions(column_names=names, block_size=CSV_BLOCK_BYTES, use_threads=False),
        parse_options=arrow_parse_options(),
        convert_options=arrow_convert_options(plan),
    )


def write_page(source: Readable, plan: FieldPlan, dest: Path, expected_rows: int, *, empty_job: bool = False) -> int:
    """Stream one results page into the Parquet part `dest` (every planned column, even without rows); its rows.

    Raises ChunkValidationError when the header differs from the plan and ShortPageError when the
    rows differ from `expected_rows`; `dest` then does not exist.
    """
    tmp = dest.with_name(dest.name + ".tmp")
    rows = 0
    try:
        with pq.ParquetWriter(tmp, plan.arrow_schema(), compression=PARQUET_COMPRESSION) as writer:
            pending: list[pa.Table] = []
            for batch in page_batches(source, plan, empty_job=empty_job):
                pending.append(cast_csv_table(pa.Table.from_batches([batch]), plan))
                rows += batch.num_rows
                if sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
                    pending = []
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
        if rows != expected_rows:
            raise ShortPageError(f"page has {rows} rows but Sforce-NumberOfRecords says {expected_rows}")
        replace_when_free(tmp, dest)
    finally:
        delete_when_free(tmp)
    return rows
