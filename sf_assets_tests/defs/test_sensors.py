"""The publish sensor requests exactly one publish run per new Power BI output; the failure sensor writes health."""

import json

import dagster as dg

from sf_assets.defs.output import POWERBI_OUTPUT
from sf_assets.defs.sensors import health_on_failure, publish_on_new_output
from sf_assets.defs.tags import LAUNCHED_BY_TAG, REFRESH_TAG
from sf_assets_tests.defs.test_definitions import repo_defs


def materialize_output(instance, refresh_id, tags=None):
    """A real materialization event of powerbi_output in a real (trivial) run with the given tags."""

    @dg.asset(key=POWERBI_OUTPUT)
    def fake_output():  # stands in for the heavy dataset build: only the event matters to the sensor
        return dg.MaterializeResult(metadata={"refresh_id": refresh_id})

    result = dg.materialize([fake_output], instance=instance, tags=tags or {})
    assert result.success
    return result.run_id


def tick(instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=repo_defs())
    return publish_on_new_output.evaluate_tick(context)


def test_one_publish_run_per_materialization():
    with dg.instance_for_test() as instance:
        first = tick(instance)  # empty cursor, no event yet
        assert not first.run_requests
        run_id = materialize_output(instance, "r1")
        result = tick(instance, first.cursor)
        assert len(result.run_requests) == 1
        request = result.run_requests[0]
        assert request.run_key == f"publish-{run_id}" and request.tags[REFRESH_TAG] == "r1"
        assert request.job_name in (None, "publish_job")
        again = tick(instance, result.cursor)
        assert not again.run_requests  # the same materialization is not published twice
        second_run = materialize_output(instance, "r2")
        latest = tick(instance, again.cursor)
        assert [r.run_key for r in latest.run_requests] == [f"publish-{second_run}"]


def test_first_tick_with_empty_cursor_still_publishes():
    with dg.instance_for_test() as instance:
        run_id = materialize_output(instance, "r1")
        result = tick(instance)
        assert [r.run_key for r in result.run_requests] == [f"publish-{run_id}"]


def test_cli_refresh_publishes_itself():
    with dg.instance_for_test() as instance:
        materialize_output(instance, "r1", tags={LAUNCHED_BY_TAG: "cli", REFRESH_TAG: "r1"})
        result = tick(instance)
        assert not result.run_requests
        assert "publishes itself" in (result.skip_message or "")


def test_failure_sensor_writes_health_for_ui_runs(org, tmp_path, monkeypatch):
    from sf_assets.defs.resources import PipelineConfigResource
    from sf_assets_tests.pipeline_helpers import write_config
    from sf_assets.storage.state_db import open_state_db
    from sf_assets.extract.refresh import current_or_new_refresh

    path = write_config(org, tmp_path)
    pipeline = PipelineConfigResource(config_path=str(path))
    refresh_id = current_or_new_refresh(open_state_db(tmp_path / "state" / "state.db"), 20).refresh_id
    from sf_assets.observability.redaction import register_secret

    register_secret(org.access_token)  # before anything is written, as the product does when it reads a secret

    @dg.asset
    def broken():
        raise RuntimeError(f"boom with token {org.access_token}")

    with dg.instance_for_test() as instance:
        result = dg.materialize([broken], instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        failure = failure._replace(message=f"{failure.message} {org.access_token}")  # a failure text carrying the token
        context = dg.build_run_status_sensor_context(
            sensor_name="health_on_failure", dagster_instance=instance, dagster_run=run, dagster_event=failure,
            resources={"pipeline": pipeline},
        ).for_run_failure()
        health_on_failure(context)
    report = tmp_path / "output" / f"health_check_{refresh_id}.json"
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["status"] == "failed" and data["run_ids"] == [result.run_id]
    assert org.access_token not in report.read_text(encoding="utf-8")


def _fail_run_for(instance, refresh_id, message):
    """A real failed run tagged with `refresh_id`, and the failure-sensor context the daemon would build for it."""

    @dg.asset
    def later_stage():
        raise RuntimeError(message)

    result = dg.materialize([later_stage], instance=instance, tags={REFRESH_TAG: refresh_id}, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    return dg.build_run_status_sensor_context(sensor_name="health_on_failure", dagster_instance=instance,
                                              dagster_run=run, dagster_event=failure).for_run_failure()


def test_failure_sensor_records_the_real_error_and_never_degrades_a_finished_refresh(org, tmp_path):
    from sf_assets.config import load_config
    from sf_assets.defs.driver import execute_refresh
    from sf_assets.defs.resources import PipelineConfigResource
    from sf_assets.extract.refresh import current_or_new_refresh
    from sf_assets.storage.state_db import open_state_db
    from sf_assets_tests.pipeline_helpers import write_config

    objects = [{"name": "Account", "soql": "SELECT Id, Name FROM Account"}]
    path = write_config(org, tmp_path, objects=objects, datasets=[{"name": "accounts", "sql": "SELECT * FROM Account"}],
                        paths={"share_dir": None})
    pipeline = PipelineConfigResource(config_path=str(path))
    with dg.instance_for_test() as instance:
        # An unfinished refresh (as a UI backfill leaves it when a stage fails): the real cause is recorded.
        running = current_or_new_refresh(open_state_db(tmp_path / "state" / "state.db"), 20).refresh_id
        health_on_failure(_fail_run_for(instance, running, "staging DB on fire"), pipeline=pipeline)
        data = json.loads((tmp_path / "output" / f"health_check_{running}.json").read_text(encoding="utf-8"))
        assert data["status"] == "failed"
        assert data["errors"]["last"] == ["later_stage: RuntimeError: staging DB on fire"]

        outcome = execute_refresh(load_config(path), instance, new_refresh=True)
        assert outcome.ok, outcome.failures
        report = tmp_path / "output" / f"health_check_{outcome.refresh_id}.json"
        before = json.loads(report.read_text(encoding="utf-8"))
        assert before["status"] == "success" and before["sqlite"] and before["final_files"] and before["duration_s"]
        health_on_failure(_fail_run_for(instance, outcome.refresh_id, "publish share vanished"), pipeline=pipeline)
    after = json.loads(report.read_text(encoding="utf-8"))
    assert after["status"] == "success"  # a later, unrelated failure never flips a finished refresh
    for key in ("rows_total", "sqlite", "final_files", "started_at", "ended_at", "duration_s", "api_usage_end"):
        assert after[key] == before[key], key
    assert set(before["run_ids"]) < set(after["run_ids"])
    assert any("publish share vanished" in w for w in after["warnings"]["last"])
