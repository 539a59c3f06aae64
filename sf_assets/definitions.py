"""The Dagster code location: assembles assets, checks, resources, jobs, schedules and sensors."""

import dagster as dg

from sf_assets.assets.prepare import critical_fields_present, field_plans, metadata_catalog, preflight
from sf_assets.config import default_config_path
from sf_assets.resources import PipelineConfigResource, SalesforceResource


def build_definitions(config_path: str | None = None) -> dg.Definitions:
    """Definitions for the pipeline configured at `config_path` (default: $SF_ASSETS_CONFIG or the repo's)."""
    pipeline = PipelineConfigResource(config_path=str(config_path or default_config_path()))
    return dg.Definitions(
        assets=[preflight, metadata_catalog, field_plans],
        asset_checks=[critical_fields_present],
        resources={"pipeline": pipeline, "salesforce": SalesforceResource(pipeline=pipeline)},
    )


defs = build_definitions()
