"""Every Dagster name outside the public API that sf_assets relies on, in one place.

Dagster 1.13 has no public way to (a) launch an asset backfill from a sensor, (b) run several
partitions of an asset in one in-process run, (c) list in-progress backfills, or (d) free the
concurrency-pool slots of a run whose process died without the daemon's run monitoring, or (e) give a
custom instance class (`sf_assets.instance`) Dagster's default storages, or (f) set how often the daemon's
backfill and sensor loops run (fixed at 30 s and 5 s in 1.13), or (g) mark failed a run whose process is gone,
or (h) let an instance rewrite every event before it is stored (`store_event` and `handle_new_event` are not
public: `EventRewritingInstance` is their one override). Each use
is wrapped here; `sf_assets_tests/defs/test_dagster_internals.py` fails loudly when an upgrade
moves or changes any of them (see docs/ARCHITECTURE.md, "Dagster internals").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.events import DagsterEventBatchMetadata
from dagster._core.execution.backfill import BulkActionsFilter, BulkActionStatus
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG, BACKFILL_ID_TAG
from dagster._daemon import controller as daemon_controller
from dagster._daemon import sensor as sensor_daemon


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


def set_daemon_cadence(backfill_seconds: int, sensor_loop_seconds: int) -> None:
    """How often the daemon loops of this process run: the backfill loop (creates the next runs of a "Materialize
    all", Dagster's fixed 30 s) and the sensor loop (how soon a sensor due is evaluated, Dagster's fixed 5 s).
    Only a daemon process runs these loops; elsewhere the two values are never read."""
    daemon_controller.DEFAULT_DAEMON_INTERVAL_SECONDS = backfill_seconds  # read by the backfill loop as it starts
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = sensor_loop_seconds  # read on every turn of the sensor loop


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
