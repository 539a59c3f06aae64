"""The share copy: an external asset recorded by `publish_job`, which the publish sensor (or `sf-assets run`) launches.

`share_copy` is not materializable from the UI, so "Materialize all" never publishes; the sensor
publishes each new Power BI output exactly once.
"""


import dagster as dg

from sf_assets.defs.asset_specs import POWERBI
from sf_assets.defs.context import enter_refresh, refresh_of_step, state_db
from sf_assets.defs.errors import one_line_failures
from sf_assets.defs.resources import PipelineConfigResource
from sf_assets.defs.tags import STAGE_TAG
from sf_assets.pipeline.health import record_publish
from sf_assets.pipeline.publish import publish_outputs

SHARE_COPY = dg.AssetKey("share_copy")

share_copy = dg.AssetSpec(
    SHARE_COPY, deps=[dg.AssetKey("powerbi_output")], group_name="publish", kinds=POWERBI,
    description="The consolidated Power BI files on the network share (copied, verified, renamed, READY marker): "
                "what Power BI reads. The sensor publish_on_new_output publishes each new output once; launch "
                "publish_job to publish the current files again. Its metadata lists every copy and its path.")


@dg.op(description="Copy the current refresh's Power BI files to the share and record the outcome.")
def publish_to_share(context: dg.OpExecutionContext, pipeline: PipelineConfigResource) -> None:
    config = pipeline.load()
    with state_db(config) as conn, one_line_failures("publish"):
        refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
        statuses = publish_outputs(config, refresh_id)
        record_publish(config, refresh_id, statuses)
    copies = [
        {"source": str(s.source), "ok": s.ok, "path": str(s.path or ""), "error": s.error or ""} for s in statuses
    ]
    failed = [s for s in statuses if not s.ok]
    if failed:
        raise dg.Failure(description="publish: " + "; ".join(f"{s.source.name}: {s.error}" for s in failed),
                         metadata={"copies": dg.MetadataValue.json(copies)}, allow_retries=False)
    context.log_event(dg.AssetMaterialization(SHARE_COPY, metadata={"refresh_id": refresh_id,
                                                                    "copies": dg.MetadataValue.json(copies)}))


@dg.job(tags={STAGE_TAG: "publish"}, description="Copy the current Power BI files to the network share.")
def publish_job() -> None:
    publish_to_share()
