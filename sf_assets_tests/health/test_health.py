"""The health JSON: content, redaction, the one writer and its merge rule across processes, with real files,
real processes and a real state DB."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from sf_assets.extract.tracker import rows_per_object
from sf_assets.health import (
    ChunkCounts,
    FileInfo,
    HealthReport,
    Messages,
    PublishStatus,
    disk_free,
    file_info,
    health_report_path,
    write_health,
)
from sf_assets.observability.redaction import register_secret
from sf_assets.pipeline.object_figures import chunk_counts
from sf_assets.salesforce.api_usage import ApiUsage
from sf_assets.storage.state_db import open_state_db

START = datetime(2025, 1, 31, 2, 0, tzinfo=UTC)
FAKE_TOKEN = "fake-token-7f3a9c1e5b2d"
RID = "20250131T020000Z-ab12"


def sample_report(status: str = "failed", error: str = "Bulk job failed") -> HealthReport:
    return HealthReport(
        refresh_id=RID, status=status, started_at=START, ended_at=START + timedelta(seconds=95),
        run_ids=["run-1", "run-2"], rows_per_object={"Account": 2000, "Contact": 4000},
        chunks={"Account": ChunkCounts(ok=2), "Contact": ChunkCounts(ok=3, fixed=1, failed=1)},
        errors=Messages.of([error]), warnings=Messages.of([f"w{i}" for i in range(30)], keep=5),
        api_usage_start=ApiUsage(1000, 20000), api_usage_end=ApiUsage(1100, 20000),
        sqlite={"tables": {"Account": {"rows": np.int64(2000)}}, "file_bytes": 123, "ratio": float("nan")},
        final_files=[FileInfo(Path("out/sales.parquet"), 10, "abc")],
        published=[PublishStatus(Path("out/sales.parquet"), False, error="PublishError: share unreachable")],
        sections={"empty_objects": {"Widget__c": {"rows": 0}}, "status": "a section never replaces a key above"},
    )


def write(report: HealthReport, output_dir: Path, **kwargs) -> Path | None:
    return write_health(output_dir, report.refresh_id, report.to_dict, **kwargs)


def test_failed_refresh_report_is_written_with_totals(tmp_path: Path) -> None:
    path = write(sample_report(), tmp_path)
    assert path == tmp_path / f"health_check_{RID}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["status"] == "failed" and data["duration_s"] == 95.0 and data["run_ids"] == ["run-1", "run-2"]
    assert data["rows_total"] == 6000 and data["chunks_total"] == {
        "ok": 5,
        "fixed": 1,
        "failed": 1,
        "skipped": 0,
        "retried": 0,
    }
    assert data["warnings"] == {"count": 30, "last": ["w25", "w26", "w27", "w28", "w29"]}
    assert data["api_usage_end"] == {"used": 1100, "max": 20000, "pct": 5.5, "at": None}
    assert data["sqlite"] == {"tables": {"Account": {"rows": 2000}}, "file_bytes": 123, "ratio": None}
    assert data["published"][0]["ok"] is False and "unreachable" in data["published"][0]["error"]
    assert data["empty_objects"] == {"Widget__c": {"rows": 0}} and "sections" not in data
    assert re.fullmatch(r"[0-9a-f]{40}", data["code"]["git_commit"])  # the tests run in a git checkout
    assert {"dagster", "simple-salesforce", "pyarrow", "dask", "distributed", "dask-sql", "pandas", "pydantic",
            "tenacity", "python"} <= set(data["packages"])
    # nothing but the report and the writers' lock file (never the JSON itself: Windows could not replace it)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".health_check.lock", path.name]


def test_report_contains_no_secret(tmp_path: Path) -> None:
    register_secret(FAKE_TOKEN)
    report = sample_report(error=f"INVALID_SESSION_ID for token {FAKE_TOKEN}")
    report.sqlite = {f"key-{FAKE_TOKEN}": f"Authorization: Bearer {FAKE_TOKEN}"}
    report.published = [PublishStatus(Path("x"), False, error=f"access_token={FAKE_TOKEN}")]
    text = write(report, tmp_path).read_text(encoding="utf-8")
    assert FAKE_TOKEN not in text and "INVALID_SESSION_ID for token ***" in text


def test_a_writer_never_erases_what_another_recorded(tmp_path: Path) -> None:
    # The output step writes the whole report; a later writer (the publish run, the failure sensor) renders
    # only what it knows: its empty values and missing keys never erase the earlier ones.
    write(sample_report("success"), tmp_path)
    later = {"status": "success", "run_ids": ["run-3", "run-1"], "final_files": [], "sqlite": {},
             "api_usage_end": None, "published": [{"source": "out/sales.parquet", "ok": True}]}
    path = write_health(tmp_path, RID, lambda: later)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["run_ids"] == ["run-1", "run-2", "run-3"]
    assert data["final_files"] and data["sqlite"]["file_bytes"] == 123 and data["api_usage_end"]["used"] == 1100
    assert data["published"] == [{"source": "out/sales.parquet", "ok": True}]  # what it knows replaces
    assert data["rows_total"] == 6000 and data["empty_objects"] == {"Widget__c": {"rows": 0}}


_WRITER = """
import sys, time
from pathlib import Path
from sf_assets.health import write_health
out, tag, n, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.001)
for i in range(n):
    assert write_health(out, "r1", lambda: {"run_ids": [f"{tag}-run"], f"{tag}{i}": i}, lock_timeout_s=60)
"""


def test_two_processes_writing_at_once_never_lose_a_key(tmp_path: Path) -> None:
    writes = 150
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / "out"), tag, str(writes), str(go)])
             for tag in ("a", "b")]
    time.sleep(1.5)  # both interpreters are up and waiting
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    data = json.loads(health_report_path(tmp_path / "out", "r1").read_text(encoding="utf-8"))
    lost = [f"{tag}{i}" for tag in "ab" for i in range(writes) if data.get(f"{tag}{i}") != i]
    assert not lost and sorted(data["run_ids"]) == ["a-run", "b-run"], f"{len(lost)} keys lost: {lost[:5]}"


def test_unwritable_output_dir_returns_none_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Tests run as root here, so chmod cannot make a folder unwritable; a folder "under a file" can never be created.
    (tmp_path / "a_file").write_text("")
    assert write(sample_report(), tmp_path / "a_file" / "out") is None
    assert f"Could not write the health report of refresh {RID}" in caplog.text


def test_failed_rename_keeps_previous_content_and_leaves_no_temp(tmp_path: Path) -> None:
    # A folder squatting on the report's name makes the final rename fail after the temp file was written.
    target = health_report_path(tmp_path, RID)
    target.mkdir()
    (target / "keep.txt").write_text("previous")
    sleeps: list[float] = []
    assert write(sample_report(), tmp_path, sleep=sleeps.append) is None
    assert len(sleeps) == 2  # three attempts
    assert sorted(p.name for p in tmp_path.iterdir()) == [".health_check.lock", target.name]
    assert (target / "keep.txt").read_text() == "previous"


def test_bad_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        HealthReport("r1", "partial")  # type: ignore[arg-type]


def test_never_raises_on_a_broken_report(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    report = sample_report()
    report.rows_per_object = {"Account": "not a number"}  # type: ignore[dict-item]  # to_dict's sum() fails
    assert write(report, tmp_path) is None and "Could not write" in caplog.text
    assert not health_report_path(tmp_path, RID).exists()


def test_chunk_counts_and_rows_from_state_db(tmp_path: Path) -> None:
    conn = open_state_db(tmp_path / "state.db")
    rows = [("r1", "Account", "c1", 100, "success", 1), ("r1", "Account", "c2", 50, "success", 3),
            ("r1", "Account", "c3", None, "failed", 4), ("r1", "Contact", "c1", None, "queued", 0),
            ("r1", "Contact", "c2", None, "running", 1), ("r0", "Account", "c1", 999, "success", 1)]
    conn.executemany(
        "INSERT INTO chunks (refresh_id, object, chunk_id, rows, status, attempts) VALUES (?,?,?,?,?,?)", rows
    )
    assert chunk_counts(conn, "r1") == {
        "Account": ChunkCounts(ok=1, fixed=1, failed=1),
        "Contact": ChunkCounts(skipped=2),
    }
    assert rows_per_object(conn, "r1") == {"Account": 150, "Contact": 0}
    assert chunk_counts(conn, "nope") == {} and rows_per_object(conn, "nope") == {}


def test_disk_free_and_file_info(tmp_path: Path) -> None:
    free = disk_free([tmp_path, tmp_path / "not" / "yet" / "created"])
    assert all(f.free_bytes and f.total_bytes and f.error is None for f in free.values()) and len(free) == 2
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    info = file_info(path)
    assert info.bytes == 3 and info.checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_every_writer_renders_what_the_state_db_holds_and_keeps_what_others_wrote(org, tmp_path: Path) -> None:
    from sf_assets.extract.refresh import current_or_new_refresh
    from sf_assets.pipeline.emulator import open_connection
    from sf_assets.pipeline.health import finish_refresh_with_health, record_publish
    from sf_assets.pipeline.prepare import run_preflight
    from sf_assets.storage.refresh_facts import add_health_warning, put_health
    from sf_assets.storage.state_db import state_session
    from sf_assets_tests.pipeline_helpers import make_config

    config = make_config(org, tmp_path, paths={"share_dir": None})
    connection = open_connection(config.salesforce)
    with state_session(config.paths.state_db) as conn:
        rid = current_or_new_refresh(conn, 20).refresh_id
        run_preflight(connection.client(), config, conn, rid)  # real COUNT()s and disk figures
        put_health(conn, rid, "empty_objects", {"rows": 0}, object_name="Widget__c")
        put_health(conn, rid, "limit_stop", "none")
        add_health_warning(conn, rid, "field_missing:Opportunity.Memo__c", "Opportunity.Memo__c is missing")
    connection.close()
    finish_refresh_with_health(config, rid, "success", errors=[])  # the output step
    with state_session(config.paths.state_db) as conn:  # another process records after the JSON was written ...
        add_health_warning(conn, rid, "field_missing:Opportunity.Memo__c", "Opportunity.Memo__c is still missing")
        put_health(conn, rid, "row_checks", {"passed": True}, object_name="Account")
    record_publish(config, rid, [PublishStatus(Path("a.parquet"), True, Path("share/a.parquet"))])  # ... publish run
    data = json.loads(health_report_path(config.paths.output_dir, rid).read_text(encoding="utf-8"))
    assert data["status"] == "success" and data["published"][0]["ok"] is True
    assert data["api_usage_end"] and data["disk_free_end"] and data["sqlite"] == {}  # the finisher's, kept
    assert data["empty_objects"] == {"Widget__c": {"rows": 0}} and data["limit_stop"] == "none"
    assert data["row_checks"] == {"Account": {"passed": True}}
    assert data["warnings"] == {"count": 1, "last": ["Opportunity.Memo__c is still missing"]}  # one key, one warning
    assert data["objects"] == {"Account": {"expected": org.data.row_count("Account"), "extracted": 0},
                               "Opportunity": {"expected": org.data.row_count("Opportunity"), "extracted": 0}}
    assert {d["free_bytes"] > 0 and d["total_bytes"] >= d["free_bytes"] for d in data["disk_free_start"].values()} \
        == {True}
