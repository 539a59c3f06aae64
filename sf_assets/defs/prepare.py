"""Preflight, metadata catalog and field plans: the assets that run before any extraction."""

import time
from pathlib import Path
from typing import Any

import dagster as dg

from sf_assets.defs.asset_specs import SALESFORCE
from sf_assets.defs.context import enter_refresh, lock_path, refresh_of_step, start_refresh, state_db
from sf_assets.defs.errors import one_line_failures
from sf_assets.defs.resources import PipelineConfigResource, SalesforceResource
from sf_assets.defs.tags import LAUNCHED_BY_TAG
from sf_assets.pipeline.catalog import build_catalog, load_cached_catalog
from sf_assets.pipeline.prepare import GB, plan_objects, run_preflight, schema_dir
from sf_assets.pipeline.refresh_stop import stops_at_once
from sf_assets.salesforce.catalog import sf_describer
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.output_cleanup import remove_stale_files
from sf_assets.storage.refresh_facts import put_fact
from sf_assets.storage.refresh_lock import PROBE_WAIT_S, holder_path, lock_is_free

GROUP = "prepare"


def _refuse_while_cli_refreshes(context: dg.AssetExecutionContext, lock_file: Path) -> None:
    """A UI/daemon refresh must not run beside `sf-assets run` (which holds the refresh lock)."""
    if context.run.tags.get(LAUNCHED_BY_TAG) == "cli":
        return  # that process holds the lock itself
    deadline = time.monotonic() + PROBE_WAIT_S  # a sensor's probe holds the lock for milliseconds
    while not lock_is_free(lock_file):
        if time.monotonic() >= deadline:
            raise dg.Failure(description=f"preflight: `sf-assets run` is refreshing (it holds {lock_file}; "
                                         f"{holder_path(lock_file).name} names it)", allow_retries=False)
        time.sleep(0.02)


class CatalogRunConfig(dg.Config):
    """Run configuration of `metadata_catalog`."""

    force_refresh: bool = False


@dg.asset(group_name=GROUP, kinds=SALESFORCE, description=(
    "Starts or resumes a refresh: disk, folders, share, the org's API usage and each object's COUNT(), before any "
    "Bulk job. Its metadata shows the refresh id, free disk and row estimates; the run tag "
    "sf_assets/new_refresh=true starts a new refresh instead of resuming."))
def preflight(
    context: dg.AssetExecutionContext, pipeline: PipelineConfigResource, salesforce: SalesforceResource
) -> dg.MaterializeResult:
    config = pipeline.load()
    _refuse_while_cli_refreshes(context, lock_path(config))
    with state_db(config) as conn, one_line_failures("preflight"):
        refresh_id = enter_refresh(conn, context.run,
                                   start_refresh(conn, context.run, config.extraction.resume_window_hours))
        for temp in ("chunks", "datasets"):  # leftovers of crashed or abandoned refreshes, never this one's
            remove_stale_files(config.paths.work_dir / temp, config.output.cleanup_after_hours, keep=(refresh_id,))
        with stops_at_once(conn, refresh_id, config.extraction.resume_window_hours):  # a daily limit, an expired token
            report = run_preflight(salesforce.connection().client(), config, conn, refresh_id)
        put_fact(conn, refresh_id, "launched_by", context.run.tags.get(LAUNCHED_BY_TAG, "ui"))
    metadata: dict[str, Any] = {
        "refresh_id": refresh_id,
        **{f"api_usage_{key}": value for key, value in report.api_usage.to_dict().items()},
        "throttled": report.throttled,
        "needed_disk_gb": round(report.needed_bytes / GB, 3),
        **{f"free_disk_gb {d.path}": round(d.free_gb, 1) for d in report.disks},
        **{f"rows_estimate {name}": rows for name, rows in report.estimates.items()},
        "warnings": dg.MetadataValue.json(report.warnings),
    }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name=GROUP, deps=[preflight], kinds=SALESFORCE, description=(
    "describe() of every object and referenced parent, cached for preflight.catalog_ttl_hours. Materialize it with "
    "the run config force_refresh: true to describe the org again (after a field was added in Salesforce)."))
def metadata_catalog(
    context: dg.AssetExecutionContext, pipeline: PipelineConfigResource, salesforce: SalesforceResource,
    config: CatalogRunConfig,
) -> dg.MaterializeResult:
    cfg = pipeline.load()
    with state_db(cfg) as conn, one_line_failures("metadata catalog"):
        refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
        with stops_at_once(conn, refresh_id, cfg.extraction.resume_window_hours):
            catalog = build_catalog(
                sf_describer(salesforce.connection().client()), cfg.objects, conn,
                ttl_hours=cfg.preflight.catalog_ttl_hours, retry=cfg.retry, force_refresh=config.force_refresh,
            )
    return dg.MaterializeResult(
        metadata={"objects": len(catalog), **{f"fields {name}": len(meta.fields) for name, meta in catalog.items()}}
    )


def _table_schema(plan: FieldPlan) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(c.name, str(c.arrow_type), description=c.sf_type,
                           constraints=dg.TableColumnConstraints(nullable=c.nullable))
            for c in plan.columns
        ]
    )


@dg.asset(group_name=GROUP, deps=[metadata_catalog], kinds=SALESFORCE, description=(
    "Validated SOQL and typed columns of each object. Its metadata shows each object's column schema, the fields "
    "left out and why, and what SELECT * expanded to."))
def field_plans(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource) -> dg.MaterializeResult:
    cfg = pipeline.load()
    with state_db(cfg) as conn, one_line_failures("field plans"):
        refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
        plans = plan_objects(cfg, load_cached_catalog(conn), conn, refresh_id)
    metadata: dict[str, Any] = {"schema_dir": dg.MetadataValue.path(str(schema_dir(cfg)))}
    for name, plan in plans.items():
        metadata[f"{name} columns"] = dg.MetadataValue.table_schema(_table_schema(plan))
        metadata[f"{name} dropped"] = dg.MetadataValue.json([{"field": f, "reason": r} for f, r in plan.dropped])
        if plan.star_fields:  # what SELECT * expanded to
            metadata[f"{name} select_star"] = dg.MetadataValue.json(list(plan.star_fields))
        long_text = [c.name for c in plan.columns if c.long_text]
        if long_text:  # Power BI cuts text cells at ~32k characters
            metadata[f"{name} long_text_over_32k"] = dg.MetadataValue.json(long_text)
    return dg.MaterializeResult(metadata=metadata)
