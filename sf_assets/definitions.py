"""The Dagster code location: assembles assets, checks, resources, jobs, schedules and sensors."""

import warnings

import dagster as dg

from sf_assets.assets.checks import make_row_count_check
from sf_assets.assets.extract import chunk_plans, make_object_asset
from sf_assets.assets.output import make_powerbi_output_asset, make_staging_asset, share_copy
from sf_assets.assets.prepare import critical_fields_present, field_plans, metadata_catalog, preflight
from sf_assets.config import default_config_path, load_config
from sf_assets.jobs import full_refresh_job, publish_job
from sf_assets.resources import PipelineConfigResource, SalesforceResource
from sf_assets.schedules import make_refresh_schedule
from sf_assets.sensors import health_on_failure, publish_on_new_output

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

PREPARE_ASSETS = [preflight, metadata_catalog, field_plans, chunk_plans]


def build_definitions(config_path: str | None = None) -> dg.Definitions:
    """Definitions for the pipeline configured at `config_path` (default: $SF_ASSETS_CONFIG or the repo's)."""
    path = str(config_path or default_config_path())
    config = load_config(path)
    pipeline = PipelineConfigResource(config_path=path)
    return dg.Definitions(
        assets=[
            *PREPARE_ASSETS,
            *(make_object_asset(obj) for obj in config.objects),
            *(make_staging_asset(obj) for obj in config.objects),
            make_powerbi_output_asset(config.objects),
            share_copy,
        ],
        asset_checks=[critical_fields_present, *(make_row_count_check(obj) for obj in config.objects)],
        jobs=[full_refresh_job, publish_job],
        schedules=[make_refresh_schedule(config)],
        sensors=[publish_on_new_output, health_on_failure],
        resources={"pipeline": pipeline, "salesforce": SalesforceResource(pipeline=pipeline)},
    )


defs = build_definitions()
