"""Chunk planning and one partitioned asset per Salesforce object (partition = stable chunk = one Bulk job per
refresh)."""

import sqlite3
import time
from typing import Any

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.defs.asset_specs import EXTRACTED, SALESFORCE
from sf_assets.defs.context import enter_refresh, refresh_of_step, state_db
from sf_assets.defs.dagster_internals import backfill_id_of
from sf_assets.defs.errors import one_line_failures
from sf_assets.defs.partitions import chunk_keys, chunk_partitions, set_chunk_keys
from sf_assets.defs.prepare import field_plans
from sf_assets.defs.resources import PipelineConfigResource, SalesforceResource
from sf_assets.defs.tags import POOL
from sf_assets.extract.chunk_extract import ChunkResult
from sf_assets.extract.tracker import ChunkTracker
from sf_assets.health.causes import describe_error, failed_chunks_line
from sf_assets.pipeline.extract import extract_chunks
from sf_assets.pipeline.field_delivery import field_delivery
from sf_assets.pipeline.object_figures import object_figures
from sf_assets.pipeline.plan import extract_context, plan_object
from sf_assets.pipeline.row_check import evaluate_row_check, evaluate_row_drop
from sf_assets.storage.refresh_facts import put_fact

GROUP = "extract"
ROW_CHECK = "row_count_matches_salesforce"
DROP_CHECK = "row_count_drop"
FIELDS_CHECK = "fields_delivered"


def object_asset_key(object_name: str) -> dg.AssetKey:
    """Asset key of an object's extracted chunks."""
    return dg.AssetKey(["salesforce", object_name])


class ChunkPlansConfig(dg.Config):
    """Run configuration of `chunk_plans`."""

    objects: list[str] = []  # plan only these (`sf-assets run` plans each object just before extracting it)


@dg.asset(group_name=GROUP, deps=[field_plans], kinds=SALESFORCE,
          description="Id ranges per object for the current refresh, one per chunk partition key. Materialize it to "
                      "plan a refresh's chunks before extracting; its metadata shows each object's chunk count.")
def chunk_plans(
    context: dg.AssetExecutionContext, pipeline: PipelineConfigResource, salesforce: SalesforceResource,
    config: ChunkPlansConfig,
) -> dg.MaterializeResult:
    """In a backfill (UI "Materialize all", the schedule) the ranges fill exactly the keys it was launched with;
    otherwise the object gets ~chunk_size-row ranges and its keys are set to match. The run config `objects` plans
    only those objects (all by default)."""
    return _plan_chunks(context, pipeline.load(), salesforce, config.objects)


def _plan_chunks(context: dg.AssetExecutionContext, config: PipelineConfig, salesforce: SalesforceResource,
                 only: list[str]) -> dg.MaterializeResult:
    in_backfill = backfill_id_of(context.run.tags) is not None
    metadata: dict[str, Any] = {}
    with state_db(config) as conn, one_line_failures("chunk planning"):
        refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
        with extract_context(config, salesforce.connection(), conn, refresh_id) as ctx:
            for obj in [o for o in config.objects if not only or o.name in only]:
                keys = chunk_keys(context.instance, obj.name)
                try:
                    plan = plan_object(ctx, config, obj, conn, chunk_count=max(1, len(keys)) if in_backfill else None)
                except Exception as exc:  # one clear line naming the object
                    raise dg.Failure(description=f"chunk planning of {obj.name} failed: {describe_error(exc)}",
                                     allow_retries=False) from exc
                planned = [r.chunk_id for r in plan.ranges]
                if planned != keys and not (in_backfill and keys):
                    set_chunk_keys(context.instance, obj.name, planned)
                metadata[f"{obj.name} chunks"] = len(plan.ranges)
                metadata[f"{obj.name} planning"] = f"{plan.method}, {plan.api_requests} API requests"
                if plan.ideal_chunks is not None and plan.ideal_chunks != len(plan.ranges):
                    metadata[f"{obj.name} keys next refresh"] = plan.ideal_chunks
        tracker = ChunkTracker(conn)
        if all(tracker.chunks(refresh_id, obj.name) for obj in config.objects):
            put_fact(conn, refresh_id, "planned", True)
    return dg.MaterializeResult(metadata={"refresh_id": refresh_id, **metadata})


def _chunk_metadata(refresh_id: str, result: ChunkResult, id_range: tuple[str | None, str | None]) -> dict:
    return {
        "refresh_id": refresh_id,
        "chunk_id": result.chunk_id,
        "id_range": f"[{id_range[0] or '-inf'}, {id_range[1] or '+inf'})",
        "rows": result.rows,  # not dagster/row_count: the asset page's row count is the object's total
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
    """Extract the run's chunk partitions; log one materialization per finished chunk, then the object's figures
    of the refresh (`_refresh_observation`); return failures."""
    ranges = {c.key.chunk_id: (c.id_lo, c.id_hi) for c in ChunkTracker(conn).chunks(refresh_id, obj.name)}
    wanted = list(context.partition_keys)
    failures = {k: f"not in the chunk plan of refresh {refresh_id} ({len(ranges)} chunks): materialize chunk_plans "
                   "or the whole graph" for k in wanted if k not in ranges}

    extracted: list[int] = []  # rows of the chunks this run downloaded (not those kept from an earlier run)

    def on_result(chunk_id: str, result: ChunkResult | Exception) -> None:
        if isinstance(result, ChunkResult):
            if not result.skipped:
                extracted.append(result.rows)
            context.log_event(dg.AssetMaterialization(asset_key=context.asset_key, partition=chunk_id,
                                                      metadata=_chunk_metadata(refresh_id, result, ranges[chunk_id])))

    started = time.monotonic()
    with extract_context(config, salesforce.connection(), conn, refresh_id) as ctx:
        outcome = extract_chunks(ctx, config, obj, conn, [k for k in wanted if k in ranges], on_result)
    context.log_event(_refresh_observation(context.asset_key, conn, refresh_id, obj.name,
                                           time.monotonic() - started, sum(extracted)))
    return {**failures, **outcome.failures}


def _refresh_observation(key: dg.AssetKey, conn: sqlite3.Connection, refresh_id: str, object_name: str,
                         seconds: float, rows_this_run: int) -> dg.AssetObservation:
    """The object's figures of the refresh as one unpartitioned observation (Events tab, Plots by time): its
    `dagster/row_count` (the refresh's total rows) is the row count the asset page shows, and it changes no
    partition's status."""
    figures = object_figures(conn, refresh_id, object_name)
    metadata: dict[str, Any] = {
        "refresh_id": refresh_id, "dagster/row_count": figures.rows, "chunks": figures.chunks_done,
        "chunks_planned": figures.chunks_planned, "chunks_failed": figures.chunks_failed,
        "bulk_jobs": figures.bulk_jobs, "bytes": figures.bytes, "duration_s": round(seconds, 3),
        "rows_this_run": rows_this_run,
        "rows_per_s": round(rows_this_run / seconds) if seconds > 0 else 0,
    }
    if figures.expected_rows is not None:
        metadata["expected_rows"] = figures.expected_rows
    return dg.AssetObservation(asset_key=key, description=figures.describe(refresh_id), metadata=metadata)


def row_check_result(config: PipelineConfig, salesforce: SalesforceResource, conn: sqlite3.Connection, refresh_id: str,
                     obj: ObjectConfig) -> dg.AssetCheckResult:
    """Evaluate the object's blocking row check (`pipeline.row_check`) as the asset's check result."""
    check = evaluate_row_check(conn, config, obj, refresh_id, salesforce.connection().client().query)
    change = check.change
    return dg.AssetCheckResult(
        check_name=ROW_CHECK,
        asset_key=object_asset_key(obj.name),
        passed=check.passed,
        description=check.describe(),
        metadata={
            "refresh_id": refresh_id,
            "rows_extracted": check.rows,
            "chunks_done": f"{check.done} of {check.chunks}",
            "count_at_preflight": _figure(check.count_before),
            "count_now": _figure(check.count_now),
            "created_during_refresh": _figure(change.created if change else None),
            "modified_during_refresh": _figure(change.modified if change else None),
            "deleted_during_refresh": _figure(change.deleted if change else None),
            "problems": dg.MetadataValue.json(list(check.problems)),
        },
    )


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


def fields_result(conn: sqlite3.Connection, refresh_id: str, obj: ObjectConfig) -> dg.AssetCheckResult:
    """The WARN check that every field the SOQL names is delivered (none left out, kept all null or dropped)."""
    delivery = field_delivery(conn, refresh_id, obj.name)
    problems = delivery.problems() if delivery else ["no field plan recorded for this refresh"]
    return dg.AssetCheckResult(
        check_name=FIELDS_CHECK, asset_key=object_asset_key(obj.name), passed=delivery is not None and delivery.passed,
        severity=dg.AssetCheckSeverity.WARN, description=delivery.describe() if delivery else problems[0],
        metadata={"refresh_id": refresh_id, "columns_delivered": delivery.delivered if delivery else 0,
                  "not_delivered": dg.MetadataValue.json(problems)})


def make_object_asset(obj: ObjectConfig) -> dg.AssetsDefinition:
    """The partitioned asset extracting `obj`: the run's chunks in one process, one materialization per chunk,
    then the blocking row-count check (also executable alone)."""
    key = object_asset_key(obj.name)

    @dg.multi_asset(
        name=f"extract_{obj.name}",
        specs=[dg.AssetSpec(key, deps=[chunk_plans], group_name=GROUP, skippable=True, kinds=EXTRACTED, description=(
            f"{obj.name} from Salesforce (Bulk API 2.0), one Parquet file per chunk partition (Id range). "
            "Re-run failed chunks from the Partitions tab (Materialize, preset 'Failed'); the Events tab's plots by "
            "time show rows, chunks, Bulk jobs, bytes, duration and rows/s per refresh beside Salesforce's count "
            "(expected_rows); the checks compare the rows with Salesforce."))],
        check_specs=[
            dg.AssetCheckSpec(ROW_CHECK, asset=key, blocking=True, description=(
                f"Every planned Id range of {obj.name} extracted whole in the current refresh: no gap between chunks, "
                "and per chunk the file's rows = Σ Sforce-NumberOfRecords = the job's numberRecordsProcessed. "
                "Salesforce's COUNT() and the org's change during the refresh are reported beside it.")),
            dg.AssetCheckSpec(DROP_CHECK, asset=key, description=(
                f"Warns when {obj.name}'s rows fall by more than extraction.row_drop_warn_pct from its last "
                "successful refresh (deletions, a sharing or permission change, or a filter can hide rows).")),
            dg.AssetCheckSpec(FIELDS_CHECK, asset=key, description=(
                f"Warns when a field the SOQL of {obj.name} names is not delivered: left out (the org cannot deliver "
                "it, e.g. base64), kept all null (gone from Salesforce since an earlier refresh) or dropped from the "
                "output. The health JSON's warnings and `sf-assets run`'s closing lines say the same."))],
        can_subset=True, partitions_def=chunk_partitions(obj.name), backfill_policy=dg.BackfillPolicy.single_run(),
        pool=POOL,
    )
    def _asset(context: dg.AssetExecutionContext, pipeline: PipelineConfigResource, salesforce: SalesforceResource):
        config = pipeline.load()
        failures: dict[str, str] = {}
        with state_db(config) as conn, one_line_failures(f"extraction of {obj.name}"):
            refresh_id = enter_refresh(conn, context.run, refresh_of_step(conn, context.run))
            if key in context.selected_asset_keys:
                failures = _extract(context, config, salesforce, conn, refresh_id, obj)
            checks = {k.name for k in context.selected_asset_check_keys}
            verdict = row_check_result(config, salesforce, conn, refresh_id, obj) if ROW_CHECK in checks else None
            if verdict is not None:
                yield verdict
            if DROP_CHECK in checks and not failures:
                yield row_drop_result(config, conn, refresh_id, obj)
            if FIELDS_CHECK in checks:
                yield fields_result(conn, refresh_id, obj)
        if failures:
            raise dg.Failure(description=failed_chunks_line(obj.name, failures), allow_retries=False)
        if verdict is not None and not verdict.passed:
            raise dg.Failure(description=f"blocking check {ROW_CHECK} of {obj.name} failed: {verdict.description}",
                             allow_retries=False)

    return _asset
