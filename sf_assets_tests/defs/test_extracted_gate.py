"""The gate `extracted` between the objects and staging (real emulator over HTTPS, real Dagster instance and runs):
after a refresh it shows the rows per object beside Salesforce's count; with a chunk not done it fails in one line
naming what is missing, and nothing is staged."""

import dagster as dg

from sf_assets.config import load_config
from sf_assets.defs.build import build_definitions
from sf_assets.defs.context import state_db
from sf_assets.defs.driver import execute_refresh
from sf_assets.defs.extracted import EXTRACTED
from sf_assets.defs.output import staging_asset_key
from sf_assets.extract.tracker import ChunkTracker
from sf_assets_tests.pipeline_helpers import write_config

OBJECTS = [{"name": "Account", "soql": "SELECT Id, Name FROM Account"},
           {"name": "Contact", "soql": "SELECT Id, LastName FROM Contact"}]


def test_extracted_reports_every_object_and_stops_staging_while_a_chunk_is_missing(org, tmp_path):
    path = write_config(org, tmp_path, objects=OBJECTS, extraction={"chunk_size": 100},
                        datasets=[{"name": "contacts", "sql": "SELECT Id, LastName FROM Contact"}])
    config = load_config(path)
    defs = build_definitions(str(path))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    with dg.instance_for_test() as instance:
        outcome = execute_refresh(config, instance, publish=False)
        assert outcome.ok, outcome.failures
        metadata = instance.get_latest_materialization_event(EXTRACTED).asset_materialization.metadata
        rows = {o["name"]: org.data.row_count(o["name"]) for o in OBJECTS}
        assert {name: metadata[f"{name} rows"].value for name in rows} == rows
        assert {name: metadata[f"{name} expected_rows"].value for name in rows} == rows
        assert metadata["dagster/row_count"].value == sum(rows.values())
        assert metadata["refresh_id"].value == outcome.refresh_id

        with state_db(config) as conn:
            tracker = ChunkTracker(conn)
            chunks = tracker.chunks(outcome.refresh_id, "Contact")
            tracker.mark_failed(chunks[1].key, "refused by Salesforce")
        staged_before = instance.get_latest_materialization_event(staging_asset_key("Account")).run_id
        run = dg.materialize(assets, selection=[EXTRACTED, staging_asset_key("Account")], instance=instance,
                             resources=defs.resources, tags={"sf_assets/refresh_id": outcome.refresh_id},
                             raise_on_error=False)
        assert not run.success
        (failure,) = [e for e in run.all_events if e.is_step_failure]
        assert failure.step_key.startswith("extracted")
        assert failure.event_specific_data.error.message.strip().endswith(
            f"refresh {outcome.refresh_id} is not fully extracted (chunks not done: Contact 1 of {len(chunks)}): "
            "materialize them first (Partitions tab, preset 'Failed') or run `sf-assets run`")
        assert instance.get_latest_materialization_event(staging_asset_key("Account")).run_id == staged_before
