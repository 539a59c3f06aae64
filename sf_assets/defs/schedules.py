"""The nightly refresh schedule (cron, timezone and whether it starts running from the pipeline YAML)."""

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.defs.jobs import PREPARE_JOB
from sf_assets.defs.tags import LAUNCHED_BY_TAG


def make_refresh_schedule(config: PipelineConfig) -> dg.ScheduleDefinition:
    """Launches `prepare_job` on `schedule.cron`; the sensor continue_scheduled_refresh then backfills the rest.

    Running from the start only with `schedule.enabled`; turned on or off in the UI, the instance keeps that state.
    """
    status = dg.DefaultScheduleStatus.RUNNING if config.schedule.enabled else dg.DefaultScheduleStatus.STOPPED
    return dg.ScheduleDefinition(
        name="nightly_refresh", job_name=PREPARE_JOB, cron_schedule=config.schedule.cron,
        execution_timezone=config.schedule.timezone, default_status=status,
        tags={LAUNCHED_BY_TAG: "schedule"},
        description="Full refresh: preflight and chunk plans, then (sensor continue_scheduled_refresh) every chunk, "
                    "staging, datasets, Power BI files; publish_on_new_output copies them to the share.",
    )
