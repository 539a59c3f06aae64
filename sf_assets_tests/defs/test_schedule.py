"""The nightly schedule launches prepare_job; the continue sensor then asks for ONE backfill of the rest.

(The daemon-driven version of the same flow, with real queued runs, is in test_dagster_dev.py.)
"""

import dagster as dg

from sf_assets.defs.build import build_definitions
from sf_assets.defs.tags import LAUNCHED_BY_TAG, REFRESH_TAG
from sf_assets_tests.pipeline_helpers import write_config

OBJECTS = [{"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"}]
DATASETS = [{"name": "accounts", "sql": "SELECT Id, Name, Industry FROM Account"}]


def test_schedule_prepares_then_sensor_requests_one_backfill_of_every_chunk(org, tmp_path):
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS, extraction={"chunk_size": 100})
    defs = build_definitions(str(path))
    schedule = defs.resolve_schedule_def("nightly_refresh")
    sensor = defs.resolve_sensor_def("continue_scheduled_refresh")
    with dg.instance_for_test() as instance:
        (request,) = schedule.evaluate_tick(dg.build_schedule_context(instance=instance)).run_requests
        assert request.tags[LAUNCHED_BY_TAG] == "schedule"
        idle = sensor.evaluate_tick(
            dg.build_sensor_context(
                instance=instance, definitions=defs, resources={"pipeline": defs.resources["pipeline"]}
            )
        )
        assert not idle.run_requests  # nothing prepared yet
        prepare = defs.resolve_job_def(schedule.job_name).execute_in_process(instance=instance, tags=request.tags)
        assert prepare.success
        keys = instance.get_dynamic_partitions("Account_chunks")
        assert keys == [f"c{i:04d}" for i in range(1, len(keys) + 1)] and len(keys) >= 3  # ~300 rows / 100

        tick = sensor.evaluate_tick(
            dg.build_sensor_context(
                instance=instance, definitions=defs, resources={"pipeline": defs.resources["pipeline"]}
            )
        )
        (backfill,) = tick.run_requests
        assert backfill.requires_backfill_daemon()
        subset = backfill.asset_graph_subset
        assert sorted(subset.get_partitions_subset(dg.AssetKey(["salesforce", "Account"])).get_partition_keys()) == keys
        assert {k.to_user_string() for k in subset.non_partitioned_asset_keys} == {
            "extracted",
            "staging/Account",
            "dataset/accounts",
            "powerbi_output",
        }
        (preflight,) = prepare.asset_materializations_for_node("preflight")
        refresh_id = preflight.metadata["refresh_id"].value  # the refresh the schedule's prepare run started
        assert backfill.tags[REFRESH_TAG] == refresh_id and backfill.tags[LAUNCHED_BY_TAG] == "schedule"
        again = sensor.evaluate_tick(
            dg.build_sensor_context(
                instance=instance,
                definitions=defs,
                resources={"pipeline": defs.resources["pipeline"]},
                cursor=tick.cursor,
            )
        )
        assert not again.run_requests  # exactly one backfill per scheduled refresh
