"""Sensors that report: publish each new Power BI output to the share; record failed runs in the health JSON."""

from __future__ import annotations

import dagster as dg

from sf_assets.defs.context import state_db
from sf_assets.defs.dagster_internals import backfill_id_of
from sf_assets.defs.errors import step_failure_lines
from sf_assets.defs.output import POWERBI_OUTPUT
from sf_assets.defs.publish import publish_job
from sf_assets.defs.resources import PipelineConfigResource
from sf_assets.defs.tags import LAUNCHED_BY_TAG, REFRESH_TAG
from sf_assets.extract.refresh import latest_refresh_id, refresh_of_backfill
from sf_assets.pipeline.health import finish_refresh_with_health

SELF_REPORTING = {"cli"}  # `sf-assets run` publishes and reports itself (it cannot rely on a daemon)


def publish_run_request(instance: dg.DagsterInstance, event: dg.EventLogEntry) -> dg.RunRequest | dg.SkipReason:
    """One publish run per materialization of the Power BI output, keyed by the materializing run."""
    run = instance.get_run_by_id(event.run_id)
    tags = run.tags if run else {}
    if tags.get(LAUNCHED_BY_TAG) in SELF_REPORTING:
        return dg.SkipReason(f"run {event.run_id} was launched by `sf-assets run`, which publishes itself")
    materialization = event.asset_materialization
    refresh_entry = materialization.metadata.get("refresh_id") if materialization else None
    refresh_id = str(refresh_entry.value) if refresh_entry is not None else tags.get(REFRESH_TAG, "")
    return dg.RunRequest(run_key=f"publish-{event.run_id}", tags={REFRESH_TAG: refresh_id} if refresh_id else {})


@dg.asset_sensor(asset_key=POWERBI_OUTPUT, job=publish_job, default_status=dg.DefaultSensorStatus.RUNNING,
                 minimum_interval_seconds=15, description="Requests a publish run for every new Power BI output.")
def publish_on_new_output(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    return publish_run_request(context.instance, asset_event)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
                       description="Records a failed stage's real errors in its refresh's health JSON.")
def health_on_failure(context: dg.RunFailureSensorContext, pipeline: PipelineConfigResource) -> dg.SkipReason | None:
    tags = context.dagster_run.tags
    if tags.get(LAUNCHED_BY_TAG) in SELF_REPORTING:
        return dg.SkipReason("`sf-assets run` reports its own failures")
    config = pipeline.load()
    with state_db(config) as conn:
        backfill_id = backfill_id_of(tags)
        refresh_id = tags.get(REFRESH_TAG) or (refresh_of_backfill(conn, backfill_id) if backfill_id else None) or \
            latest_refresh_id(conn)
    if refresh_id is None:
        return dg.SkipReason("no refresh to report on")
    errors = step_failure_lines(context.get_step_failure_events()) or [
        (context.failure_event.message or "run failed").strip().splitlines()[0]]
    finish_refresh_with_health(config, refresh_id, "failed", errors=errors, run_ids=[context.dagster_run.run_id])
    return None
