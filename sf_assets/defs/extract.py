"""Chunk planning and one partitioned asset per Salesforce object (partition = stable chunk = one Bulk job per refresh)."""


import sqlite3

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.defs.context import refresh_id_for, state_db
from sf_assets.defs.dagster_internals import backfill_id_of
from sf_assets.defs.errors import one_line_failures
from sf_assets.defs.partitions import chunk_keys, chunk_partitions, set_chunk_keys
from sf_assets.defs.prepare import field_plans
from sf_assets.defs.resources import PipelineConfigResource, SalesforceResource
from sf_assets.defs.tags import POOL
from sf_assets.extract.chunk_extract import ChunkResult
from sf_assets.pipeline.extract import extract_chunks
from sf_assets.pipeline.row_check import evaluate_row_check, evaluate_row_drop
from sf_assets.pipeline.plan import extract_context, plan_object
from sf_assets.health.causes import describe_error
from sf_assets.storage.refresh_facts import put_fact

GROUP = "extract"
ROW_CHECK = "row_count_matches_salesforce"
DROP_CHECK = "row_count_drop"


def object_asset_key(object_name: str) -> dg.AssetKey:
    """Asset key of an object's extracted chunks."""
    return dg.AssetKey(["salesforce", object_name])


@dg.asset(group_name=GROUP, deps=[field_plans],
          description="Id ranges per object for the current refresh, one per chunk partition key.")
def chunk_plans(
    context: dg.AssetExecutionContext, pipeline: PipelineConfigResource, salesforce: SalesforceResource
) -> dg.MaterializeResult:
    """In a backfill (UI "Materialize all", the schedule) the ranges fill exactly the keys it was launched with;
    otherwise the object gets ~chunk_size-row ranges and its keys are set to match."""
    config = pipeline.load()
    in_backfill = backfill_id_of(context.run.tags) is not None
    metadata: dict[str, object] = {}
    with state_db(config) as conn, one_line_failures("chunk planning"):
        refresh_id = refresh_id_for(context, config, conn)
        with extract_context(config, salesforce.connection(), conn, refresh_id) as ctx:
            for obj in config.objects:
                keys = chunk_keys(context.instance, obj.name)
                try:
                    plan = plan_object(ctx, config, obj, conn, chunk_count=max(1, len(keys)) if in_backfill else None)
                except Exception as exc:  # noqa: BLE001 - one clear line naming the object
                    raise dg.Failure(description=f"chunk planning of {obj.name} failed: {describe_error(exc)}",
                                     allow_retries=False) from exc
                planned = [r.chunk_id for r in plan.ranges]
                if planned != keys and not (in_backfill and keys):
                    set_chunk_keys(context.instance, obj.name, planned)
                metadata[f"{obj.name} chunks"] = len(plan.ranges)
                metadata[f"{obj.name} planning"] = f"{plan.method}, {plan.api_requests} API requests"
                if plan.ideal_chunks is not None and plan.ideal_chunks != len(plan.ranges):
                    metadata[f"{obj.name} keys next refresh"] = plan.ideal_chunks
        put_fact(conn, refresh_id, "planned", True)
    return dg.MaterializeResult(metadata={"refresh_id": refresh_id, **metadata})


def _chunk_metadata(refresh_id: str, result: ChunkResult, id_range: tuple[str | None, str | None]) -> dict:
    return {
        "refresh_id": refresh_id,
        "chunk_id": result.chunk_id,
        "id_range": f"[{id_range[0] or '-inf'}, {id_range[1] or '+inf'})",
        "dagster/row_count": result.rows,
        "bytes": result.bytes,
        "salesforce_job_id": result.job_id or "",
        "duration_s": round(result.duration_s, 3),
        "attempts": result.attempts,
        "skipped_as_done": result.skipped,
        "latest_last_modified": result.max_last_modified or "",
        "file": dg.MetadataValue.path(str(result.file_path)),
    }


def _extract(context: dg.AssetExecutionContext, config: PipelineConfig, salesforce: SalesforceResource,
             conn: sqlite3.Connection, refresh_id: str, obj: ObjectConfig) -> dict[str, str]:
    """Extract the run's chunk partitions; log one materialization per finished chunk; return failures."""
    ranges = {row[0]: (row[1], row[2]) for row in conn.execute(
        "SELECT chunk_id, id_lo, id_hi FROM chunks WHERE refresh_id = ? AND object = ?", (refresh_id, obj.name))}
    wanted = list(context.partition_keys)
    failures = {k: f"not in the chunk plan of refresh {refresh_id} ({len(ranges)} chunks): materialize chunk_plans "
                   "or the whole graph" for k in wanted if k not in ranges}

    def on_result(chunk_id: str, result: ChunkResult | Exception) -> None:
        if isinstance(result, ChunkResult):
            context.log_event(dg.AssetMaterialization(asset_key=context.asset_key, partition=chunk_id,
                                                      metadata=_chunk_metadata(refresh_id, result, ranges[chunk_id])))

    with extract_context(config, salesforce.connection(), conn, refresh_id) as ctx:
        outcome = extract_chunks(ctx, config, obj, conn, [k for k in wanted if k in ranges], on_result)
    return {**failures, **outcome.failures}


def row_check_result(config: PipelineConfig, salesforce: SalesforceResource, conn: sqlite3.Connection, refresh_id: str,
                     obj: ObjectConfig) -> dg.AssetCheckResult:
    """Evaluate the object's blocking row check (`pipeline.row_check`) as the asset's check result."""
    check = evaluate_row_check(conn, config, obj, refresh_id, salesforce.connection().client().query)
    change = check.change
    return dg.AssetCheckResult(
        check_name=ROW_CHECK, asset_key=object_asset_key(obj.name), passed=check.passed,
        description=check.describe(),
        metadata={"refresh_id": refresh_id, "rows_extracted": check.rows, "chunks_done": f"{check.done} of {check.chunks}",
                  "count_at_preflight": _figure(check.count_before), "count_now": _figure(check.count_now),
                  "created_during_refresh": _figure(change.created if change else None),
                  "modified_during_refresh": _figure(change.modified if change else None),
                  "deleted_during_refresh": _figure(change.deleted if change else None),
                  "problems": dg.MetadataValue.json(list(check.problems))})


def _figure(value: int | None) -> int:
    return -1 if value is None else value


def row_drop_result(config: PipelineConfig, conn: sqlite3.Connection, refresh_id: str,
                    obj: ObjectConfig) -> dg.AssetCheckResult:
    """The WARN check of a sharp drop of the object's rows against its last successful refresh."""
    drop = evaluate_row_drop(conn, obj, refresh_id, config.extraction.row_drop_warn_pct)
    return dg.AssetCheckResult(
        check_name=DROP_CHECK, asset_key=object_asset_key(obj.name), passed=drop.passed,
        severity=dg.AssetCheckSeverity.WARN, description=drop.describe(),
        metadata={"refresh_id": refresh_id, "rows": drop.rows, "previous_rows": _figure(drop.previous_rows),
                  "previous_refresh": drop.previous_refresh or "",
                  "drop_pct": round(drop.drop_pct, 2) if drop.drop_pct is not None else 0.0})


def make_object_asset(obj: ObjectConfig) -> dg.AssetsDefinition:
    """The partitioned asset extracting `obj`: the run's chunks in one process, one materialization per chunk,
    then the blocking row-count check (also executable alone)."""
    key = object_asset_key(obj.name)

    @dg.multi_asset(
        name=f"extract_{obj.name}",
        specs=[dg.AssetSpec(key, deps=[chunk_plans], group_name=GROUP, skippable=True,
                            description=f"{obj.name} extracted through Bulk API 2.0: one partition per chunk (Id range).")],
        check_specs=[
            dg.AssetCheckSpec(ROW_CHECK, asset=key, blocking=True, description=(
                f"Every planned Id range of {obj.name} extracted whole in the current refresh: no gap between chunks, "
                "and per chunk the file's rows = Σ Sforce-NumberOfRecords = the job's numberRecordsProcessed. "
                "Salesforce's COUNT() and the org's change during the refresh are reported beside it.")),
            dg.AssetCheckSpec(DROP_CHECK, asset=key, description=(
                f"Warns when {obj.name}'s rows fall by more than extraction.row_drop_warn_pct from its last "
                "successful refresh (deletions, a sharing or permission change, or a filter can hide rows)."))],
        can_subset=True, partitions_def=chunk_partitions(obj.name), backfill_policy=dg.BackfillPolicy.single_run(),
        pool=POOL,
    )
    def _asset(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource, salesforce: SalesforceResource):
        config = pipeline.load()
        failures: dict[str, str] = {}
        with state_db(config) as conn, one_line_failures(f"extraction of {obj.name}"):
            refresh_id = refresh_id_for(context, config, conn)
            if key in context.selected_asset_keys:
                failures = _extract(context, config, salesforce, conn, refresh_id, obj)
            checks = {k.name for k in context.selected_asset_check_keys}
            verdict = row_check_result(config, salesforce, conn, refresh_id, obj) if ROW_CHECK in checks else None
            if verdict is not None:
                yield verdict
            if DROP_CHECK in checks and not failures:
                yield row_drop_result(config, conn, refresh_id, obj)
        if failures:
            lines = "; ".join(f"{chunk}: {why}" for chunk, why in sorted(failures.items()))
            raise dg.Failure(description=f"{len(failures)} chunk(s) of {obj.name} failed: {lines}", allow_retries=False)
        if verdict is not None and not verdict.passed:
            raise dg.Failure(description=f"blocking check {ROW_CHECK} of {obj.name} failed: {verdict.description}",
                             allow_retries=False)

    return _asset
