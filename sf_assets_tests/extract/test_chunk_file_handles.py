"""Merging a chunk's parts leaves no Parquet file open, even when it fails: Windows cannot delete an open file,
so a handle kept alive by a held exception would leave the parts behind (and `rmtree(ignore_errors=True)` hide it)."""

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.extract.chunk_file import merge_parts, parquet_rows
from sf_assets.extract.page_writer import ChunkValidationError

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists open files through /proc")


def open_files() -> set[Path]:
    """Files this process has open (Linux), the view Windows' delete check has."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add(Path(os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:
            continue
    return found


def write_parts(plan, folder: Path, ids: list[list[str]]) -> list[Path]:
    folder.mkdir(parents=True)
    schema = plan.arrow_schema()
    parts = []
    for n, chunk_ids in enumerate(ids, start=1):
        columns = {f.name: pa.nulls(len(chunk_ids), f.type) if f.nullable else pa.array(chunk_ids).cast(f.type)
                   for f in schema}
        path = folder / f"page_{n:05d}.parquet"
        pq.write_table(pa.table(columns, schema=schema.remove_metadata()), path)
        parts.append(path)
    return parts


def test_no_part_stays_open_after_a_failed_merge(plans, tmp_path):
    plan = plans["Account"]
    parts = write_parts(plan, tmp_path / "parts", [["001A", "001B"], ["001B", "001C"]])  # a duplicate Id
    assert parquet_rows(parts) == 4 and not set(parts) & open_files()
    with pytest.raises(ChunkValidationError) as failure:  # the exception (and its traceback) is kept, as retries do
        merge_parts(parts, tmp_path / "chunk.parquet", plan, None, None)
    assert failure.value is not None
    assert not set(parts) & open_files()
    for part in parts:
        part.unlink()  # would raise PermissionError on Windows with a handle open
