"""`sf-assets run` as a user runs it: a real process, the persistent instance, exit codes, Ctrl+C, the lock."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sf_assets.emulator import FaultPlan
from sf_assets.emulator.service import ServiceProfile
from sf_assets.storage.refresh_lock import refresh_lock
from sf_assets_tests.pipeline_helpers import write_config

REPO = Path(__file__).resolve().parents[2]
OBJECTS = [{"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"}]
DATASETS = [{"name": "accounts", "sql": "SELECT Id, Name, Industry FROM Account"}]
TWO_OBJECTS = [*OBJECTS, {"name": "Contact", "soql": "SELECT Id, LastName, Email FROM Contact"}]  # a chunk each


def start(path, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")  # the committed laptop instance config
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "sf_assets.cli", "run", "--config", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_run_prints_where_the_outputs_are(org, tmp_path):
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS, paths={"create_share_dir": True})
    proc = start(path, tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    lines = dict(map(str.strip, line.strip().split(": ", 1)) for line in out.splitlines() if line.strip().startswith(
        ("Power BI file:", "Health JSON:", "Published:", "Power BI:")))
    assert os.path.isfile(lines["Power BI file"]) and os.path.isfile(lines["Health JSON"])
    assert lines["Power BI"].split(" opens Desktop")[0].endswith("sf_assets.pbids")  # the hand-off, beside the data
    assert os.path.isfile(lines["Power BI"].split(" opens Desktop")[0])
    assert os.path.isfile(lines["Published"])
    assert "SUCCESS" in out and "Account" in out
    checks = [line.strip() for line in out.splitlines() if line.strip().startswith("row check ")]
    assert len(checks) == len(OBJECTS) and all(
        line.startswith("row check passed: ") and " now; changes since " in line for line in checks), out
    assert json.loads(open(lines["Health JSON"], encoding="utf-8").read())["status"] == "success"
    assert (tmp_path / "dagster_home" / "storage").is_dir()  # runs recorded in the persistent instance


def test_objects_plan_and_extract_at_the_same_time(make_org, tmp_path):
    """On an org whose jobs take time to process, `sf-assets run` plans and extracts its objects at the same time:
    Account (one chunk with `chunk_size: auto`, no planning job) extracts while Opportunity's Id scan runs, their
    extract runs (as the UI lists them) overlap, and the output is complete."""
    import dagster as dg

    org = make_org(service=ServiceProfile("jobs take 1.5 s", job_min_s=1.5))
    objects = [*OBJECTS, {"name": "Opportunity", "soql": "SELECT Id, Name, Amount FROM Opportunity",
                          "chunk_size": 1000}]  # 2,440 rows: an Id scan job, then 3 chunks
    path = write_config(org, tmp_path, objects=objects, datasets=DATASETS, paths={"share_dir": None},
                        extraction={"chunk_size": "auto"})
    proc = start(path, tmp_path)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    checks = [line.strip() for line in out.splitlines() if line.strip().startswith("row check passed: ")]
    assert "SUCCESS" in out and len(checks) == 2, out + err[-3000:]
    assert org.counters()["jobs_created"] == {"Account": 1, "Opportunity": 4}
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        records = instance.get_run_records()
    runs = {r.dagster_run.job_name: r for r in records}
    account, opportunity = runs["extract_Account_job"], runs["extract_Opportunity_job"]
    assert account.start_time < opportunity.end_time and opportunity.start_time < account.end_time, out
    planning = {r.dagster_run.run_config["ops"]["chunk_plans"]["config"]["objects"][0]: r for r in records
                if r.dagster_run.job_name == "prepare_job" and "chunk_plans" in r.dagster_run.run_config.get("ops", {})}
    assert set(planning) == {"Account", "Opportunity"}
    assert account.start_time < planning["Opportunity"].end_time  # Account extracts while Opportunity is planned


def test_second_refresh_is_refused_while_one_runs(org, tmp_path):
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS)
    with refresh_lock(tmp_path / "state" / "refresh.lock"):
        proc = start(path, tmp_path)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert "another refresh is running" in err and "Traceback" not in err
    assert not org.counters()["jobs_created"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery to a child differs on Windows")
def test_ctrl_c_aborts_the_open_jobs_of_every_object_and_reports(org, tmp_path):
    """Two objects extract at the same time on threads; Ctrl+C reaches the main thread only, yet both open jobs
    are aborted."""
    path = write_config(org, tmp_path, objects=TWO_OBJECTS, datasets=DATASETS)
    org.set_faults(FaultPlan.parse("slow_jobs:1000"))  # the jobs stay InProgress until we interrupt
    proc = start(path, tmp_path)
    deadline = time.monotonic() + 120
    while len(org.counters()["jobs_created"]) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert org.counters()["jobs_created"] == {"Account": 1, "Contact": 1}, proc.communicate()[1][-2000:]
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert org.counters()["aborts"] == 2, err[-2000:]
    health = sorted((tmp_path / "output").glob("health_check_*.json"))
    assert health and json.loads(health[-1].read_text(encoding="utf-8"))["status"] == "failed"


def test_killed_refresh_never_blocks_the_next_one(org, tmp_path):
    """A refresh killed mid-extraction (task manager, laptop crash) holds the salesforce_bulk pool slot in the
    instance; the next `sf-assets run` marks that run failed, frees the slot and completes."""
    import dagster as dg

    path = write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS, paths={"share_dir": None})
    org.set_faults(FaultPlan.parse("slow_jobs:25"))  # the job stays InProgress for a few seconds (and on resume)
    proc = start(path, tmp_path)
    deadline = time.monotonic() + 120
    while not org.counters()["jobs_created"] and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert org.counters()["jobs_created"], proc.communicate()[1][-2000:]
    proc.kill()  # SIGKILL here, TerminateProcess on Windows: no cleanup runs
    proc.communicate(timeout=60)
    home = tmp_path / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        held = instance.event_log_storage.get_concurrency_info("salesforce_bulk").claimed_slots
        assert [s.run_id for s in held]  # the dead run still holds the slot
        dead_run = held[0].run_id
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    status = subprocess.run([sys.executable, "-m", "sf_assets.cli", "status", "--config", str(path)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 1 and "interrupted (no process is running it" in status.stdout, status.stdout
    org.set_faults(FaultPlan())
    again = start(path, tmp_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-3000:]
    assert "SUCCESS" in out
    status = subprocess.run([sys.executable, "-m", "sf_assets.cli", "status", "--config", str(path)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and ": success (" in status.stdout, status.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(dead_run).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info("salesforce_bulk").claimed_slots
