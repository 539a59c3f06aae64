"""The health JSON: content, redaction, atomic writes and never raising, with real files and a real state DB."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from sf_assets.health import (ChunkCounts, FileInfo, HealthReport, Messages, PublishStatus, chunk_counts, disk_free,
                              file_info, health_report_path, rows_per_object, write_health_report)
from sf_assets.observability.redaction import register_secret
from sf_assets.salesforce.api_usage import ApiUsage
from sf_assets.storage.state_db import open_state_db

START = datetime(2025, 1, 31, 2, 0, tzinfo=timezone.utc)
FAKE_TOKEN = "fake-token-7f3a9c1e5b2d"


def sample_report(status: str = "failed", error: str = "Bulk job failed") -> HealthReport:
    return HealthReport(
        refresh_id="20250131T020000Z-ab12", status=status, started_at=START, ended_at=START + timedelta(seconds=95),
        run_ids=["run-1", "run-2"], rows_per_object={"Account": 2000, "Contact": 4000},
        chunks={"Account": ChunkCounts(ok=2), "Contact": ChunkCounts(ok=3, fixed=1, failed=1)},
        errors=Messages.of([error]), warnings=Messages.of([f"w{i}" for i in range(30)], keep=5),
        api_usage_start=ApiUsage(1000, 20000), api_usage_end=ApiUsage(1100, 20000),
        sqlite={"tables": {"Account": {"rows": np.int64(2000)}}, "file_bytes": 123, "ratio": float("nan")},
        final_files=[FileInfo(Path("out/sales.parquet"), 10, "abc")],
        published=[PublishStatus(Path("out/sales.parquet"), False, error="PublishError: share unreachable")],
    )


def test_failed_refresh_report_is_written_with_totals(tmp_path: Path) -> None:
    path = write_health_report(sample_report(), tmp_path)
    assert path == tmp_path / "health_check_20250131T020000Z-ab12.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["status"] == "failed" and data["duration_s"] == 95.0 and data["run_ids"] == ["run-1", "run-2"]
    assert data["rows_total"] == 6000 and data["chunks_total"] == {"ok": 5, "fixed": 1, "failed": 1, "skipped": 0}
    assert data["warnings"] == {"count": 30, "last": ["w25", "w26", "w27", "w28", "w29"]}
    assert data["api_usage_end"] == {"used": 1100, "max": 20000, "pct": 5.5}
    assert data["sqlite"] == {"tables": {"Account": {"rows": 2000}}, "file_bytes": 123, "ratio": None}
    assert data["published"][0]["ok"] is False and "unreachable" in data["published"][0]["error"]
    assert re.fullmatch(r"[0-9a-f]{40}", data["code"]["git_commit"])  # the tests run in a git checkout
    assert {"dagster", "simple-salesforce", "pyarrow", "dask", "distributed", "dask-sql", "pandas", "pydantic",
            "tenacity", "python"} <= set(data["packages"])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_report_contains_no_secret(tmp_path: Path) -> None:
    register_secret(FAKE_TOKEN)
    report = sample_report(error=f"INVALID_SESSION_ID for token {FAKE_TOKEN}")
    report.sqlite = {f"key-{FAKE_TOKEN}": f"Authorization: Bearer {FAKE_TOKEN}"}
    report.published = [PublishStatus(Path("x"), False, error=f"access_token={FAKE_TOKEN}")]
    text = write_health_report(report, tmp_path).read_text(encoding="utf-8")
    assert FAKE_TOKEN not in text and "INVALID_SESSION_ID for token ***" in text


def test_rewrite_replaces_the_previous_report(tmp_path: Path) -> None:
    write_health_report(sample_report("failed"), tmp_path)
    path = write_health_report(sample_report("success"), tmp_path)
    assert json.loads(path.read_text())["status"] == "success" and len(list(tmp_path.iterdir())) == 1


def test_unwritable_output_dir_returns_none_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Tests run as root here, so chmod cannot make a folder unwritable; a folder "under a file" can never be created.
    (tmp_path / "a_file").write_text("")
    sleeps: list[float] = []
    assert write_health_report(sample_report(), tmp_path / "a_file" / "out", sleep=sleeps.append) is None
    assert len(sleeps) == 2  # three attempts
    assert "Could not write the health report of refresh 20250131T020000Z-ab12" in caplog.text


def test_failed_rename_keeps_previous_content_and_leaves_no_temp(tmp_path: Path) -> None:
    # A folder squatting on the report's name makes the final rename fail after the temp file was written.
    target = health_report_path(tmp_path, "r1")
    target.mkdir()
    (target / "keep.txt").write_text("previous")
    report = sample_report()
    report.refresh_id = "r1"
    assert write_health_report(report, tmp_path, sleep=lambda s: None) is None
    assert [p.name for p in tmp_path.iterdir()] == [target.name] and (target / "keep.txt").read_text() == "previous"


def test_bad_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        HealthReport("r1", "done")  # type: ignore[arg-type]


def test_never_raises_on_a_broken_report(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    report = sample_report()
    report.rows_per_object = {"Account": "not a number"}  # type: ignore[dict-item]  # to_dict's sum() fails
    assert write_health_report(report, tmp_path) is None and "Could not write" in caplog.text


def test_chunk_counts_and_rows_from_state_db(tmp_path: Path) -> None:
    conn = open_state_db(tmp_path / "state.db")
    rows = [("r1", "Account", "c1", 100, "success", 1), ("r1", "Account", "c2", 50, "success", 3),
            ("r1", "Account", "c3", None, "failed", 4), ("r1", "Contact", "c1", None, "queued", 0),
            ("r1", "Contact", "c2", None, "running", 1), ("r0", "Account", "c1", 999, "success", 1)]
    conn.executemany("INSERT INTO chunks (refresh_id, object, chunk_id, rows, status, attempts) VALUES (?,?,?,?,?,?)", rows)
    assert chunk_counts(conn, "r1") == {"Account": ChunkCounts(ok=1, fixed=1, failed=1), "Contact": ChunkCounts(skipped=2)}
    assert rows_per_object(conn, "r1") == {"Account": 150, "Contact": 0}
    assert chunk_counts(conn, "nope") == {} and rows_per_object(conn, "nope") == {}


def test_disk_free_and_file_info(tmp_path: Path) -> None:
    free = disk_free([tmp_path, tmp_path / "not" / "yet" / "created"])
    assert all(f.free_bytes and f.total_bytes and f.error is None for f in free.values()) and len(free) == 2
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    info = file_info(path)
    assert info.bytes == 3 and info.checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
