"""Every Dagster name outside the public API that sf_assets relies on, in one place.

Dagster 1.13 has no public way to (a) launch an asset backfill from a sensor, (b) run several
partitions of an asset in one in-process run, (c) list in-progress backfills, or (d) free the
concurrency-pool slots of a run whose process died without the daemon's run monitoring, or (e) give a
custom instance class (`sf_assets.instance`) Dagster's default storages, or (f) set how often the daemon's
backfill and sensor loops run (fixed at 30 s and 5 s in 1.13), or (g) mark failed a run whose process is gone,
or (h) let an instance rewrite every event before it is stored (`store_event` and `handle_new_event` are not
public: `EventRewritingInstance` is their one override), or (i) write a run launcher (`RunLauncher`, a configurable
class, what `dagster api execute_run` does in a run worker, and marking a run canceling). Each use
is wrapped here; `sf_assets_tests/defs/test_dagster_internals.py` fails loudly when an upgrade
moves or changes any of them (see docs/ARCHITECTURE.md, "Dagster internals").
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.events import DagsterEventBatchMetadata
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import LaunchRunContext, RunLauncher
from dagster._core.storage.compute_log_manager import ComputeLogManager
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, BACKFILL_ID_TAG
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData


def backfill_request(instance: dg.DagsterInstance, asset_graph: BaseAssetGraph, keys: Iterable[dg.AssetKey],
                     tags: Mapping[str, str]) -> dg.RunRequest:
    """A sensor RunRequest that launches ONE asset backfill of `keys` (all their current partitions)."""
    with partition_loading_context(dynamic_partitions_store=instance):
        subset = AssetGraphSubset.from_asset_keys(list(keys), asset_graph)
    return dg.RunRequest.for_asset_graph_subset(subset, tags=dict(tags))


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags selecting the partition range first..last (how Dagster's single-run backfills do it)."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def backfill_id_of(tags: Mapping[str, str]) -> str | None:
    """The backfill a run belongs to (None for a run launched on its own)."""
    return tags.get(BACKFILL_ID_TAG)


def backfills_in_progress(instance: dg.DagsterInstance) -> list[str]:
    """Ids of the asset backfills the daemon is still working on."""
    return [
        b.backfill_id for b in instance.get_backfills(filters=BulkActionsFilter(statuses=[BulkActionStatus.REQUESTED]))
    ]


def pool_slot_holders(instance: dg.DagsterInstance, pool: str) -> list[str]:
    """Run ids that hold a slot of `pool` now."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    return sorted({slot.run_id for slot in info.claimed_slots if slot.run_id})


def free_pool_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    """Release every pool slot (claimed or pending) of a dead run."""
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def default_instance_storages(base_dir: str) -> Mapping[str, object]:
    """The storages Dagster gives an instance under `base_dir` (what a custom instance class must provide)."""
    return InstanceRef.config_defaults(base_dir)


def is_daemon_process() -> bool:
    """Whether this process is Dagster's daemon (`dagster-daemon run`, or `python -m dagster._daemon run` as
    `dagster dev` starts it)."""
    command = Path(sys.argv[0])
    return command.name.startswith("dagster-daemon") or command.parent.name == "_daemon"


def set_daemon_cadence(backfill_seconds: int, sensor_loop_seconds: int) -> None:
    """How often the daemon loops of this process run: the backfill loop (creates the next runs of a "Materialize
    all", Dagster's fixed 30 s) and the sensor loop (how soon a sensor due is evaluated, Dagster's fixed 5 s).
    Only a daemon process runs these loops, and `dagster-daemon run` has imported them before it creates the
    instance; any other process (a run worker, the webserver, `sf-assets run`) leaves them alone rather than pay
    0.6 s importing them."""
    if "dagster._daemon.controller" not in sys.modules:
        return
    from dagster._daemon import controller as daemon_controller
    from dagster._daemon import sensor as sensor_daemon

    daemon_controller.DEFAULT_DAEMON_INTERVAL_SECONDS = backfill_seconds  # read by the backfill loop as it starts
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = sensor_loop_seconds  # read on every turn of the sensor loop


__all__ = ["ConfigurableClass", "ConfigurableClassData", "LaunchRunContext", "RunLauncher"]  # a run launcher's base


def execute_run_args(run: dg.DagsterRun, instance: dg.DagsterInstance) -> str:
    """What a run worker needs to execute `run` (`dagster api execute_run`'s input), serialized on one line."""
    assert run.job_code_origin is not None, f"run {run.run_id} has no code origin"
    return dg.serialize_value(ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id,
                                             instance_ref=instance.get_ref(), set_exit_code_on_failure=True))


def code_python(run: dg.DagsterRun) -> str:
    """The Python executable of the code location `run` belongs to."""
    assert run.job_code_origin is not None, f"run {run.run_id} has no code origin"
    return run.job_code_origin.executable_path


def execute_run_here(serialized_args: str) -> int:
    """Execute a run in this process as `dagster api execute_run` does (its exit code), with Dagster's run
    cancellation thread, which interrupts the run once its status is CANCELING (`mark_run_canceling`)."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._core.execution.run_cancellation_thread import start_run_cancellation_thread
    from dagster._utils.interrupts import capture_interrupts

    with capture_interrupts():
        args = dg.deserialize_value(serialized_args, ExecuteRunArgs)
        assert args.instance_ref is not None, "a run worker needs the launcher's instance"
        with dg.DagsterInstance.from_ref(args.instance_ref) as instance:
            _, stop_watching = start_run_cancellation_thread(instance, args.run_id)
            try:
                return _execute_run_command_body(args.run_id, instance, lambda _event: None,
                                                 set_exit_code_on_failure=True)
            finally:
                stop_watching.set()


def note_on_run(instance: dg.DagsterInstance, run: dg.DagsterRun, message: str) -> None:
    """An engine event of `run` saying `message` (its event log in the UI)."""
    instance.report_engine_event(message, run)


def mark_run_canceling(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """Mark `run` CANCELING: its worker's cancellation thread interrupts it (`execute_run_here`)."""
    instance.report_run_canceling(run)


def fail_run(instance: dg.DagsterInstance, run: dg.DagsterRun, message: str) -> None:
    """Mark `run` failed from outside its process (the process is gone), `message` saying why in its event log."""
    instance.report_run_failed(run, message)


class EventRewritingInstance(dg.DagsterInstance):
    """A `DagsterInstance` that passes each event through `rewrite_event` before it is stored (and before its
    subscribers hear of it): every event of a run reaches storage through these two methods."""

    def rewrite_event(self, event: dg.EventLogEntry) -> dg.EventLogEntry:
        """The event as it is stored (the same event here; a subclass rewrites)."""
        return event

    def store_event(self, event: dg.EventLogEntry) -> None:
        """Store `event`, rewritten."""
        super().store_event(self.rewrite_event(event))

    def handle_new_event(self, event: dg.EventLogEntry, *,
                         batch_metadata: DagsterEventBatchMetadata | None = None) -> None:
        """Store `event`, rewritten, and notify subscribers."""
        super().handle_new_event(self.rewrite_event(event), batch_metadata=batch_metadata)

    _runs_on_threads = False  # set by `runs_on_threads`

    @property
    def compute_log_manager(self) -> ComputeLogManager:
        """Dagster's, except while runs execute on several threads of this process (`runs_on_threads`): Dagster
        captures a run's stdout/stderr by redirecting the process's file descriptors 1 and 2, and two runs doing
        that at once restore each other's redirection, leaving the process's stdout in one run's log file."""
        if self._runs_on_threads:
            return NoOpComputeLogManager()
        return super().compute_log_manager

    def get_yaml_python_handlers(self) -> Sequence[logging.Handler]:
        """No handlers unless dagster.yaml's `python_logs.dagster_handler_config` names some. Dagster 1.13 calls
        `logging.config.dictConfig` for every run's log manager even with no handler configured, which closes every
        handler of the process under the logging lock: two runs starting on threads of one process (`sf-assets run`
        extracts its objects at the same time) deadlock there against a run emitting an event."""
        if not self.get_python_log_dagster_handler_config():
            return []
        return super().get_yaml_python_handlers()


def runs_may_share_a_process(instance: dg.DagsterInstance) -> bool:
    """Whether runs may execute on several threads of one process with `instance` (see
    `EventRewritingInstance.get_yaml_python_handlers`): only with this project's instance class."""
    return isinstance(instance, EventRewritingInstance)


@contextlib.contextmanager
def runs_on_threads(instance: dg.DagsterInstance) -> Iterator[None]:
    """While runs of `instance` execute on threads of this process: their stdout/stderr are not captured into
    Dagster's compute logs (their events and our log files are complete). Needs `runs_may_share_a_process`."""
    assert isinstance(instance, EventRewritingInstance)
    instance._runs_on_threads = True
    try:
        yield
    finally:
        instance._runs_on_threads = False
