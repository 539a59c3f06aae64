"""Jobs: the nightly full refresh (driven like `sf-assets run`) and the share publish."""

import dagster as dg

from sf_assets.assets.output import share_copy
from sf_assets.resources import PipelineConfigResource

REFRESH_CONCURRENCY_TAG = "sf_assets/refresh"


@dg.op(description="Runs (or resumes) a full refresh: every stage as its own run in this instance, then the health JSON.")
def run_full_refresh(context: dg.OpExecutionContext, pipeline: PipelineConfigResource) -> None:
    from sf_assets.runner import execute_refresh

    outcome = execute_refresh(pipeline.load(), context.instance, launched_by="schedule", publish=False)
    context.log.info(f"Refresh {outcome.refresh_id}: {'success' if outcome.ok else 'failed'}; health {outcome.health_path}")
    if not outcome.ok:
        raise dg.Failure(description=f"Refresh {outcome.refresh_id} failed: " + "; ".join(outcome.failures[:5]),
                         allow_retries=False)


@dg.job(tags={REFRESH_CONCURRENCY_TAG: "full"}, description="The nightly full refresh (the schedule launches it).")
def full_refresh_job() -> None:
    run_full_refresh()


publish_job = dg.define_asset_job("publish_job", selection=dg.AssetSelection.assets(share_copy),
                                  description="Copy the current Power BI files to the network share.")
