"""Every non-public Dagster name sf_assets uses still exists and still behaves as we rely on.

If this file fails after a Dagster upgrade, read docs/ARCHITECTURE.md ("Dagster internals") and
adapt sf_assets/defs/dagster_internals.py: nothing else in the package reaches them
(`sf_assets_tests/test_private_apis.py`).
"""

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.test_utils import create_run_for_test

from sf_assets.defs import dagster_internals as internals
from sf_assets.instance.run_workers import WORKER_MODULE
from sf_assets_tests.defs import worker_jobs

MARK = " [rewritten]"


class MarkingInstance(internals.EventRewritingInstance):
    """An instance whose hook marks every event's message, so the stored events show they went through it."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str):
        return internals.default_instance_storages(base_dir)

    def rewrite_event(self, event: dg.EventLogEntry) -> dg.EventLogEntry:
        return event._replace(user_message=event.user_message + MARK)


def test_every_stored_event_goes_through_the_rewriting_hook(tmp_path: Path):
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump({"instance_class": {
        "module": __name__, "class": MarkingInstance.__name__}}), encoding="utf-8")

    @dg.asset
    def fails():
        raise ValueError("boom")

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance, MarkingInstance)
        run = dg.materialize([fails], instance=instance, raise_on_error=False)
        stored = instance.all_logs(run.run_id)
        assert len(stored) > 5 and all(entry.user_message.endswith(MARK) for entry in stored)
        failure = next(e for e in stored if e.dagster_event and e.dagster_event.is_step_failure)
        instance.store_event(failure._replace(run_id="imported"))  # how `dagster debug import` stores an event
        (imported,) = instance.all_logs("imported")
        assert imported.user_message.endswith(MARK + MARK)


def test_fail_run_marks_a_started_run_failed_with_its_reason():
    with dg.instance_for_test() as instance:
        run = create_run_for_test(instance, job_name="extract_Account", status=dg.DagsterRunStatus.STARTED)
        internals.fail_run(instance, run, "its process is gone")
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert [entry.dagster_event.message for entry in failure] == ["its process is gone"]


def test_backfill_request_targets_every_current_partition():
    pdef = dg.DynamicPartitionsDefinition(name="things")

    @dg.asset(partitions_def=pdef)
    def things():
        return None

    @dg.asset(deps=[things])
    def summary():
        return None

    defs = dg.Definitions(assets=[things, summary])
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("things", ["c0001", "c0002"])
        request = internals.backfill_request(instance, defs.resolve_asset_graph(), [things.key, summary.key],
                                             {"sf_assets/refresh_id": "r1"})
        assert request.requires_backfill_daemon() and request.tags["sf_assets/refresh_id"] == "r1"
        subset = request.asset_graph_subset
        assert sorted(subset.get_partitions_subset(things.key).get_partition_keys()) == ["c0001", "c0002"]
        assert subset.non_partitioned_asset_keys == {summary.key}
        assert internals.backfills_in_progress(instance) == []


def test_partition_range_tags_run_a_range_in_one_process():
    pdef = dg.DynamicPartitionsDefinition(name="things")
    seen: list[list[str]] = []

    @dg.asset(partitions_def=pdef, backfill_policy=dg.BackfillPolicy.single_run())
    def things(context: dg.AssetExecutionContext) -> None:
        seen.append(list(context.partition_keys))

    job = dg.Definitions(assets=[things], jobs=[dg.define_asset_job("j", [things])]).resolve_job_def("j")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("things", ["c0001", "c0002", "c0003"])
        result = job.execute_in_process(instance=instance, tags=internals.partition_range_tags("c0001", "c0003"))
        assert result.success
        assert internals.backfill_id_of(result.dagster_run.tags) is None
    assert seen == [["c0001", "c0002", "c0003"]]


def test_pool_slots_of_a_dead_run_can_be_listed_and_freed():
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots("salesforce_bulk", 1)
        claim = storage.claim_concurrency_slot("salesforce_bulk", "dead-run", "extract_Account")
        assert claim.is_claimed
        assert internals.pool_slot_holders(instance, "salesforce_bulk") == ["dead-run"]
        internals.free_pool_slots(instance, "dead-run")
        assert internals.pool_slot_holders(instance, "salesforce_bulk") == []


def _handed_to_a_worker(instance: dg.DagsterInstance, job: dg.JobDefinition) -> tuple[dg.DagsterRun, subprocess.Popen]:
    """A run of `job` handed to a run-worker process as WarmRunLauncher hands it (its one stdin line)."""
    run = instance.create_run_for_job(job, job_code_origin=dg.reconstructable(job).get_python_origin())
    worker = subprocess.Popen([sys.executable, "-m", WORKER_MODULE, "60", "dagster"], stdin=subprocess.PIPE)
    assert worker.stdin is not None
    worker.stdin.write(internals.execute_run_args(run, instance).encode() + b"\n")
    worker.stdin.close()
    return run, worker


def _instance_home(tmp_path: Path) -> str:
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(
        {"run_monitoring": {"cancellation_thread_poll_interval_seconds": 1}}), encoding="utf-8")
    return str(tmp_path)


def test_a_run_worker_executes_a_handed_run_as_dagster_api_execute_run_does(tmp_path: Path):
    with dg.DagsterInstance.from_config(_instance_home(tmp_path)) as instance:
        run, worker = _handed_to_a_worker(instance, worker_jobs.hello)
        assert worker.wait(timeout=120) == 0
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
        messages = [e.dagster_event.message if e.dagster_event else e.user_message
                    for e in instance.all_logs(run.run_id)]
        assert f"Started process for run (pid: {worker.pid})." in messages and "hello from a run worker" in messages


def test_a_run_marked_canceling_is_interrupted_in_its_worker(tmp_path: Path):
    with dg.DagsterInstance.from_config(_instance_home(tmp_path)) as instance:
        run, worker = _handed_to_a_worker(instance, worker_jobs.waits)
        deadline = time.monotonic() + 120
        while not instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START):
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.1)
        internals.mark_run_canceling(instance, instance.get_run_by_id(run.run_id))
        worker.wait(timeout=60)  # Dagster's cancellation thread in the worker interrupted the op
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED


def test_the_daemon_process_is_told_by_its_command_line(monkeypatch):
    assert not internals.is_daemon_process()  # pytest
    for command in ("/venv/bin/dagster-daemon", "/venv/lib/python3.11/site-packages/dagster/_daemon/__main__.py"):
        monkeypatch.setattr(sys, "argv", [command, "run"])
        assert internals.is_daemon_process(), command
