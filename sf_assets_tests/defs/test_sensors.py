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
        assert (request.job_name or publish_on_new_output.job_name) == "publish_job"  # the job the run will be of
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
    from sf_assets.extract.refresh import current_or_new_refresh
    from sf_assets.storage.state_db import open_state_db
    from sf_assets_tests.pipeline_helpers import write_config

    path = write_config(org, tmp_path)
    pipeline = PipelineConfigResource(config_path=str(path))
    refresh_id = current_or_new_refresh(open_state_db(tmp_path / "state" / "state.db"), 20).refresh_id
    from sf_assets.observability.redaction import register_secret

    register_secret(org.access_token)  # before anything is written, as the product does when it reads a secret

    @dg.asset
    def broken():
        raise RuntimeError(f"boom with token {org.access_token}")

    with dg.instance_for_test() as instance:
        result = dg.materialize([broken], instance=instance, tags={REFRESH_TAG: refresh_id}, raise_on_error=False)
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


def test_failure_sensor_acts_only_on_runs_of_a_refresh_and_reports_the_recorded_usage_offline(make_org, tmp_path):
    """Preflight (its lock probe leaves no holder file) and an extraction step record the usage Salesforce reported;
    with the org stopped, the sensor ignores an untied failed run, leaves a refresh with a run in progress running,
    then ends it as failed from local state alone: no HTTP request (the org is down), the recorded usage and time."""
    import time

    from sf_assets.config import load_config
    from sf_assets.defs.build import build_definitions
    from sf_assets.defs.resources import PipelineConfigResource
    from sf_assets.extract.refresh import current_or_new_refresh, refresh_status
    from sf_assets.pipeline.emulator import open_connection
    from sf_assets.pipeline.plan import extract_context
    from sf_assets.storage.refresh_lock import holder_path
    from sf_assets.storage.state_db import open_state_db
    from sf_assets_tests.pipeline_helpers import write_config

    org = make_org()
    path = write_config(org, tmp_path, objects=[{"name": "Account", "soql": "SELECT Id, Name FROM Account"}])
    config = load_config(path)
    conn = open_state_db(config.paths.state_db)
    refresh_id = current_or_new_refresh(conn, 20).refresh_id
    defs = build_definitions(str(path))
    preflight = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("preflight") in a.keys]
    with dg.instance_for_test() as instance:
        assert dg.materialize(preflight, instance=instance, resources=defs.resources,
                              tags={REFRESH_TAG: refresh_id}).success
    assert not holder_path(config.paths.state_db.parent / "refresh.lock").exists()  # the probe names no holder
    org.set_api_used_pct(37.0)
    connection = open_connection(config.salesforce)
    with extract_context(config, connection, conn, refresh_id) as ctx:  # one governed Bulk request
        ctx.client.create_query_job("SELECT Id FROM Account")
    connection.close()
    org.stop()  # from here on any Salesforce request (or /limits read) fails

    pipeline = PipelineConfigResource(config_path=str(path))
    report = tmp_path / "output" / f"health_check_{refresh_id}.json"
    with dg.instance_for_test() as instance:
        untied = dg.materialize([_failing_asset("a UI run of one asset")], instance=instance, raise_on_error=False)
        assert health_on_failure(_failure_context(instance, untied), pipeline=pipeline) is not None
        assert refresh_status(conn, refresh_id) == "running" and not report.exists()

        instance.add_run(dg.DagsterRun(job_name="extract", run_id="still-going", status=dg.DagsterRunStatus.STARTED,
                                       tags={REFRESH_TAG: refresh_id}))
        health_on_failure(_fail_run_for(instance, refresh_id, "one chunk failed"), pipeline=pipeline)
        assert refresh_status(conn, refresh_id) == "running"  # another run of it goes on
        assert any("one chunk failed" in w for w in json.loads(report.read_text(encoding="utf-8"))["warnings"]["last"])

        instance.delete_run("still-going")
        started = time.monotonic()
        health_on_failure(_fail_run_for(instance, refresh_id, "staging failed"), pipeline=pipeline)
        took = time.monotonic() - started
    assert took < 5, took  # no connection attempt, no emulator start, no 300 s read timeout
    data = json.loads(report.read_text(encoding="utf-8"))
    assert refresh_status(conn, refresh_id) == "failed" and data["status"] == "failed"
    last = data["api_usage_last"]
    assert last["pct"] == 37.0 and last["at"] >= data["started_at"][:19]
    assert data["api_usage_end"] == last  # one shape: the usage and when Salesforce reported it


def _failing_asset(message):
    @dg.asset
    def some_stage():
        raise RuntimeError(message)

    return some_stage


def _failure_context(instance, result):
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    return dg.build_run_status_sensor_context(sensor_name="health_on_failure", dagster_instance=instance,
                                              dagster_run=run, dagster_event=failure).for_run_failure()
