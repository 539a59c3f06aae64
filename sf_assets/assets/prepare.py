"""Preflight, metadata catalog and field plans: the assets that run before any extraction."""


import dagster as dg

from sf_assets.planning import plan_objects, schema_dir
from sf_assets.preflight import PreflightError, run_preflight
from sf_assets.resources import PipelineConfigResource, SalesforceResource
from sf_assets.salesforce.auth import SalesforceAuthError
from sf_assets.salesforce.catalog import CatalogError, build_catalog, load_cached_catalog, sf_describer
from sf_assets.salesforce.field_plan import FieldPlan, FieldPlanError
from sf_assets.salesforce.soql import SoqlError
from sf_assets.storage.field_mapping import load_plan

from sf_assets.assets.common import fail, refresh_id_for, state_db

GROUP = "prepare"


class CatalogRunConfig(dg.Config):
    """Run configuration of `metadata_catalog`."""

    force_refresh: bool = False


@dg.asset(group_name=GROUP, description="Disk, directories, share, API usage and row estimates, before any job.")
def preflight(
    context: dg.AssetExecutionContext, pipeline: PipelineConfigResource, salesforce: SalesforceResource
) -> dg.MaterializeResult:
    config = pipeline.load()
    with state_db(config) as conn:
        refresh_id = refresh_id_for(context, config, conn, create=True)
        try:
            report = run_preflight(salesforce.connection().client(), config, conn, refresh_id)
        except (PreflightError, SalesforceAuthError) as exc:
            raise fail(exc) from None
    metadata: dict[str, object] = {
        "refresh_id": refresh_id,
        **report.api_usage.as_metadata(),
        "throttled": report.throttled,
        "needed_disk_gb": round(report.needed_bytes / 1024**3, 3),
        **{f"free_disk_gb {d.path}": round(d.free_gb, 1) for d in report.disks},
        **{f"rows_estimate {name}": rows for name, rows in report.estimates.items()},
        "warnings": dg.MetadataValue.json(report.warnings),
    }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name=GROUP, deps=[preflight], description="describe() of every object and referenced parent, cached.")
def metadata_catalog(
    pipeline: PipelineConfigResource, salesforce: SalesforceResource, config: CatalogRunConfig
) -> dg.MaterializeResult:
    cfg = pipeline.load()
    with state_db(cfg) as conn:
        try:
            catalog = build_catalog(
                sf_describer(salesforce.connection().client()), cfg.objects, conn,
                ttl_hours=cfg.preflight.catalog_ttl_hours, retry=cfg.retry, force_refresh=config.force_refresh,
            )
        except (CatalogError, SoqlError, SalesforceAuthError) as exc:
            raise fail(exc) from None
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


@dg.asset(group_name=GROUP, deps=[metadata_catalog], description="Validated SOQL and typed columns of each object.")
def field_plans(pipeline: PipelineConfigResource) -> dg.MaterializeResult:
    cfg = pipeline.load()
    with state_db(cfg) as conn:
        try:
            plans = plan_objects(cfg, load_cached_catalog(conn), conn)
        except (FieldPlanError, SoqlError, CatalogError) as exc:
            raise fail(exc) from None
    metadata: dict[str, object] = {"schema_dir": dg.MetadataValue.path(str(schema_dir(cfg)))}
    for name, plan in plans.items():
        metadata[f"{name} columns"] = dg.MetadataValue.table_schema(_table_schema(plan))
        metadata[f"{name} dropped"] = dg.MetadataValue.json([{"field": f, "reason": r} for f, r in plan.dropped])
        long_text = [c.name for c in plan.columns if c.long_text]
        if long_text:  # Power BI cuts text cells at ~32k characters
            metadata[f"{name} long_text_over_32k"] = dg.MetadataValue.json(long_text)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=field_plans, description="Id, join keys and configured critical fields are planned columns.")
def critical_fields_present(pipeline: PipelineConfigResource) -> dg.AssetCheckResult:
    cfg = pipeline.load()
    missing: dict[str, list[str]] = {}
    with state_db(cfg) as conn:
        for obj in cfg.objects:
            planned = {c.lower() for c in load_plan(conn, obj.name).column_names}
            lost = [f for f in ("Id", *obj.join_keys, *obj.critical_fields) if f.lower() not in planned]
            if lost:
                missing[obj.name] = lost
    return dg.AssetCheckResult(passed=not missing, metadata={"missing": dg.MetadataValue.json(missing)})
