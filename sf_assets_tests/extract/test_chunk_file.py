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


def _sf_id(n: int) -> str:
    return f"001{n:012d}AAA"  # an 18-character Id, as the Bulk API returns them


@pytest.mark.parametrize("duplicate", [None, (3, 26), (0, 1)])
def test_eighteen_character_ids_are_checked_for_duplicates_across_pages(plans, tmp_path, duplicate):
    """The sort-based check on 18-character Ids (the real ones): a repeat anywhere across the pages (first and
    last page, neighbours) is found, and distinct Ids pass."""
    plan = plans["Account"]
    ids = [_sf_id(n) for n in range(28)]
    if duplicate is not None:
        ids[duplicate[1]] = ids[duplicate[0]]
    parts = [write_part(plan, tmp_path / "parts" / f"page-{i + 1:05d}.parquet", ids[i * 7:(i + 1) * 7])
             for i in range(4)]
    if duplicate is None:
        assert merge_parts(parts, tmp_path / "chunk.parquet", plan, None, None).rows == 28
    else:
        with pytest.raises(ChunkValidationError, match="1 duplicate Id"):
            merge_parts(parts, tmp_path / "chunk.parquet", plan, None, None)


def test_ids_of_mixed_lengths_are_checked_for_duplicates_too(plans, tmp_path):
    plan = plans["Account"]
    parts = [write_part(plan, tmp_path / "parts" / "page-00001.parquet", [_sf_id(1), "001B"]),
             write_part(plan, tmp_path / "parts" / "page-00002.parquet", [_sf_id(1)])]
    with pytest.raises(ChunkValidationError, match="1 duplicate Id"):
        merge_parts(parts, tmp_path / "chunk.parquet", plan, None, None)
