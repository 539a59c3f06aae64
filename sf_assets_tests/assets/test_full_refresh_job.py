"""The nightly schedule's job runs a whole refresh (nested stage runs) and leaves publishing to the sensor."""

import json

import dagster as dg

from sf_assets.assets.common import LAUNCHED_BY_TAG, REFRESH_TAG
from sf_assets.definitions import build_definitions
from sf_assets.sensors import publish_on_new_output
from sf_assets_tests.pipeline_helpers import write_config

OBJECTS = [{"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"}]
DATASETS = [{"name": "accounts", "sql": "SELECT Id, Name, Industry FROM Account"}]


def test_full_refresh_job_then_sensor_publishes(org, tmp_path):
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS, paths={"create_share_dir": True})
    defs = build_definitions(str(path))
    job = defs.resolve_job_def("full_refresh_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
        assert result.success
        runs = instance.get_runs()
        stage_runs = [r for r in runs if r.tags.get(LAUNCHED_BY_TAG) == "schedule"]
        assert len(stage_runs) >= 3 and len({r.tags[REFRESH_TAG] for r in stage_runs}) == 1
        refresh_id = stage_runs[0].tags[REFRESH_TAG]
        health = json.loads((tmp_path / "output" / f"health_check_{refresh_id}.json").read_text(encoding="utf-8"))
        assert health["status"] == "success" and health["published"] == []  # the sensor publishes
        tick = publish_on_new_output.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
        assert len(tick.run_requests) == 1 and tick.run_requests[0].tags[REFRESH_TAG] == refresh_id
        publish = defs.resolve_job_def("publish_job").execute_in_process(instance=instance, tags=tick.run_requests[0].tags)
        assert publish.success
        copies = [p for p in (tmp_path / "share").iterdir() if p.suffix == ".parquet"]
        assert len(copies) == 1 and refresh_id in copies[0].name
        health = json.loads((tmp_path / "output" / f"health_check_{refresh_id}.json").read_text(encoding="utf-8"))
        assert health["published"][0]["ok"] is True  # the publish run recorded its outcome
