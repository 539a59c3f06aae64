"""The dataset folder of an output version: Hive partitions read back by pyarrow exactly, files and row
groups within their limits, a bounded number of open files; without partition columns, the consolidated
file itself (written once)."""

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from sf_assets.config.models import DatasetConfig, OutputConfig
from sf_assets.storage.output import build_version
from sf_assets.storage.output_partitioned import NULL_SEGMENT, PartitionedWriteLimits, write_partitioned

STAGES = ["Won", "Lost", None, "Needs Analysis/50% done", "Open"]
SOURCE = pa.table({
    "Id": pa.array([f"006{i:015d}" for i in range(1000)]),
    "Stage": pa.array([STAGES[i % 5] for i in range(1000)]),
    "Year": pa.array([2020 + i % 3 for i in range(1000)], pa.int64()),
    "Amount": pa.array([i * 1.5 for i in range(1000)]),
})


def _parts(folder: Path, size: int = 300) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for n, start in enumerate(range(0, SOURCE.num_rows, size)):
        parts.append(folder / f"part-{n:05d}.parquet")
        pq.write_table(SOURCE.slice(start, size), parts[-1])
    return parts


def _rows(table: pa.Table) -> list[tuple]:
    return sorted((r["Id"], r["Stage"], int(r["Year"]), r["Amount"]) for r in table.to_pylist())


def test_partitions_read_back_exactly_within_the_file_and_open_file_limits(tmp_path, monkeypatch):
    opened, closed = [], []
    real = pq.ParquetWriter

    class CountingWriter(real):  # counts writers open at once (the limit is what Windows' handle table needs)
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

        def close(self):
            if self not in closed:
                closed.append(self)
            super().close()

    monkeypatch.setattr(pq, "ParquetWriter", CountingWriter)
    peak = 0
    original_write = CountingWriter.write_table

    def tracking_write(self, *args, **kwargs):
        nonlocal peak
        peak = max(peak, len(opened) - len(closed))
        return original_write(self, *args, **kwargs)

    monkeypatch.setattr(CountingWriter, "write_table", tracking_write)
    limits = PartitionedWriteLimits(max_rows_per_file=70, row_group_rows=40, buffer_rows=100, max_open_files=3)
    files = write_partitioned(_parts(tmp_path / "parts"), SOURCE.schema, tmp_path / "dataset", ["Stage", "Year"],
                              limits, "snappy")
    assert 1 <= peak <= 3 and len(opened) == len(closed)
    back = pads.dataset(tmp_path / "dataset", format="parquet", partitioning="hive",
                        schema=SOURCE.schema).to_table()
    assert _rows(back) == _rows(SOURCE)
    assert {p.parent.parent.name for p in files} >= {"Stage=Won", f"Stage={NULL_SEGMENT}",
                                                     "Stage=Needs%20Analysis%2F50%25%20done"}
    for path in files:
        meta = pq.read_metadata(path)
        assert 0 < meta.num_rows <= 70
        assert all(meta.row_group(i).num_rows <= 40 for i in range(meta.num_row_groups))
        assert meta.schema.to_arrow_schema().names == ["Id", "Amount"]  # partition values live in the path
    assert sorted(files) == sorted(tmp_path.joinpath("dataset").rglob("*.parquet"))


def test_no_partition_columns_roll_files_at_the_row_limit(tmp_path):
    limits = PartitionedWriteLimits(max_rows_per_file=400, row_group_rows=150, buffer_rows=150)
    files = write_partitioned(_parts(tmp_path / "parts"), SOURCE.schema, tmp_path / "dataset", [], limits, "zstd")
    assert [pq.read_metadata(p).num_rows for p in files] == [400, 400, 200]
    assert [p.name for p in files] == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    assert pq.read_table(files[0]).column("Id").to_pylist() == SOURCE.column("Id").to_pylist()[:400]


def test_an_empty_result_still_gets_a_file_with_the_schema(tmp_path):
    empty = tmp_path / "empty.parquet"
    pq.write_table(SOURCE.slice(0, 0), empty)
    limits = PartitionedWriteLimits(max_rows_per_file=10, row_group_rows=10, buffer_rows=10)
    files = write_partitioned([empty], SOURCE.schema, tmp_path / "dataset", ["Stage"], limits, "snappy")
    assert len(files) == 1 and pq.read_metadata(files[0]).num_rows == 0
    assert pq.read_schema(files[0]).names == ["Id", "Year", "Amount"]


def test_without_partition_columns_the_dataset_file_is_the_consolidated_file(tmp_path):
    dataset = DatasetConfig(name="opps", sql="SELECT 1")
    built = build_version(dataset, _parts(tmp_path / "parts"), SOURCE.schema, 1000, tmp_path / "out",
                          OutputConfig(), "r1")
    files = built.manifest["files"]
    assert [f["path"] for f in files] == ["dataset/part-0.parquet"]
    assert os.path.samefile(built.tmp / "dataset" / "part-0.parquet", built.tmp / "opps.parquet")
    assert _rows(pq.read_table(built.tmp / "dataset" / "part-0.parquet")) == _rows(SOURCE)


def test_without_partition_columns_a_dataset_over_the_file_limit_is_split(tmp_path):
    dataset = DatasetConfig(name="opps", sql="SELECT 1")
    built = build_version(dataset, _parts(tmp_path / "parts"), SOURCE.schema, 1000, tmp_path / "out",
                          OutputConfig(max_rows_per_file=600), "r1")
    assert [f["rows"] for f in built.manifest["files"]] == [600, 400]
    assert not os.path.samefile(built.tmp / "dataset" / "part-0.parquet", built.tmp / "opps.parquet")
