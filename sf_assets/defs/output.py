"""SQLite staging per object, one asset per YAML dataset, and the Power BI output that promotes a refresh's
datasets together (the end of a refresh)."""


from typing import Any

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.defs.asset_specs import POWERBI, STAGING, dataset_kinds
from sf_assets.defs.context import enter_refresh, refresh_of_step, state_db
from sf_assets.defs.errors import one_line_failures
from sf_assets.defs.extract import object_asset_key, row_check_result
from sf_assets.defs.extracted import EXTRACTED
from sf_assets.defs.resources import PipelineConfigResource, SalesforceResource
from sf_assets.pipeline.build import build_held, dataset_sources, promote_refresh, warm_up_engine
from sf_assets.pipeline.health import finish_refresh_with_health
from sf_assets.pipeline.row_check import stored_row_check
from sf_assets.pipeline.stage import stage
from sf_assets.transform.engines import dataset_engine

GROUP = "output"
POWERBI_OUTPUT = dg.AssetKey("powerbi_output")


def staging_asset_key(object_name: str) -> dg.AssetKey:
    """Asset key of an object's SQLite staging table."""
    return dg.AssetKey(["staging", object_name])


def make_staging_asset(obj: ObjectConfig) -> dg.AssetsDefinition:
    """The staging table of `obj`, loaded from every chunk of the current refresh once its row count checks out."""

    @dg.asset(
        key=staging_asset_key(obj.name),
        group_name=GROUP,
        kinds=STAGING,
        deps=[dg.AssetDep(object_asset_key(obj.name), partition_mapping=dg.AllPartitionMapping()), EXTRACTED],
        description=f"{obj.name} in the SQLite staging DB (row-count checked, schema-checked chunks, key indexes, "
                    "ANALYZE).",
    )
    def _stage(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource,
               salesforce: SalesforceResource) -> dg.MaterializeResult:
        config = pipeline.load()
        with state_db(config) as conn, one_line_failures(f"staging of {obj.name}"):
            refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
            verdict = stored_row_check(conn, refresh_id, obj.name)
            if verdict is None or not verdict["passed"]:  # never checked, or re-check after a failed one
                result = row_check_result(config, salesforce, conn, refresh_id, obj)
                verdict = {"passed": result.passed, "line": result.description}
            if not verdict["passed"]:
                raise dg.Failure(description=f"staging of {obj.name}: the row-count check failed: {verdict['line']}",
                                 allow_retries=False)
            if datasets := datasets_of_run(context.run, config):
                warm_up_engine(config, conn, refresh_id, datasets)  # the Dask cluster starts while tables are staged
            staged = stage(config, conn, refresh_id, obj)
        counts = staged.check.counts()
        return dg.MaterializeResult(
            metadata={
                "refresh_id": refresh_id,
                "dagster/row_count": staged.rows,
                "seconds": round(staged.seconds, 2),
                "rows_per_s": round(staged.rows_per_s),
                "chunks_ok": counts["ok"],
                "chunks_fixed": counts["fixed"],
                "indexes": dg.MetadataValue.json(
                    [{"name": i.name, "seconds": round(i.seconds, 3)} for i in staged.indexes]
                ),
            }
        )

    return _stage


def dataset_asset_key(dataset: str) -> dg.AssetKey:
    """Asset key of one YAML dataset."""
    return dg.AssetKey(["dataset", dataset])


def datasets_of_run(run: dg.DagsterRun, config: PipelineConfig) -> list[str]:
    """The datasets `run` materializes (a run of output_job, whose selection is empty, builds them all)."""
    selected = run.asset_selection
    return [d.name for d in config.datasets if not selected or dataset_asset_key(d.name) in selected]


def output_asset_keys(config: PipelineConfig) -> list[dg.AssetKey]:
    """The extraction gate, staging of every object, every dataset and the Power BI output: what ends a refresh
    (output_job, backfills)."""
    return [EXTRACTED, *(staging_asset_key(o.name) for o in config.objects),
            *(dataset_asset_key(d.name) for d in config.datasets), POWERBI_OUTPUT]


def _column_schema(columns: list[dict[str, str]]) -> dg.MetadataValue:
    """A manifest's column list (name, Arrow type) as Dagster's column schema."""
    return dg.MetadataValue.table_schema(dg.TableSchema([dg.TableColumn(c["name"], c["type"]) for c in columns]))


def make_dataset_assets(config: PipelineConfig) -> dg.AssetsDefinition:
    """One asset per YAML dataset, downstream of the staging tables its SQL reads; any subset builds in one step
    with one engine start, and each verified version is held until `powerbi_output` promotes the refresh's set."""
    engine = dataset_engine(config.transform.engine).label
    sources = dataset_sources(config)
    specs = [dg.AssetSpec(
        dataset_asset_key(d.name), group_name=GROUP, kinds=dataset_kinds(config.transform.engine),
        deps=[staging_asset_key(t) for t in sources[d.name]],
        description=f"The dataset {d.name} ({engine} over {', '.join(sources[d.name]) or 'no staged table'}): rows, "
                    "column schema and build time of its latest build. Materialize it alone to rebuild and inspect "
                    "it; its version is verified and held, and Power BI sees it only once powerbi_output promotes "
                    "it together with the rest of its refresh's datasets.") for d in config.datasets]

    @dg.multi_asset(name="datasets", specs=specs, can_subset=True)
    def _datasets(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource):
        cfg = pipeline.load()
        with state_db(cfg) as conn:
            refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
        names = [key.path[-1] for key in context.selected_asset_keys]
        with one_line_failures("datasets"):
            report = build_held(cfg, refresh_id, names)
        for held in report.held:
            yield dg.MaterializeResult(asset_key=dataset_asset_key(held.dataset), metadata={
                "refresh_id": refresh_id, "dagster/row_count": held.rows,
                "dagster/column_schema": _column_schema(held.manifest["schema"]),
                "seconds": round(report.seconds[held.dataset], 2), "engine": cfg.transform.engine,
                "held": dg.MetadataValue.path(str(held.folder)),
            })
        if report.failed:
            errors = [f"dataset {name}: {why}" for name, why in report.failed.items()]
            if len(names) == len(cfg.datasets):  # the refresh's set: it cannot be promoted
                finish_refresh_with_health(cfg, refresh_id, "failed", errors=errors)
            raise dg.Failure(description=f"{len(errors)} dataset(s) failed: " + "; ".join(errors), allow_retries=False)

    return _datasets


def make_powerbi_output_asset(config: PipelineConfig) -> dg.AssetsDefinition:
    """The refresh's datasets promoted together for Power BI (all or nothing); then the refresh is finished."""
    deps = [dataset_asset_key(d.name) for d in config.datasets] or [staging_asset_key(o.name) for o in config.objects]

    @dg.asset(key=POWERBI_OUTPUT, group_name=GROUP, kinds=POWERBI, deps=deps,
              description="The Power BI files: every dataset's verified version of the refresh made current together "
                          "(all or nothing), with rows and column schema per file. Materialize it after rebuilding "
                          "datasets alone to promote the refresh's set; it finishes the refresh and writes its health "
                          "JSON, and the publish sensor then copies the files to the share.")
    def _output(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource) -> dg.MaterializeResult:
        cfg = pipeline.load()
        with state_db(cfg) as conn:
            refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
        with one_line_failures("Power BI output"):
            outputs = promote_refresh(cfg, refresh_id)
        errors = [f"dataset {name}: {why}" for name, why in outputs.failed.items()]
        finish_refresh_with_health(cfg, refresh_id, "failed" if errors else "success", errors=errors)
        metadata: dict[str, Any] = {"refresh_id": refresh_id, "files": len(outputs.promoted_datasets)}
        for promoted in outputs.promoted_datasets:
            metadata[f"{promoted.dataset} rows"] = promoted.rows
            metadata[f"{promoted.dataset} schema"] = _column_schema(promoted.manifest["schema"])
            if promoted.stable_file is not None:
                metadata[f"{promoted.dataset} file"] = dg.MetadataValue.path(str(promoted.stable_file))
        if errors:
            raise dg.Failure(description=f"{len(errors)} dataset(s) not promoted: " + "; ".join(errors),
                             metadata=metadata, allow_retries=False)
        return dg.MaterializeResult(metadata=metadata)

    return _output
