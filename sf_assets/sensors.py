"""Sensors: publish each new Power BI output to the share; health JSON for runs launched from the UI."""

import dagster as dg

from sf_assets.assets.common import LAUNCHED_BY_TAG, REFRESH_DRIVERS, REFRESH_TAG, latest_refresh_id, state_db
from sf_assets.assets.output import POWERBI_OUTPUT
from sf_assets.jobs import publish_job
from sf_assets.resources import PipelineConfigResource

SELF_PUBLISHING = {"cli"}  # `sf-assets run` publishes itself (it cannot rely on a daemon)


def publish_run_request(instance: dg.DagsterInstance, event: dg.EventLogEntry) -> dg.RunRequest | dg.SkipReason:
    """One publish run per materialization of the Power BI output, keyed by the materializing run."""
    run = instance.get_run_by_id(event.run_id)
    tags = run.tags if run else {}
    if tags.get(LAUNCHED_BY_TAG) in SELF_PUBLISHING:
        return dg.SkipReason(f"run {event.run_id} was launched by `sf-assets run`, which publishes itself")
    materialization = event.asset_materialization
    refresh_entry = materialization.metadata.get("refresh_id") if materialization else None
    refresh_id = str(refresh_entry.value) if refresh_entry is not None else tags.get(REFRESH_TAG, "")
    return dg.RunRequest(run_key=f"publish-{event.run_id}", tags={REFRESH_TAG: refresh_id} if refresh_id else {})


@dg.asset_sensor(asset_key=POWERBI_OUTPUT, job=publish_job, default_status=dg.DefaultSensorStatus.RUNNING,
                 minimum_interval_seconds=30, description="Requests a publish run for every new Power BI output.")
def publish_on_new_output(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    return publish_run_request(context.instance, asset_event)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
                       description="Writes a failed health JSON for refresh runs launched from the UI.")
def health_on_failure(context: dg.RunFailureSensorContext, pipeline: PipelineConfigResource) -> None:
    from sf_assets.refresh_health import write_refresh_health

    tags = context.dagster_run.tags
    if tags.get(LAUNCHED_BY_TAG) in REFRESH_DRIVERS:
        return
    config = pipeline.load()
    with state_db(config) as conn:
        refresh_id = tags.get(REFRESH_TAG) or latest_refresh_id(conn)
    if refresh_id is None:
        return
    message = context.failure_event.message or "run failed"
    write_refresh_health(config, refresh_id, "failed", started_at=None, ended_at=None,
                         run_ids=[context.dagster_run.run_id], errors=[message])
