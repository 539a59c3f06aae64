"""Power BI output: documented types, atomic promotion, byte-identical previous output on failure, manifest."""

import hashlib
import json
import os
import sqlite3
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.config.models import DatasetConfig, OutputConfig
from sf_assets.extract.refresh import finished_refreshes
from sf_assets.extract.tracker import chunk_files_of
from sf_assets.storage import output as output_module
from sf_assets.storage.output import build_version
from sf_assets.storage.output_cleanup import delete_finished_chunk_files, prune_versions, remove_stale_files
from sf_assets.storage.output_promote import promote_all
from sf_assets.storage.output_types import cast_table, powerbi_type

SOURCE = pa.table({
    "Id": pa.array([f"006{i:015d}" for i in range(1000)]),
    "Stage": pa.array(["Won", "Lost", "Open", "Open"] * 250),
    "Amount": pa.array([Decimal(i) / 100 for i in range(1000)], pa.decimal128(18, 2)),
    "Probability": pa.array([Decimal(i % 100) for i in range(1000)], pa.decimal128(3, 0)),
    "Count": pa.array(range(1000), pa.int32()),
    "IsWon": pa.array([i % 2 == 0 for i in range(1000)]),
    "CloseDate": pa.array([date(2024, 1, 1)] * 1000, pa.date32()),
    "Created": pa.array([datetime(2024, 1, 1, 12, tzinfo=UTC)] * 1000, pa.timestamp("ns", "UTC")),
})
SCHEMA = pa.schema([pa.field(f.name, powerbi_type(f.type)) for f in SOURCE.schema])
DATASET = DatasetConfig(name="opps", sql="SELECT 1", partition_cols=["Stage"])
CFG = OutputConfig(row_group_rows=300, max_rows_per_file=200)


def _parts(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    table = cast_table(SOURCE, SCHEMA)
    parts = [folder / "part-00000.parquet", folder / "part-00001.parquet"]
    pq.write_table(table.slice(0, 600), parts[0])
    pq.write_table(table.slice(600), parts[1])
    return parts


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _publish(tmp_path: Path, refresh_id: str, **kw):
    built = build_version(DATASET, _parts(tmp_path / "parts" / refresh_id), SCHEMA, 1000, tmp_path / "out", CFG,
                          refresh_id, source_rows={"Opportunity": 1000}, **kw)
    return promote_all([built], tmp_path / "out", CFG.in_use_wait_s)[0]


def test_consolidated_file_has_the_documented_power_bi_types(tmp_path):
    published = _publish(tmp_path, "r1")
    assert published.stable_file == tmp_path / "out" / "opps" / "opps.parquet"
    table = pq.read_table(published.stable_file)
    assert table.schema == pa.schema([
        ("Id", pa.string()), ("Stage", pa.string()), ("Amount", pa.decimal128(18, 2)),  # exact: no (19,4) fit
        ("Probability", pa.decimal128(19, 4)), ("Count", pa.int64()), ("IsWon", pa.bool_()),
        ("CloseDate", pa.date32()), ("Created", pa.timestamp("us", "UTC")),
    ])
    assert table.num_rows == 1000
    meta = pq.ParquetFile(published.stable_file).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)][0] >= 300
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    frame = pd.read_parquet(published.stable_file)
    assert str(frame["Created"].dtype) == "datetime64[us, UTC]"
    assert frame["Amount"].iloc[123] == Decimal("1.23") and frame["Probability"].iloc[7] == Decimal("7.0000")


def test_duckdb_reads_the_consolidated_file(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    published = _publish(tmp_path, "r1")
    source = f"'{published.stable_file.as_posix()}'"
    assert duckdb.sql(f"SELECT count(*) FROM {source}").fetchall()[0][0] == 1000
    types = dict((row[0], row[1]) for row in duckdb.sql(f"DESCRIBE SELECT * FROM {source}").fetchall())
    assert types["Created"] == "TIMESTAMP WITH TIME ZONE" and types["Amount"] == "DECIMAL(18,2)"
    assert types["Probability"] == "DECIMAL(19,4)"


def test_partitioned_dataset_and_manifest(tmp_path):
    published = _publish(tmp_path, "r1")
    folder = published.folder
    assert folder.name == "vr1" and (folder / "_SUCCESS").exists()
    manifest = json.loads((folder / "_metadata.json").read_text())
    assert manifest["refresh_id"] == "r1" and manifest["rows"] == 1000
    assert manifest["source_row_counts"] == {"Opportunity": 1000}
    assert manifest["consolidated"]["file"] == "opps.parquet" and manifest["consolidated"]["rows"] == 1000
    assert {f["name"] for f in manifest["schema"]} == set(SCHEMA.names)
    files = manifest["files"]
    assert all(f["path"].startswith("dataset/Stage=") for f in files)
    assert max(f["rows"] for f in files) <= 200 and sum(f["rows"] for f in files) == 1000
    for entry in files:
        assert hashlib.md5((folder / entry["path"]).read_bytes()).hexdigest() == entry["md5"]
    assert pq.read_table(folder / "dataset", partitioning="hive").num_rows == 1000
    current = json.loads((tmp_path / "out" / "opps" / "current.json").read_text())
    assert current["refresh_id"] == "r1" and current["folder"] == "vr1"


def test_failure_during_build_leaves_previous_output_byte_identical(tmp_path, monkeypatch):
    _publish(tmp_path, "r1")
    before = _snapshot(tmp_path / "out")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(output_module, "consolidate", broken)
    with pytest.raises(OSError, match="disk full"):
        _publish(tmp_path, "r2")
    assert _snapshot(tmp_path / "out") == before


def test_new_refresh_replaces_the_stable_file_and_old_versions_are_pruned(tmp_path):
    _publish(tmp_path, "r1")
    time.sleep(0.01)
    published = _publish(tmp_path, "r2")
    root = tmp_path / "out" / "opps"
    assert (root / "opps.parquet").read_bytes() == (published.folder / "opps.parquet").read_bytes()
    assert prune_versions(root, keep=1) == [root / "vr1"]
    assert sorted(p.name for p in root.iterdir()) == ["current.json", "opps.parquet", "vr2"]


def test_consolidation_skipped_without_disk_space(tmp_path, monkeypatch):
    monkeypatch.setattr(output_module, "has_room", lambda folder, needed: False)
    published = _publish(tmp_path, "r1")
    assert published.stable_file is None
    assert "not enough free disk" in published.manifest["consolidated"]["skipped"]


def test_cleanup_helpers(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    (old := temp / "old.parquet").write_text("x")
    (temp / "new.parquet").write_text("x")
    os.utime(old, (time.time() - 80 * 3600,) * 2)
    assert remove_stale_files(temp, 72) == 1 and [p.name for p in temp.iterdir()] == ["new.parquet"]

    db = tmp_path / "state.db"
    conn = sqlite3.connect(db)
    conn.executescript((Path(output_module.__file__).parent / "state_schema.sql").read_text())
    done, running = tmp_path / "done.parquet", tmp_path / "running.parquet"
    for path in (done, running):
        path.write_text("x")
    conn.executemany("INSERT INTO refreshes (refresh_id, started_at, status) VALUES (?, 'now', ?)",
                     [("r1", "success"), ("r2", "running")])
    conn.executemany(
        "INSERT INTO chunks (refresh_id, object, chunk_id, file_path, status) VALUES (?, 'Opportunity', 'c', ?, "
        "'success')",
        [("r1", str(done)), ("r2", str(running))],
    )
    conn.commit()
    assert delete_finished_chunk_files(chunk_files_of(conn, finished_refreshes(conn))) == 1
    conn.close()
    assert not done.exists() and running.exists()
