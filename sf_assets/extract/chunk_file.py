"""Merge a chunk's Parquet parts into its one chunk file: streamed row groups, Id checks, atomic rename.

A chunk of one page (``chunk_size`` <= ``max_records_per_page``, the default) is checked from its Id
and LastModifiedDate columns alone and its part renamed into place: the page writer already wrote it
with the chunk file's schema, codec and row groups (``bench/refresh_vs_baseline.py``: the re-write
took 2.7 s of the main process's CPU for 2 M rows).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sf_assets.extract.page_writer import PARQUET_COMPRESSION, ROW_GROUP_ROWS, ChunkValidationError
from sf_assets.schema.field_plan import PLAN_FINGERPRINT_KEY, FieldPlan
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import file_digest, replace_when_free

LAST_MODIFIED = "LastModifiedDate"
_ONE_MERGE_AT_A_TIME = threading.Lock()
SALESFORCE_ID_LENGTH = 18  # what the Bulk API returns (the 15-character form plus its case checksum)


@dataclass(frozen=True)
class ChunkFileStats:
    """What the tracker records about a finished chunk file."""

    rows: int
    bytes: int
    checksum: str
    max_last_modified: str | None


def parquet_rows(paths: Sequence[Path]) -> int:
    """Rows of Parquet files, from their footers (each file closed at once: Windows cannot delete an open file)."""
    return sum(pq.read_metadata(p).num_rows for p in paths)


def _salesforce_stamp(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _IdCheck:
    """Ids present, unique (within the chunk) and inside [id_lo, id_hi).

    Uniqueness is checked by sorting: Salesforce's 18-character Ids are kept as fixed-width bytes (45 MB per 2.5 M
    rows, a view of Arrow's buffer copied once), sorted in place and compared with their neighbours. Arrow's
    `count_distinct` took 2.1 s and ~390 MB for the same 2.5 M Ids, and a refresh merges up to three chunks at once
    (a job's pages download while the next job runs). Ids of another length fall back to it.
    """

    def __init__(self, id_lo: str | None, id_hi: str | None) -> None:
        self.id_lo, self.id_hi = id_lo, id_hi
        self.fixed: list[np.ndarray] = []
        self.other: list[pa.Array] = []

    def add(self, ids: pa.ChunkedArray) -> None:
        if ids.null_count:
            raise ChunkValidationError(f"{ids.null_count} row(s) without an Id")
        if len(ids):
            bounds = pc.min_max(ids).as_py()
            if (self.id_lo is not None and bounds["min"] < self.id_lo) or (
                    self.id_hi is not None and bounds["max"] >= self.id_hi):
                raise ChunkValidationError(
                    f"Ids {bounds['min']}..{bounds['max']} fall outside the chunk range [{self.id_lo}, {self.id_hi})")
        for chunk in ids.cast(pa.string()).chunks:
            fixed = _fixed_width(chunk)
            if fixed is None:
                self.other.append(chunk)
            else:
                self.fixed.append(fixed)

    def finish(self, rows: int) -> None:
        if self.other:  # not all 18 characters: Arrow's hash count over every Id
            arrays = [pa.array(f, pa.binary()).cast(pa.string()) for f in self.fixed] + self.other
            distinct = pc.count_distinct(pa.chunked_array(arrays, pa.string())).as_py()
        else:
            ids = np.concatenate(self.fixed) if self.fixed else np.empty(0, f"S{SALESFORCE_ID_LENGTH}")
            self.fixed = []
            ids.sort()
            distinct = len(ids) - int(np.count_nonzero(ids[1:] == ids[:-1]))
        if distinct != rows:
            raise ChunkValidationError(f"{rows - distinct} duplicate Id(s) in {rows} rows")


def _fixed_width(ids: pa.Array) -> np.ndarray | None:
    """The Ids of a string array as a copy of fixed-width bytes, or None when one is not 18 characters long."""
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32, count=len(ids) + 1, offset=ids.offset * 4)
    if len(ids) and not (np.diff(offsets) == SALESFORCE_ID_LENGTH).all():
        return None
    data = ids.buffers()[2]
    return np.frombuffer(data, dtype=f"S{SALESFORCE_ID_LENGTH}", count=len(ids), offset=int(offsets[0])).copy() \
        if len(ids) else np.empty(0, f"S{SALESFORCE_ID_LENGTH}")


def merge_parts(
    parts: Sequence[Path], dest: Path, plan: FieldPlan, id_lo: str | None, id_hi: str | None
) -> ChunkFileStats:
    """Stream `parts` (in order) into `dest` (temp name, then atomic rename), checking every Id. One merge at a
    time in a process: a merge of a 2.5 M-row chunk takes ~230 MB and ~4 s of one core, and up to three chunks
    of an object (more with objects at the same time) finish their downloads together."""
    with _ONE_MERGE_AT_A_TIME:
        try:
            if len(parts) == 1:
                return _adopt_single_part(parts[0], dest, plan, id_lo, id_hi)
            return _merge(parts, dest, plan, id_lo, id_hi)
        finally:
            pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed pages otherwise (~80 MB)


def _merge(parts: Sequence[Path], dest: Path, plan: FieldPlan, id_lo: str | None, id_hi: str | None) -> ChunkFileStats:
    tmp = dest.with_name(dest.name + ".tmp")
    check = _IdCheck(id_lo, id_hi)
    has_last_modified = LAST_MODIFIED in plan.column_names
    rows, latest = 0, None
    pending: list[pa.Table] = []
    try:
        with pq.ParquetWriter(tmp, plan.arrow_schema(), compression=PARQUET_COMPRESSION) as writer:
            for part in parts:
                with pq.ParquetFile(part) as source:  # closed even when a check fails and its traceback is kept
                    for group in range(source.num_row_groups):
                        table = source.read_row_group(group)
                        check.add(table.column("Id"))
                        if has_last_modified:
                            top = pc.max(table.column(LAST_MODIFIED)).as_py()
                            latest = top if latest is None or (top is not None and top > latest) else latest
                        pending.append(table)
                        rows += table.num_rows
                        if sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                            writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
                            pending = []
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
        check.finish(rows)
        checksum, size = file_digest(tmp), tmp.stat().st_size
        replace_when_free(tmp, dest)
    finally:
        delete_when_free(tmp)
    return ChunkFileStats(rows, size, checksum, _salesforce_stamp(latest))


def _adopt_single_part(part: Path, dest: Path, plan: FieldPlan, id_lo: str | None, id_hi: str | None) -> ChunkFileStats:
    """Check a one-page chunk's Ids (and find its latest LastModifiedDate), then rename the part to `dest`."""
    check = _IdCheck(id_lo, id_hi)
    columns = ["Id", LAST_MODIFIED] if LAST_MODIFIED in plan.column_names else ["Id"]
    with pq.ParquetFile(part) as source:
        if source.schema_arrow != plan.arrow_schema():
            raise ChunkValidationError(f"page part {part.name} has schema {source.schema_arrow}, not the plan's")
        table = source.read(columns=columns)
    check.add(table.column("Id"))
    check.finish(table.num_rows)
    latest = pc.max(table.column(LAST_MODIFIED)).as_py() if LAST_MODIFIED in columns else None
    checksum, size = file_digest(part), part.stat().st_size
    replace_when_free(part, dest)
    return ChunkFileStats(table.num_rows, size, checksum, _salesforce_stamp(latest))


def chunk_plan_fingerprint(path: Path) -> str | None:
    """The fingerprint of the field plan a chunk file was written with (None for files written before it was kept)."""
    metadata = pq.read_schema(path).metadata or {}
    value = metadata.get(PLAN_FINGERPRINT_KEY)
    return value.decode() if value is not None else None
