"""Sensors that report: publish each new Power BI output to the share; record failed runs in the health JSON."""

from __future__ import annotations

import logging
import sqlite3

import dagster as dg

from sf_assets.defs.context import state_db, tied_refresh_id
from sf_assets.defs.errors import step_failure_lines
from sf_assets.defs.output import POWERBI_OUTPUT
from sf_assets.defs.partitions import IN_PROGRESS
from sf_assets.defs.publish import publish_job
from sf_assets.defs.resources import PipelineConfigResource
from sf_assets.defs.tags import LAUNCHED_BY_TAG, REFRESH_TAG
from sf_assets.pipeline.health import finish_refresh_with_health, write_refresh_health

log = logging.getLogger(__name__)

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
                 minimum_interval_seconds=5, description="Requests a publish run for every new Power BI output.")
def publish_on_new_output(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    return publish_run_request(context.instance, asset_event)


def _runs_still_going(instance: dg.DagsterInstance, conn: sqlite3.Connection, refresh_id: str,
                      failed_run_id: str) -> list[str]:
    """The other runs of the refresh that are queued or in progress."""
    runs = [record.dagster_run for record in instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS))]
    return [run.run_id for run in runs if run.run_id != failed_run_id and tied_refresh_id(conn, run) == refresh_id]


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
                       description="Records a failed stage's real errors in its refresh's health JSON.")
def health_on_failure(context: dg.RunFailureSensorContext, pipeline: PipelineConfigResource) -> dg.SkipReason | None:
    """Ends the refresh a failed run provably belongs to (tag, backfill or recorded process) as failed, from the
    instance and local files only: no Salesforce call (the end usage is the last one the refresh recorded)."""
    run = context.dagster_run
    if run.tags.get(LAUNCHED_BY_TAG) in SELF_REPORTING:
        return dg.SkipReason("`sf-assets run` reports its own failures")
    config = pipeline.load()
    with state_db(config) as conn:
        refresh_id = tied_refresh_id(conn, run)
        still_going = _runs_still_going(context.instance, conn, refresh_id, run.run_id) if refresh_id else []
    if refresh_id is None:
        log.info("Failed run %s belongs to no refresh (no refresh tag, backfill or recorded step): ignored", run.run_id)
        return dg.SkipReason(f"run {run.run_id} belongs to no refresh")
    errors = step_failure_lines(context.get_step_failure_events()) or [
        (context.failure_event.message or "run failed").strip().splitlines()[0]]
    if still_going:  # the refresh goes on: its failure is decided when its last run ends
        write_refresh_health(config, refresh_id, run_ids=[run.run_id],
                             warnings=[f"run {run.run_id} failed while the refresh went on: {e}" for e in errors])
        return dg.SkipReason(f"refresh {refresh_id} still has run(s) in progress: {', '.join(still_going)}")
    finish_refresh_with_health(config, refresh_id, "failed", errors=errors, run_ids=[run.run_id], read_usage=False)
    return None
