"""Assemble the Definitions of one pipeline configuration (no I/O beyond reading that YAML)."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

from sf_assets.config import load_config
from sf_assets.defs.asset_specs import with_owner
from sf_assets.defs.automation import catch_up_output, chunk_keys_sensor, make_continue_scheduled_refresh
from sf_assets.defs.extract import make_object_asset
from sf_assets.defs.extracted import make_extracted_asset
from sf_assets.defs.jobs import PREPARE_ASSETS, make_stage_jobs
from sf_assets.defs.output import make_dataset_assets, make_powerbi_output_asset, make_staging_asset
from sf_assets.defs.publish import publish_job, share_copy
from sf_assets.defs.resources import PipelineConfigResource, SalesforceResource
from sf_assets.defs.schedules import make_refresh_schedule
from sf_assets.defs.sensors import health_on_failure, publish_on_new_output
from sf_assets.transform.engines import dataset_engine

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(config_path: str | Path) -> dg.Definitions:
    """Definitions for the pipeline configured at `config_path`."""
    path = str(Path(config_path).absolute())
    config = load_config(path)
    dataset_engine(config.transform.engine)  # an unknown engine is a configuration error here, with or without datasets
    pipeline = PipelineConfigResource(config_path=path)
    return dg.Definitions(
        assets=with_owner([
            *PREPARE_ASSETS,
            *(make_object_asset(obj) for obj in config.objects),
            make_extracted_asset(config),
            *(make_staging_asset(obj) for obj in config.objects),
            *([make_dataset_assets(config)] if config.datasets else []),
            make_powerbi_output_asset(config),
            share_copy,
        ], config),
        jobs=[*make_stage_jobs(config), publish_job],
        schedules=[make_refresh_schedule(config)],
        sensors=[publish_on_new_output, health_on_failure, chunk_keys_sensor, catch_up_output,
                 make_continue_scheduled_refresh(config)],
        resources={"pipeline": pipeline, "salesforce": SalesforceResource(pipeline=pipeline)},
        executor=dg.in_process_executor,  # a UI run's steps in its one process, as `sf-assets run` does (ARCHITECTURE)
    )
