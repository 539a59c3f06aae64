"""What an object's asset page shows after a refresh (real emulator over HTTPS, real Dagster instance and runs)."""

import dagster as dg

from sf_assets.defs.driver import execute_refresh
from sf_assets.defs.tags import CLI_LAUNCHER
from sf_assets_tests.pipeline_helpers import make_config

OBJECTS = [{"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"}]
DATASETS = [{"name": "accounts", "sql": "SELECT Id, Name FROM Account"}]
ROW_COUNT = "dagster/row_count"


def row_count_on_asset_page(instance: dg.DagsterInstance, key: dg.AssetKey) -> int | None:
    """The asset page's "Row count", read as Dagster 1.13's UI reads it (ui-core AssetNodeOverview.tsx): the
    `dagster/row_count` of the latest materialization, else of the latest observation."""
    for records in (instance.fetch_materializations(key, limit=1).records,
                    instance.fetch_observations(key, limit=1).records):
        event = records[0].asset_materialization or records[0].asset_observation if records else None
        if event is not None and ROW_COUNT in event.metadata:
            return event.metadata[ROW_COUNT].value
    return None


def test_object_page_shows_the_refresh_total_and_its_figures(org, tmp_path):
    config = make_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS, extraction={"chunk_size": 100},
                         owner="team:data")
    key = dg.AssetKey(["salesforce", "Account"])
    with dg.instance_for_test() as instance:
        outcome = execute_refresh(config, instance, publish=False)
        assert outcome.ok, outcome.failures
        chunks = [r.asset_materialization for r in instance.fetch_materializations(key, limit=100).records]
        assert len(chunks) >= 3 and all(c.partition for c in chunks)  # per-chunk metadata stays on the partitions
        assert all(ROW_COUNT not in c.metadata for c in chunks)  # else the page showed the last chunk's rows
        (record,) = instance.fetch_observations(key, limit=10).records
        figures = record.asset_observation
        assert figures.partition is None  # one event per refresh for the time plots, no partition's status changed
        metadata = {name: entry.value for name, entry in figures.metadata.items()}
        total = org.data.row_count("Account")
        assert metadata[ROW_COUNT] == sum(c.metadata["rows"].value for c in chunks) == total
        assert row_count_on_asset_page(instance, key) == total
        assert metadata["expected_rows"] == total and metadata["refresh_id"] == outcome.refresh_id
        assert metadata["chunks"] == metadata["chunks_planned"] == metadata["bulk_jobs"] == len(chunks)
        assert metadata["chunks_failed"] == 0 and metadata["rows_this_run"] == total
        assert metadata["bytes"] == sum(c.metadata["bytes"].value for c in chunks)
        assert metadata["duration_s"] > 0 and metadata["rows_per_s"] > 0
        assert f"{total:,} rows extracted" in figures.description
        statuses = instance.get_status_by_partition(key, instance.get_dynamic_partitions("Account_chunks"),
                                                    dg.DynamicPartitionsDefinition(name="Account_chunks"))
        assert {s.value for s in statuses.values()} == {"MATERIALIZED"}
        runs = instance.get_runs()
        assert runs and all(r.tags.get("user") == CLI_LAUNCHER for r in runs)  # not "Manually launched" in the UI
