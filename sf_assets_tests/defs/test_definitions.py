"""The code location loads, with the expected assets, checks, jobs, schedule and sensors."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from sf_assets.defs.build import build_definitions

REPO = Path(__file__).resolve().parents[2]
OBJECTS = ["Account", "Contact", "Opportunity", "Widget__c"]
DATASETS = {"opportunity_account": ["Account", "Opportunity"], "account": ["Account"], "contact": ["Contact"],
            "opportunity": ["Opportunity"], "widget": ["Widget__c"]}  # config/pipeline.yaml: the tables each SQL reads


def repo_defs() -> dg.Definitions:
    return build_definitions(REPO / "config" / "pipeline.yaml")


def test_definitions_snapshot():
    defs = repo_defs()
    graph = defs.resolve_asset_graph()
    keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    assert keys == sorted([
        "preflight", "metadata_catalog", "field_plans", "chunk_plans", "extracted", "powerbi_output", "share_copy",
        *(f"salesforce/{o}" for o in OBJECTS), *(f"staging/{o}" for o in OBJECTS), *(f"dataset/{d}" for d in DATASETS),
    ])
    for name, tables in DATASETS.items():  # partition-free, downstream of the staging tables its SQL reads
        node = graph.get(dg.AssetKey(["dataset", name]))
        assert node.partitions_def is None and node.kinds == {"dask", "parquet", "powerbi"}
        assert node.parent_keys == {dg.AssetKey(["staging", t]) for t in tables}
    # Staging waits for every object (the gate `extracted`), so a backfill stages, joins and promotes in one run.
    assert graph.get(dg.AssetKey("extracted")).parent_keys == {dg.AssetKey(["salesforce", o]) for o in OBJECTS}
    for obj in OBJECTS:
        assert graph.get(dg.AssetKey(["staging", obj])).parent_keys == {
            dg.AssetKey(["salesforce", obj]), dg.AssetKey("extracted")}
    assert graph.get(dg.AssetKey("powerbi_output")).parent_keys == {dg.AssetKey(["dataset", d]) for d in DATASETS}
    datasets = graph.assets_def_for_key(dg.AssetKey(["dataset", "account"]))
    assert datasets.can_subset and set(datasets.keys) == {dg.AssetKey(["dataset", d]) for d in DATASETS}
    assert dg.AssetKey("share_copy") not in graph.materializable_asset_keys  # "Materialize all" never publishes
    checks = sorted(c.to_user_string() for c in graph.asset_check_keys)
    assert checks == sorted(f"salesforce/{o}:{name}" for o in OBJECTS
                            for name in ("row_count_matches_salesforce", "row_count_drop", "fields_delivered"))
    assert sorted(j.name for j in defs.jobs) == sorted(
        ["prepare_job", "output_job", "publish_job", *(f"extract_{o}_job" for o in OBJECTS)])
    assert [s.name for s in defs.schedules] == ["nightly_refresh"]
    assert sorted(s.name for s in defs.sensors) == sorted(
        [
            "health_on_failure",
            "publish_on_new_output",
            "chunk_keys_sensor",
            "catch_up_output",
            "continue_scheduled_refresh",
        ]
    )
    watching = {s.name for s in defs.sensors} - {"continue_scheduled_refresh"}  # they only watch: always on
    for sensor in defs.sensors:
        running = sensor.name in watching  # the one continuing the schedule follows schedule.enabled (demo: off)
        assert sensor.default_status == (dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED)
    for obj in OBJECTS:
        assets_def = graph.assets_def_for_key(dg.AssetKey(["salesforce", obj]))
        assert isinstance(assets_def.partitions_def, dg.DynamicPartitionsDefinition)
        assert assets_def.backfill_policy == dg.BackfillPolicy.single_run()
        assert assets_def.node_def.pool == "salesforce_bulk"
        blocking = {spec.name: spec.blocking for spec in assets_def.check_specs}
        assert blocking == {"row_count_matches_salesforce": True, "row_count_drop": False, "fields_delivered": False}


def test_schedule_uses_configured_cron():
    schedule = repo_defs().resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # the demo's schedule.enabled: false
    assert schedule.job_name == "prepare_job"


def test_assets_carry_kinds_and_say_what_they_are():
    graph = repo_defs().resolve_asset_graph()
    kinds = {k.to_user_string(): graph.get(k).kinds for k in graph.get_all_asset_keys()}
    assert kinds["preflight"] == kinds["chunk_plans"] == {"salesforce"}
    assert kinds["salesforce/Opportunity"] == {"salesforce", "parquet"}
    assert kinds["staging/Opportunity"] == {"sqlite"}  # the lineage shows both as "Opportunity": the kinds differ
    assert {"parquet", "powerbi"} <= kinds["share_copy"]
    assert all(graph.get(k).owners == [] for k in graph.get_all_asset_keys())  # the demo names no owner
    description = graph.get(dg.AssetKey(["salesforce", "Opportunity"])).description
    assert "Partitions tab" in description and "per refresh" in description


def test_definitions_follow_the_config(tmp_path, org):
    from sf_assets_tests.pipeline_helpers import write_config

    custom = build_definitions(str(write_config(org, tmp_path, owner="team:data", schedule={
        "cron": "30 3 * * 1-5", "timezone": "Europe/Berlin", "enabled": True})))
    graph = custom.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert "salesforce/Opportunity" in keys and "salesforce/Contact" not in keys
    assert all(graph.get(k).owners == ["team:data"] for k in graph.get_all_asset_keys())
    schedule = custom.resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "30 3 * * 1-5" and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert custom.resolve_sensor_def("continue_scheduled_refresh").default_status == dg.DefaultSensorStatus.RUNNING


def test_importing_the_package_reads_no_config(tmp_path):
    """Only the code location module loads a config: the CLI and the stages never import it."""
    code = ("import sys, sf_assets.cli, sf_assets.defs.driver, sf_assets.defs.build; "
            "assert 'sf_assets.definitions' not in sys.modules")
    env = {**os.environ, "SF_ASSETS_CONFIG": str(tmp_path / "missing.yaml")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_dagster_definitions_validate_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout
