"""`sf-assets run` on an org that answers 503 now and then, then `sf-assets status`: the health JSON counts
exactly the chunks the log shows retried, one log folder holds the refresh (one file per process), and status
prints the health JSON's one-line summary and that folder. Real processes, emulator, state DB and instance."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sf_assets.emulator import FaultPlan
from sf_assets_tests.pipeline_helpers import write_config

REPO = Path(__file__).resolve().parents[2]


def sf_assets(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "sf_assets.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_retried_chunks_match_the_log_and_status_names_summary_and_log_folder(make_org, tmp_path):
    org = make_org(faults=FaultPlan.parse("503:0.2"))
    config = write_config(org, tmp_path, retry={"attempts": 6}, paths={"create_share_dir": True})  # all get through
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    run = sf_assets("run", "--config", str(config), home=home)
    assert run.returncode == 0, run.stderr[-3000:]
    health_path = next((tmp_path / "output").glob("health_check_*.json"))
    health = json.loads(health_path.read_text(encoding="utf-8"))
    refresh_id = health["refresh_id"]

    folder = tmp_path / "logs" / refresh_id
    files = list(folder.glob("sf_assets_*.log"))
    assert len(files) == 1  # one process (the CLI ran every stage in-process): one file
    lines = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
    assert lines and all(line["refresh_id"] == refresh_id for line in lines)
    retried_in_log = {(line["object"], line["chunk_id"]) for line in lines
                      if line["message"].startswith("Retrying") and line["chunk_id"] != "-"}
    assert retried_in_log, "503:0.2 retried no chunk: the test proves nothing"
    totals = health["chunks_total"]
    assert totals["retried"] == totals["fixed"] == len(retried_in_log) and totals["failed"] == 0
    chunk_warnings = [w for w in health["warnings"]["last"] if " chunk c" in w]
    assert sorted(w.split(" retried")[0] for w in chunk_warnings) == sorted(f"{o} chunk {c}" for o, c in retried_in_log)
    assert all("HTTP 503 SERVER_UNAVAILABLE" in w for w in chunk_warnings)
    assert health["warnings"]["count"] >= len(retried_in_log)
    assert all(isinstance(d["total_bytes"], int) and d["free_bytes"] <= d["total_bytes"]
               for d in health["disk_free_start"].values())
    assert {name: (o["expected"], o["extracted"]) for name, o in health["objects"].items()} == {
        name: (rows, rows) for name, rows in health["rows_per_object"].items()}

    status = sf_assets("status", "--config", str(config), home=home)
    assert status.returncode == 0, status.stderr[-2000:]
    assert f"Summary: {health['human_summary']}" in status.stdout
    assert f"{len(retried_in_log)} retried" in health["human_summary"] and "success" in health["human_summary"]
    assert f"Logs:    {folder}" in status.stdout
