"""The stages of a refresh as named asset jobs: what the schedule, the sensors and `sf-assets run` launch."""

from __future__ import annotations

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.defs.extract import chunk_plans, object_asset_key
from sf_assets.defs.output import output_asset_keys
from sf_assets.defs.prepare import field_plans, metadata_catalog, preflight
from sf_assets.defs.tags import REFRESH_CONCURRENCY_TAG, STAGE_TAG

PREPARE_ASSETS = [preflight, metadata_catalog, field_plans, chunk_plans]
PREPARE_BEFORE_CHUNKS = [preflight.key, metadata_catalog.key, field_plans.key]  # `sf-assets run` plans per object
PREPARE_JOB, OUTPUT_JOB = "prepare_job", "output_job"


def extract_job_name(object_name: str) -> str:
    """The job extracting the chunks of one object."""
    return f"extract_{object_name}_job"


def make_stage_jobs(config: PipelineConfig) -> list[dg.UnresolvedAssetJobDefinition]:
    """prepare_job (preflight → chunk plans), one extract job per object (with its row-count check), output_job
    (staging, every dataset with one engine start, then their promotion)."""

    def stage(name: str) -> dict[str, str]:
        return {STAGE_TAG: name, REFRESH_CONCURRENCY_TAG: "stage"}

    return [
        dg.define_asset_job(
            PREPARE_JOB,
            selection=dg.AssetSelection.assets(*PREPARE_ASSETS),
            tags=stage("prepare"),
            description="Preflight, metadata catalog, field plans and chunk plans of a refresh.",
        ),
        *(
            dg.define_asset_job(
                extract_job_name(o.name),
                selection=dg.AssetSelection.assets(object_asset_key(o.name)),
                tags=stage("extract"),
                description=f"Extract the chunks of {o.name}, then check its rows.",
            )
            for o in config.objects
        ),
        dg.define_asset_job(
            OUTPUT_JOB,
            tags=stage("output"),
            selection=dg.AssetSelection.assets(*output_asset_keys(config)),
            description="Staging of every object, the datasets and the Power BI files; ends the refresh.",
        ),
    ]
