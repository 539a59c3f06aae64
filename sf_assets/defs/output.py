"""SQLite staging per object, and every dataset with its Power BI Parquet output (the end of a refresh)."""


import dagster as dg

from sf_assets.config.models import ObjectConfig
from sf_assets.defs.context import refresh_id_for, state_db
from sf_assets.defs.errors import one_line_failures
from sf_assets.defs.extract import row_check_result, object_asset_key
from sf_assets.defs.resources import PipelineConfigResource, SalesforceResource
from sf_assets.pipeline.row_check import stored_row_check
from sf_assets.pipeline.build import build_outputs
from sf_assets.pipeline.stage import stage
from sf_assets.pipeline.health import finish_refresh_with_health

GROUP = "output"
POWERBI_OUTPUT = dg.AssetKey("powerbi_output")


def staging_asset_key(object_name: str) -> dg.AssetKey:
    """Asset key of an object's SQLite staging table."""
    return dg.AssetKey(["staging", object_name])


def make_staging_asset(obj: ObjectConfig) -> dg.AssetsDefinition:
    """The staging table of `obj`, loaded from every chunk of the current refresh once its row count checks out."""

    @dg.asset(
        key=staging_asset_key(obj.name), group_name=GROUP,
        deps=[dg.AssetDep(object_asset_key(obj.name), partition_mapping=dg.AllPartitionMapping())],
        description=f"{obj.name} in the SQLite staging DB (row-count checked, schema-checked chunks, key indexes, ANALYZE).",
    )
    def _stage(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource,
               salesforce: SalesforceResource) -> dg.MaterializeResult:
        config = pipeline.load()
        with state_db(config) as conn, one_line_failures(f"staging of {obj.name}"):
            refresh_id = refresh_id_for(context, config, conn)
            verdict = stored_row_check(conn, refresh_id, obj.name)
            if verdict is None or not verdict["passed"]:  # never checked, or re-check after a failed one
                result = row_check_result(config, salesforce, conn, refresh_id, obj)
                verdict = {"passed": result.passed, "line": result.description}
            if not verdict["passed"]:
                raise dg.Failure(description=f"staging of {obj.name}: the row-count check failed: {verdict['line']}",
                                 allow_retries=False)
            result = stage(config, conn, refresh_id, obj)
        counts = result.check.counts()
        return dg.MaterializeResult(metadata={
            "refresh_id": refresh_id, "dagster/row_count": result.rows, "seconds": round(result.seconds, 2),
            "rows_per_s": round(result.rows_per_s), "chunks_ok": counts["ok"], "chunks_fixed": counts["fixed"],
            "indexes": dg.MetadataValue.json([{"name": i.name, "seconds": round(i.seconds, 3)} for i in result.indexes]),
        })

    return _stage


def make_powerbi_output_asset(objects: list[ObjectConfig]) -> dg.AssetsDefinition:
    """Every dataset built (Dask-SQL or SQLite) and promoted for Power BI; then the refresh is finished."""

    @dg.asset(key=POWERBI_OUTPUT, group_name=GROUP, deps=[staging_asset_key(o.name) for o in objects],
              description="Datasets from YAML, as partitioned Parquet plus one consolidated snappy file each; "
                          "finishes the refresh and writes its health JSON.")
    def _output(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource) -> dg.MaterializeResult:
        config = pipeline.load()
        with state_db(config) as conn:
            refresh_id = refresh_id_for(context, config, conn)
        with one_line_failures("datasets"):
            _, outputs = build_outputs(config, refresh_id)
        errors = [f"dataset {name}: {why}" for name, why in outputs.failed.items()]
        finish_refresh_with_health(config, refresh_id, "failed" if errors else "success", errors=errors)
        metadata: dict[str, object] = {"refresh_id": refresh_id}
        for published in outputs.published:
            metadata[f"{published.dataset} rows"] = published.rows
            if published.stable_file is not None:
                metadata[f"{published.dataset} file"] = dg.MetadataValue.path(str(published.stable_file))
        if errors:
            raise dg.Failure(description=f"{len(errors)} dataset(s) failed: " + "; ".join(errors), metadata=metadata,
                             allow_retries=False)
        return dg.MaterializeResult(metadata=metadata)

    return _output
