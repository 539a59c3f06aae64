"""Sensors that move a refresh along without anyone clicking: chunk keys, the scheduled refresh, catch-up.

- `chunk_keys`: sets each object's stable chunk keys to what its last plan needs, only while nothing
  could be targeting them (see `partitions.quiet_reason`); a new object gets c0001 at once.
- `continue_scheduled_refresh`: once the schedule's prepare run planned the chunks, launches ONE
  asset backfill of every object's chunks, staging and the Power BI output (normal queued runs);
  running from the start only with `schedule.enabled`, like the schedule it continues.
- `catch_up_output`: when a failed refresh's missing chunks were re-materialized alone (from the
  Partitions tab), runs `output_job` so staging, datasets and the Power BI files catch up.
"""

from __future__ import annotations

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.defs.context import lock_path, state_db
from sf_assets.defs.dagster_internals import backfill_request
from sf_assets.defs.extract import object_asset_key
from sf_assets.defs.jobs import OUTPUT_JOB
from sf_assets.defs.output import output_asset_keys
from sf_assets.defs.partitions import chunk_keys, chunk_partitions, key_changes, quiet_reason
from sf_assets.defs.resources import PipelineConfigResource
from sf_assets.defs.tags import LAUNCHED_BY_TAG, REFRESH_CONCURRENCY_TAG, REFRESH_TAG
from sf_assets.extract.refresh import latest_refresh_id, refresh_status
from sf_assets.extract.tracker import chunk_progress
from sf_assets.storage.chunk_keys import key_target
from sf_assets.storage.refresh_facts import get_fact


@dg.sensor(default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=15,
           description="Keeps each object's chunk partition keys (c0001…) at the count its last plan needs.")
def chunk_keys_sensor(context: dg.SensorEvaluationContext, pipeline: PipelineConfigResource):
    config = pipeline.load()
    requests: list = []
    with state_db(config) as conn:
        why_not = quiet_reason(context.instance, conn, lock_path(config))
        for obj in config.objects:
            existing = chunk_keys(context.instance, obj.name)
            add, delete = key_changes(
                existing, key_target(conn, obj.name) if (why_not is None or not existing) else len(existing)
            )
            delete = delete if why_not is None else []  # adding is always safe; deleting only when quiet
            pdef = chunk_partitions(obj.name)
            requests += [pdef.build_add_request(add)] if add else []
            requests += [pdef.build_delete_request(delete)] if delete else []
    if not requests:
        return dg.SkipReason(f"chunk keys up to date{' (changes wait: ' + why_not + ')' if why_not else ''}")
    return dg.SensorResult(dynamic_partitions_requests=requests)


def make_continue_scheduled_refresh(config: PipelineConfig) -> dg.SensorDefinition:
    """The sensor that launches the extraction/output backfill of a refresh the schedule prepared."""
    names = [o.name for o in config.objects]
    targets = [*(object_asset_key(n) for n in names), *output_asset_keys(config)]  # staging, datasets, output
    status = dg.DefaultSensorStatus.RUNNING if config.schedule.enabled else dg.DefaultSensorStatus.STOPPED

    @dg.sensor(
        name="continue_scheduled_refresh",
        default_status=status,
        minimum_interval_seconds=15,
        asset_selection=dg.AssetSelection.assets(*targets),
        description="After the schedule's prepare run: one backfill of every chunk, staging and the Power BI output.",
    )
    def _sensor(context: dg.SensorEvaluationContext, pipeline: PipelineConfigResource):
        config = pipeline.load()
        with state_db(config) as conn:
            refresh_id = latest_refresh_id(conn)
            ready = refresh_id is not None and refresh_status(conn, refresh_id) == "running" and \
                get_fact(conn, refresh_id, "launched_by") == "schedule" and get_fact(conn, refresh_id, "planned")
        if not ready or refresh_id is None or context.cursor == refresh_id:
            return dg.SkipReason("no scheduled refresh waiting for its extraction")
        tags = {REFRESH_TAG: refresh_id, LAUNCHED_BY_TAG: "schedule", REFRESH_CONCURRENCY_TAG: "stage"}
        assert context.repository_def is not None  # a sensor's tick always has its repository
        return dg.SensorResult(
            run_requests=[backfill_request(context.instance, context.repository_def.asset_graph, targets, tags)],
            cursor=refresh_id,
        )

    return _sensor


@dg.sensor(job_name=OUTPUT_JOB, default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=15,
           description="Brings staging and the Power BI files up to date once a failed refresh's chunks are all done.")
def catch_up_output(context: dg.SensorEvaluationContext, pipeline: PipelineConfigResource):
    config = pipeline.load()
    with state_db(config) as conn:
        refresh_id = latest_refresh_id(conn)
        if refresh_id is None or refresh_status(conn, refresh_id) != "failed":
            return dg.SkipReason("no failed refresh to catch up")
        why_not = quiet_reason(context.instance, conn, lock_path(config), need_finished=False)
        if why_not:
            return dg.SkipReason(f"waiting: {why_not}")
        chunks = chunk_progress(conn, refresh_id)
    if not chunks.planned or chunks.done != chunks.planned or chunks.objects != {o.name for o in config.objects}:
        return dg.SkipReason(f"refresh {refresh_id}: {chunks.done} of {chunks.planned} chunks done")
    return dg.RunRequest(run_key=f"catch-up-{refresh_id}-{chunks.last_ended}",
                         tags={REFRESH_TAG: refresh_id, LAUNCHED_BY_TAG: "catch_up"})
