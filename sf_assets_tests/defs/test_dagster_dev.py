"""The product as UI users drive it: a real `dagster dev` (webserver + daemon) and its GraphQL API.

Scenario, in one server (each step waits on the real daemon, at the shipped dagster.yaml's cadence):
1. "Materialize all" on a fresh instance: a complete refresh, published exactly once;
2. "Materialize all" again: a new refresh with the chunk keys grown to the last plan;
3. a refresh in which Salesforce fails one chunk's job: the failed partition re-materialized alone
   from the Partitions tab, and the output catches up by itself (sensor), then is published.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.emulator import FaultPlan
from sf_assets_tests.defs.dagster_dev import DagsterDev, wait_for
from sf_assets_tests.pipeline_helpers import write_config
from sf_assets_tests.test_end_to_end import JOIN, OBJECTS, expected_join

pytestmark = [pytest.mark.timeout(1500), pytest.mark.starts_first]  # see sf_assets_tests/conftest.py


def _current(output: Path) -> dict:
    return json.loads((output / "opportunities" / "current.json").read_text(encoding="utf-8"))


def _assert_output_exact(org, output: Path) -> None:
    table = pq.read_table(output / "opportunities" / "opportunities.parquet").sort_by("Id")
    expected = expected_join(org)
    assert table.num_rows == expected.num_rows
    for name in expected.column_names:
        want = expected.column(name).to_pylist()
        if pa.types.is_floating(table.schema.field(name).type):  # the documented Power BI type of wide currency
            want = [None if v is None else float(v) for v in want]
        assert table.column(name).to_pylist() == want, name


def _runs(instance: dg.DagsterInstance, **filters) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(**filters)))


def _worker_events(instance: dg.DagsterInstance, run_id: str) -> tuple[str, str]:
    """The run's "handed to run worker" and "Started process" engine messages."""
    messages = [e.dagster_event.message or "" for e in instance.all_logs(run_id)
                if e.dagster_event is not None and e.dagster_event.event_type_value == "ENGINE_EVENT"]
    handed = next((m for m in messages if m.startswith("Run handed")), "")
    return handed, next((m for m in messages if m.startswith("Started process")), "")


def _publish_runs_for(instance: dg.DagsterInstance, refresh_id: str) -> list[dg.DagsterRun]:
    return [r for r in _runs(instance, job_name="publish_job") if r.tags.get("sf_assets/refresh_id") == refresh_id]


@pytest.fixture()
def ui(tmp_path_factory, _session_org):  # one server per test: two at once would share 2 cores
    root = tmp_path_factory.mktemp("ui")
    path = write_config(_session_org, root, objects=OBJECTS, datasets=[{"name": "opportunities", "sql": JOIN}],
                        transform={"engine": "dask_sql"},
                        dask={"n_workers": 1, "threads_per_worker": 2, "memory_limit": "2GB"},
                        extraction={"chunk_size": 700}, retry={"attempts": 1}, paths={"create_share_dir": True})
    with DagsterDev(root / "dagster_home", path, root / "dagster_dev.log") as server:
        yield server, root


def test_materialize_all_twice_then_a_failed_chunk_rerun_alone(ui, org):
    server, root = ui
    output, instance = root / "output", server.instance()
    # The chunk-keys sensor registers c0001 for every object on its first tick, before anyone clicks.
    wait_for(
        "first chunk keys", lambda: all(instance.get_dynamic_partitions(f"{o['name']}_chunks") for o in OBJECTS), 120
    )

    first = server.materialize_all()
    assert server.wait_backfill(first) == "COMPLETED_SUCCESS", server.log_tail()
    refresh_1 = _current(output)["refresh_id"]
    _assert_output_exact(org, output)
    # Staging waits for every object (the gate `extracted`): one run stages, joins and promotes, one process start
    staging = [r for r in _runs(instance, tags={"dagster/backfill": first})
               if any(k.path[0] == "staging" for k in r.asset_selection or ())]
    assert len(staging) == 1 and {k.to_user_string() for k in staging[0].asset_selection} == {
        "extracted", *(f"staging/{o['name']}" for o in OBJECTS), "dataset/opportunities", "powerbi_output"}
    wait_for("the publish run", lambda: [r for r in _publish_runs_for(instance, refresh_1) if r.is_success], 180)
    health = json.loads((output / f"health_check_{refresh_1}.json").read_text(encoding="utf-8"))
    assert health["status"] == "success" and health["duration_s"] and health["sqlite"] and health["final_files"]
    assert health["api_usage_end"] and health["rows_total"] > 2000
    wait_for("publish outcome in the health JSON", lambda: json.loads(
        (output / f"health_check_{refresh_1}.json").read_text(encoding="utf-8"))["published"], 60)
    checks = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(["salesforce", "Opportunity"]), "row_count_matches_salesforce"), limit=5)
    assert checks and checks[0].status.value == "SUCCEEDED"  # the row-count check ran in the extraction run

    # After a finished refresh the keys follow its plan (2500 Opportunity rows / 700 per chunk) while idle.
    wait_for("grown chunk keys", lambda: len(instance.get_dynamic_partitions("Opportunity_chunks")) >= 4, 120)
    second = server.materialize_all()
    assert server.wait_backfill(second) == "COMPLETED_SUCCESS", server.log_tail()
    refresh_2 = _current(output)["refresh_id"]
    assert refresh_2 != refresh_1
    # Every run of the second refresh executed in a run worker that was up and waiting before it was launched.
    for run in _runs(instance, tags={"dagster/backfill": second}):
        handed, started = _worker_events(instance, run.run_id)
        assert handed.startswith("Run handed to run worker ") and "before it" in handed, (run.run_id, handed)
        assert started == f"Started process for run (pid: {handed.split()[5]}).", (handed, started)
    _assert_output_exact(org, output)
    wait_for("the second publish run", lambda: [r for r in _publish_runs_for(instance, refresh_2) if r.is_success], 180)
    shared = sorted(p.name for p in (root / "share").glob("opportunities__*.parquet"))
    assert len(shared) == 2 and refresh_1 in shared[0] and refresh_2 in shared[1]  # each refresh published once

    # A refresh (here from the terminal, into the same instance) in which Salesforce fails the Account job.
    org.set_faults(FaultPlan.parse("job_fail_once:Account"))
    failed = subprocess.run([sys.executable, "-m", "sf_assets.cli", "run", "--config", str(server.config_path)],
                            env={**os.environ, "DAGSTER_HOME": str(server.home)}, capture_output=True, text=True,
                            timeout=300)
    org.set_faults(FaultPlan())
    assert failed.returncode == 1 and "Failure: 1 chunk of Account failed: " in failed.stderr, failed.stderr[-2000:]
    assert _current(output)["refresh_id"] == refresh_2  # the Power BI file still holds the last good refresh
    (account_key,) = instance.get_dynamic_partitions("Account_chunks")
    rerun = server.materialize_partitions(["salesforce", "Account"], [account_key])
    assert server.wait_backfill(rerun) == "COMPLETED_SUCCESS", server.log_tail()
    catch_up = wait_for("the catch-up output run", lambda: [
        r for r in _runs(instance, job_name="output_job") if r.is_finished], 240)
    assert catch_up[0].is_success, server.log_tail()
    refresh_3 = _current(output)["refresh_id"]
    assert refresh_3 not in (refresh_1, refresh_2) and catch_up[0].tags["sf_assets/refresh_id"] == refresh_3
    _assert_output_exact(org, output)
    health = json.loads((output / f"health_check_{refresh_3}.json").read_text(encoding="utf-8"))
    assert health["status"] == "success"
    wait_for(
        "the catch-up's publish run", lambda: [r for r in _publish_runs_for(instance, refresh_3) if r.is_success], 180
    )


@pytest.fixture()
def nightly(tmp_path_factory, _session_org):
    root = tmp_path_factory.mktemp("nightly")
    objects = [{"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"}]
    path = write_config(
        _session_org,
        root,
        objects=objects,
        datasets=[{"name": "accounts", "sql": "SELECT * FROM Account"}],
        extraction={"chunk_size": 100},
        schedule={"cron": "* * * * *", "timezone": "UTC", "enabled": True},  # on from the start
        paths={"create_share_dir": True},
    )
    with DagsterDev(root / "dagster_home", path, root / "dagster_dev.log") as server:
        yield server, root


def test_the_schedule_runs_every_stage_as_a_queued_daemon_run(nightly, org):
    from sf_assets_tests.defs.dagster_dev import stop_schedule

    server, root = nightly
    instance = server.instance()
    prepare = wait_for(
        "the schedule's prepare run",
        lambda: [
            r
            for r in _runs(instance, job_name="prepare_job")
            if r.tags.get("dagster/schedule_name") == "nightly_refresh"
        ],
        150,
    )
    stop_schedule(server, "nightly_refresh")  # one tick is enough
    output = wait_for(
        "the refresh's Power BI file", lambda: (root / "output" / "accounts" / "current.json").is_file(), 300
    )
    assert output
    refresh_id = json.loads((root / "output" / "accounts" / "current.json").read_text(encoding="utf-8"))["refresh_id"]
    wait_for("the publish run", lambda: [r for r in _publish_runs_for(instance, refresh_id) if r.is_success], 180)
    runs = [
        r for r in _runs(instance) if r.tags.get("sf_assets/refresh_id") == refresh_id or r.run_id == prepare[0].run_id
    ]
    assert all(r.is_success for r in runs), [(r.job_name, r.status) for r in runs]
    backfill_runs = [r for r in runs if r.tags.get("dagster/backfill")]
    assert {tuple(s.to_user_string() for s in (r.asset_selection or [])) for r in backfill_runs} >= {
        ("salesforce/Account",)}  # the chunks ran as their own run of the backfill
    assert all(r.tags.get("sf_assets/launched_by") == "schedule" for r in backfill_runs)
    for run in runs:  # every stage went through the run queue of dagster_home/dagster.yaml
        events = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED).records
        assert events, run.job_name
    keys = instance.get_dynamic_partitions("Account_chunks")
    assert len(keys) >= 3  # ~300 rows / 100 per chunk, planned by the scheduled (non-backfill) prepare run
    health = json.loads((root / "output" / f"health_check_{refresh_id}.json").read_text(encoding="utf-8"))
    assert health["status"] == "success" and health["rows_total"] == org.data.row_count("Account")


def test_terminate_in_the_ui_stops_a_run_in_its_run_worker(ui, org):
    """"Terminate" on the run page reaches a run executing in a pre-started run worker: Dagster's cancellation
    thread interrupts the extraction, the run ends CANCELED and its worker process exits."""
    server, _ = ui
    instance = server.instance()
    wait_for("first chunk keys", lambda: instance.get_dynamic_partitions("Account_chunks"), 120)
    org.set_faults(FaultPlan.parse("slow_jobs:100000"))  # Salesforce never finishes a Bulk job
    try:
        backfill = server.materialize_all()
        run = wait_for("an extraction run to start", lambda: next(
            (r for r in _runs(instance, tags={"dagster/backfill": backfill}) if r.status == dg.DagsterRunStatus.STARTED
             and dg.AssetKey(["salesforce", "Account"]) in (r.asset_selection or ())), None), 180)
        handed, _ = wait_for("the run worker's events", lambda: _worker_events(instance, run.run_id)[0] and
                             _worker_events(instance, run.run_id), 60)
        worker = psutil.Process(int(handed.split()[5]))
        assert server.terminate(run.run_id) == "TerminateRunSuccess"
        ended = wait_for("the run to end", lambda: (r := instance.get_run_by_id(run.run_id)) and r.is_finished and r,
                         90)
        assert ended.status == dg.DagsterRunStatus.CANCELED, server.log_tail()
        worker.wait(timeout=60)  # the worker exits with its run
    finally:
        org.set_faults(FaultPlan())
