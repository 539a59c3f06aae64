"""The nightly refresh schedule (cron and timezone from pipeline.yaml)."""

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.jobs import full_refresh_job


def make_refresh_schedule(config: PipelineConfig) -> dg.ScheduleDefinition:
    """Runs `full_refresh_job` on `schedule.cron` (running by default once the daemon runs)."""
    return dg.ScheduleDefinition(
        name="nightly_refresh", job=full_refresh_job, cron_schedule=config.schedule.cron,
        execution_timezone=config.schedule.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Full refresh: extraction of every object, staging, datasets, Power BI files, health JSON.",
    )
