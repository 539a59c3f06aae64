"""Every YAML dataset is an asset: a refresh materializes each with its rows and column schema (one build step),
the Power BI output carries rows and schema per file, and a dataset rebuilt alone is held, never promoted alone."""

import json

import dagster as dg
import pyarrow.parquet as pq

from sf_assets.config import load_config
from sf_assets.defs.build import build_definitions
from sf_assets.defs.driver import execute_refresh
from sf_assets.defs.output import POWERBI_OUTPUT, dataset_asset_key
from sf_assets.pipeline.build import promote_refresh
from sf_assets_tests.pipeline_helpers import write_config

OBJECTS = [
    {"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"},
    {"name": "Opportunity", "join_keys": ["AccountId"], "soql": "SELECT Id, AccountId, Amount FROM Opportunity"},
]
DATASETS = [
    {"name": "accounts", "sql": "SELECT Id, Name, Industry FROM Account"},
    {"name": "opportunity_account",
     "sql": "SELECT o.Id, o.Amount, a.Name AS AccountName FROM Opportunity o JOIN Account a ON o.AccountId = a.Id"},
]


def _schema(value) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in value.schema.columns]


def _visible(output):
    """Every file the user or the share sees under the output folder (health JSONs aside)."""
    return {p.relative_to(output).as_posix(): p.read_bytes() for p in sorted(output.rglob("*"))
            if p.is_file() and not p.name.startswith("health_check_")}


def test_datasets_are_assets_and_one_rebuilt_alone_waits_for_the_promotion(org, tmp_path):
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS)
    output = tmp_path / "output"
    defs = build_definitions(str(path))
    graph = defs.resolve_asset_graph()
    assert graph.get(dataset_asset_key("opportunity_account")).parent_keys == {
        dg.AssetKey(["staging", "Account"]), dg.AssetKey(["staging", "Opportunity"])}  # from its SQL
    assert graph.get(dataset_asset_key("accounts")).kinds >= {"sqlite", "parquet", "powerbi"}
    with dg.instance_for_test() as instance:
        refreshed = execute_refresh(load_config(path), instance, publish=False)
        assert refreshed.ok, refreshed.failures

        # (1) the refresh: one materialization per dataset, from ONE build step (one engine start), rows and
        # schema of its Power BI file; powerbi_output has rows and schema per file
        output_run = next(r for r in instance.get_runs() if r.job_name == "output_job")
        steps = {s.step_key for s in instance.get_run_step_stats(output_run.run_id)}
        assert [s for s in steps if s.startswith("datasets")] == ["datasets"]
        promoted = instance.get_latest_materialization_event(POWERBI_OUTPUT).asset_materialization.metadata
        for ds in DATASETS:
            name = ds["name"]
            event = instance.get_latest_materialization_event(dataset_asset_key(name))
            assert event.run_id == output_run.run_id and event.step_key == "datasets"
            file = pq.ParquetFile(output / name / f"{name}.parquet")
            arrow = [(f.name, str(f.type)) for f in file.schema_arrow]
            metadata = event.asset_materialization.metadata
            assert metadata["dagster/row_count"].value == file.metadata.num_rows > 0
            assert _schema(metadata["dagster/column_schema"]) == arrow
            assert metadata["seconds"].value >= 0 and metadata["refresh_id"].value == refreshed.refresh_id
            assert promoted[f"{name} rows"].value == file.metadata.num_rows
            assert _schema(promoted[f"{name} schema"]) == arrow

        # (2) one dataset rebuilt alone: materialized and verified, nothing the user sees changes
        before = _visible(output)
        stable_inode = (output / "accounts" / "accounts.parquet").stat().st_ino
        assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
        alone = dg.materialize(assets, selection=[dataset_asset_key("accounts")], instance=instance,
                               resources=defs.resources)
        assert alone.success
        (event,) = alone.get_asset_materialization_events()
        assert event.asset_key == dataset_asset_key("accounts")
        assert event.step_materialization_data.materialization.metadata["dagster/row_count"].value == \
            pq.read_metadata(output / "accounts" / "accounts.parquet").num_rows
        assert _visible(output) == before  # current.json and the stable files untouched: held, not promoted
        held = tmp_path / "work" / "held" / "accounts" / f"v{refreshed.refresh_id}"
        assert (held / "_SUCCESS").exists()
        assert instance.get_latest_materialization_event(POWERBI_OUTPUT).run_id == output_run.run_id

        # a held version built from another SQL than the configured one is never promoted
        edited = [{**DATASETS[0], "sql": "SELECT Id, Name FROM Account"}, DATASETS[1]]
        refused = promote_refresh(load_config(write_config(org, tmp_path, objects=OBJECTS, datasets=edited)),
                                  refreshed.refresh_id)
        assert list(refused.failed) == ["accounts"] and "SQL changed" in refused.failed["accounts"]
        assert refused.held_back == [] and _visible(output) == before and held.exists()
        write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS)

        # ... until the refresh's set is promoted together: the held version becomes current, nothing is left held
        promote = dg.materialize(assets, selection=[POWERBI_OUTPUT], instance=instance, resources=defs.resources)
        assert promote.success
        current = json.loads((output / "accounts" / "current.json").read_text())
        assert current["refresh_id"] == refreshed.refresh_id
        assert (output / "accounts" / "accounts.parquet").stat().st_ino != stable_inode  # the rebuilt version
        assert not held.exists()
        assert (output / "opportunity_account" / "current.json").read_bytes() == \
            before["opportunity_account/current.json"]  # already current at this refresh: left as it was
