"""A chunk's page parts become its chunk file: a one-page chunk is checked and renamed, several pages merged;
either way every Id is checked and the tracker's stats (rows, checksum, latest LastModifiedDate) are exact."""

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.extract.chunk_file import LAST_MODIFIED, merge_parts
from sf_assets.extract.page_writer import ChunkValidationError
from sf_assets.storage.files import file_digest


def write_part(plan, path: Path, ids: list[str], day0: int = 1) -> Path:
    schema = plan.arrow_schema()
    columns = {}
    for f in schema:
        if f.name == "Id":
            columns[f.name] = pa.array(ids).cast(f.type)
        elif f.name == LAST_MODIFIED:
            columns[f.name] = pa.array([datetime(2024, 1, day0 + i, tzinfo=UTC) for i in range(len(ids))],
                                       f.type)
        elif f.nullable:
            columns[f.name] = pa.nulls(len(ids), f.type)
        else:
            columns[f.name] = pa.array([f"x{i}" for i in range(len(ids))]).cast(f.type)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=schema), path)
    return path


def test_a_one_page_chunk_is_renamed_into_place_with_exact_stats(plans, tmp_path):
    plan = plans["Account"]
    assert LAST_MODIFIED in plan.column_names
    part = write_part(plan, tmp_path / "parts" / "page-00001.parquet", ["001A", "001B", "001C"])
    digest = file_digest(part)
    stats = merge_parts([part], tmp_path / "chunk.parquet", plan, "001A", "001D")
    assert not part.exists()
    assert (stats.rows, stats.checksum, stats.bytes) == (3, digest, (tmp_path / "chunk.parquet").stat().st_size)
    assert stats.max_last_modified == "2024-01-03T00:00:00.000Z"
    assert pq.read_table(tmp_path / "chunk.parquet").column("Id").to_pylist() == ["001A", "001B", "001C"]


@pytest.mark.parametrize(("ids", "message"), [
    (["001A", "001A"], "duplicate Id"),
    (["001A", "001Z"], "outside the chunk range"),
])
def test_a_one_page_chunk_with_bad_ids_is_refused_and_left_in_place(plans, tmp_path, ids, message):
    plan = plans["Account"]
    part = write_part(plan, tmp_path / "parts" / "page-00001.parquet", ids)
    with pytest.raises(ChunkValidationError, match=message):
        merge_parts([part], tmp_path / "chunk.parquet", plan, "001A", "001D")
    assert part.exists() and not (tmp_path / "chunk.parquet").exists()


def test_a_page_part_with_another_schema_is_refused(plans, tmp_path):
    plan = plans["Account"]
    part = tmp_path / "page-00001.parquet"
    pq.write_table(pa.table({"Id": ["001A"]}), part)
    with pytest.raises(ChunkValidationError, match="schema"):
        merge_parts([part], tmp_path / "chunk.parquet", plan, None, None)


def test_several_pages_merge_into_the_same_rows_and_stats(plans, tmp_path):
    plan = plans["Account"]
    parts = [write_part(plan, tmp_path / "parts" / "page-00001.parquet", ["001A", "001B"], day0=5),
             write_part(plan, tmp_path / "parts" / "page-00002.parquet", ["001C"], day0=2)]
    stats = merge_parts(parts, tmp_path / "chunk.parquet", plan, None, None)
    assert (stats.rows, stats.max_last_modified) == (3, "2024-01-06T00:00:00.000Z")
    assert pq.read_table(tmp_path / "chunk.parquet").column("Id").to_pylist() == ["001A", "001B", "001C"]
    assert stats.checksum == file_digest(tmp_path / "chunk.parquet")
