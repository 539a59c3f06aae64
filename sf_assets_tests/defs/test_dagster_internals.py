"""Every non-public Dagster name sf_assets uses still exists and still behaves as we rely on.

If this file fails after a Dagster upgrade, read docs/ARCHITECTURE.md ("Dagster internals") and
adapt sf_assets/defs/dagster_internals.py: nothing else in the package imports `dagster._core`.
"""

from pathlib import Path

import dagster as dg

from sf_assets.defs import dagster_internals as internals

PACKAGE = Path(__file__).resolve().parents[2] / "sf_assets"


def test_only_the_internals_module_touches_dagster_private_names():
    offenders = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                 if "dagster._" in p.read_text(encoding="utf-8") and p.name != "dagster_internals.py"]
    assert offenders == []


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
