"""The Dagster code location: assembles assets, checks, resources, jobs, schedules and sensors."""

import warnings

import dagster as dg

from sf_assets.assets.checks import make_row_count_check
from sf_assets.assets.extract import chunk_plans, make_object_asset
from sf_assets.assets.prepare import critical_fields_present, field_plans, metadata_catalog, preflight
from sf_assets.config import default_config_path, load_config
from sf_assets.resources import PipelineConfigResource, SalesforceResource

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

PREPARE_ASSETS = [preflight, metadata_catalog, field_plans, chunk_plans]


def build_definitions(config_path: str | None = None) -> dg.Definitions:
    """Definitions for the pipeline configured at `config_path` (default: $SF_ASSETS_CONFIG or the repo's)."""
    path = str(config_path or default_config_path())
    config = load_config(path)
    pipeline = PipelineConfigResource(config_path=path)
    objects = [make_object_asset(obj) for obj in config.objects]
    return dg.Definitions(
        assets=[*PREPARE_ASSETS, *objects],
        asset_checks=[critical_fields_present, *(make_row_count_check(obj) for obj in config.objects)],
        resources={"pipeline": pipeline, "salesforce": SalesforceResource(pipeline=pipeline)},
    )


defs = build_definitions()
