"""The code location loads, with the expected assets, checks, jobs, schedule and sensors."""

import subprocess
import sys
from pathlib import Path

import dagster as dg

from sf_assets.definitions import build_definitions, defs

REPO = Path(__file__).resolve().parents[2]


def test_definitions_snapshot():
    graph = defs.resolve_asset_graph()
    keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    objects = ["Account", "Contact", "Opportunity", "Widget__c"]
    assert keys == sorted([
        "preflight", "metadata_catalog", "field_plans", "chunk_plans", "powerbi_output", "share_copy",
        *(f"salesforce/{o}" for o in objects), *(f"staging/{o}" for o in objects),
    ])
    checks = sorted(c.to_user_string() for c in graph.asset_check_keys)
    assert checks == sorted(["field_plans:critical_fields_present",
                             *(f"salesforce/{o}:row_count_matches_salesforce" for o in objects)])
    assert sorted(j.name for j in defs.jobs) == ["full_refresh_job", "publish_job"]
    assert [s.name for s in defs.schedules] == ["nightly_refresh"]
    assert sorted(s.name for s in defs.sensors) == ["health_on_failure", "publish_on_new_output"]
    for sensor in defs.sensors:
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    for obj in objects:
        assets_def = graph.assets_def_for_key(dg.AssetKey(["salesforce", obj]))
        assert isinstance(assets_def.partitions_def, dg.DynamicPartitionsDefinition)
        assert assets_def.backfill_policy == dg.BackfillPolicy.single_run()
        assert assets_def.node_def.pool == "salesforce_bulk"


def test_schedule_uses_configured_cron():
    schedule = defs.resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    result = schedule.evaluate_tick(dg.build_schedule_context())
    assert len(result.run_requests) == 1
    assert schedule.job_name == "full_refresh_job"


def test_definitions_follow_the_config(tmp_path, org):
    from sf_assets_tests.pipeline_helpers import write_config

    custom = build_definitions(str(write_config(org, tmp_path, schedule={"cron": "30 3 * * 1-5", "timezone": "Europe/Berlin"})))
    keys = {k.to_user_string() for k in custom.resolve_asset_graph().get_all_asset_keys()}
    assert "salesforce/Opportunity" in keys and "salesforce/Contact" not in keys
    assert custom.resolve_schedule_def("nightly_refresh").cron_schedule == "30 3 * * 1-5"


def test_dagster_definitions_validate_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout
