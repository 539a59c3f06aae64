"""SQLite staging per object, the datasets with their Power BI Parquet output, and the share copy."""

import dagster as dg

from sf_assets.assets.common import LAUNCHED_BY_TAG, REFRESH_DRIVERS, fail, refresh_id_for, state_db
from sf_assets.assets.extract import object_asset_key
from sf_assets.config.models import ObjectConfig
from sf_assets.outputs import IncompleteExtraction, build_outputs, stage
from sf_assets.resources import PipelineConfigResource
from sf_assets.refresh_health import finish_ui_refresh, publish_facts, record_publish
from sf_assets.share import publish_outputs
from sf_assets.storage.refresh_facts import put_fact
from sf_assets.storage.chunk_schema import TooManyInvalidChunks

GROUP = "output"
POWERBI_OUTPUT = dg.AssetKey("powerbi_output")


def staging_asset_key(object_name: str) -> dg.AssetKey:
    """Asset key of an object's SQLite staging table."""
    return dg.AssetKey(["staging", object_name])


def make_staging_asset(obj: ObjectConfig) -> dg.AssetsDefinition:
    """The staging table of `obj`, loaded from every chunk of the current refresh."""

    @dg.asset(
        key=staging_asset_key(obj.name), group_name=GROUP,
        deps=[dg.AssetDep(object_asset_key(obj.name), partition_mapping=dg.AllPartitionMapping())],
        description=f"{obj.name} in the SQLite staging DB (schema-checked chunks, indexes on keys, ANALYZE).",
    )
    def _stage(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource) -> dg.MaterializeResult:
        config = pipeline.load()
        with state_db(config) as conn:
            refresh_id = refresh_id_for(context, config, conn)
            try:
                result = stage(config, conn, refresh_id, obj)
            except (IncompleteExtraction, TooManyInvalidChunks) as exc:
                raise fail(exc) from None
        counts = result.check.counts()
        return dg.MaterializeResult(metadata={
            "refresh_id": refresh_id, "dagster/row_count": result.rows, "seconds": round(result.seconds, 2),
            "rows_per_s": round(result.rows_per_s), "chunks_ok": counts["ok"], "chunks_fixed": counts["fixed"],
            "indexes": dg.MetadataValue.json([{"name": i.name, "seconds": round(i.seconds, 3)} for i in result.indexes]),
        })

    return _stage


def make_powerbi_output_asset(objects: list[ObjectConfig]) -> dg.AssetsDefinition:
    """Every dataset built (Dask-SQL or SQLite) and published locally for Power BI."""

    @dg.asset(key=POWERBI_OUTPUT, group_name=GROUP, deps=[staging_asset_key(o.name) for o in objects],
              description="Datasets from YAML, as partitioned Parquet plus one consolidated snappy file each.")
    def _output(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource) -> dg.MaterializeResult:
        config = pipeline.load()
        with state_db(config) as conn:
            refresh_id = refresh_id_for(context, config, conn)
        _, outputs = build_outputs(config, refresh_id)
        if context.run.tags.get(LAUNCHED_BY_TAG) not in REFRESH_DRIVERS:  # the UI flow ends here
            finish_ui_refresh(config, refresh_id, context.run_id, outputs.failed)
        metadata: dict[str, object] = {"refresh_id": refresh_id}
        for published in outputs.published:
            metadata[f"{published.dataset} rows"] = published.rows
            if published.stable_file is not None:
                metadata[f"{published.dataset} file"] = dg.MetadataValue.path(str(published.stable_file))
        if outputs.failed:
            failures = "; ".join(f"{name}: {why}" for name, why in outputs.failed.items())
            raise dg.Failure(description=f"{len(outputs.failed)} dataset(s) failed: {failures}", metadata=metadata,
                             allow_retries=False)
        return dg.MaterializeResult(metadata=metadata)

    return _output


@dg.asset(group_name="publish", deps=[POWERBI_OUTPUT],
          description="The consolidated Power BI files copied to the network share (.tmp, verified, renamed, READY).")
def share_copy(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource) -> dg.MaterializeResult:
    config = pipeline.load()
    with state_db(config) as conn:
        refresh_id = refresh_id_for(context, config, conn)
        statuses = publish_outputs(config, refresh_id)
        put_fact(conn, refresh_id, "published", publish_facts(statuses))
    record_publish(config, refresh_id, statuses)
    metadata = {"refresh_id": refresh_id,
                "copies": dg.MetadataValue.json([{"source": str(s.source), "ok": s.ok, "path": str(s.path or ""),
                                                  "error": s.error or ""} for s in statuses])}
    failed = [s for s in statuses if not s.ok]
    if failed:
        raise dg.Failure(description="; ".join(f"{s.source.name}: {s.error}" for s in failed), metadata=metadata,
                         allow_retries=False)
    return dg.MaterializeResult(metadata=metadata)

