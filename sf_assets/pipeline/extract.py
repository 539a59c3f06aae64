"""Stage "extract": the chunks of one object, with progress (Dagster-free; its row check: `pipeline.row_check`)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.chunk_extract import ChunkResult, ExtractContext
from sf_assets.extract.object_extract import ObjectResult, OnResult, extract_object
from sf_assets.extract.page_writer import FieldDriftError
from sf_assets.extract.progress import Progress
from sf_assets.observability.logs import log_context
from sf_assets.observability.redaction import redact
from sf_assets.pipeline.catalog import redescribe
from sf_assets.pipeline.field_plans import plan_object_fields, record_plan
from sf_assets.pipeline.plan import estimate
from sf_assets.pipeline.prepare import schema_dir
from sf_assets.salesforce.catalog import sf_describer
from sf_assets.salesforce.field_drift import is_invalid_field
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.staging_loading import ChunkPreloader

log = logging.getLogger(__name__)


def extract_chunks(
    ctx: ExtractContext, config: PipelineConfig, obj: ObjectConfig, conn: sqlite3.Connection,
    chunk_ids: Sequence[str], on_result: OnResult,
) -> ObjectResult:
    """Extract the given chunks of one object (finished ones whose file matches are skipped); logs progress.

    Each finished chunk is also appended to the object's loading file for staging while the next chunks
    download (``storage.staging_loading``); the step returns once those appends are done. When Salesforce
    rejects a planned field (INVALID_FIELD, or a results header that differs from the plan), the object is
    described again once, re-planned by the drift rules, and every chunk extracted with the new plan (finished
    ones too: no column may hold values in some chunks and nulls in others).
    """
    plan = load_plan(conn, obj.name)
    outcome, drift = _extract_with(ctx, config, obj, conn, plan, chunk_ids, on_result)
    if drift is None:
        return outcome
    new_plan = _replan(ctx, config, obj, conn, plan, drift, chunk_ids)
    if new_plan is None:
        return outcome
    return _extract_with(ctx, config, obj, conn, new_plan, chunk_ids, on_result)[0]


def _extract_with(ctx: ExtractContext, config: PipelineConfig, obj: ObjectConfig, conn: sqlite3.Connection,
                  plan: FieldPlan, chunk_ids: Sequence[str], on_result: OnResult) -> tuple[ObjectResult, str | None]:
    """The chunks extracted with `plan`, and the first cause that says the org's fields changed (else None)."""
    progress = Progress(len(chunk_ids), estimate(conn, ctx.refresh_id, obj.name))
    drift: list[str] = []
    with log_context(refresh_id=ctx.refresh_id, object=obj.name), \
            ChunkPreloader(config.paths.staging_db, plan, config.staging.batch_rows) as preloader:

        def report(chunk_id: str, result: ChunkResult | Exception) -> None:
            progress.step(result.rows if isinstance(result, ChunkResult) else 0)
            if isinstance(result, ChunkResult):
                preloader.submit(result.file_path)
            elif isinstance(result, FieldDriftError) or is_invalid_field(result):
                drift.append(redact(str(result)))
            on_result(chunk_id, result)

        outcome = extract_object(ctx, plan, query_all=obj.query_all, chunk_ids=chunk_ids, on_result=report)
    return outcome, (drift[0] if drift else None)


def _replan(ctx: ExtractContext, config: PipelineConfig, obj: ObjectConfig, conn: sqlite3.Connection,
            plan: FieldPlan, cause: str, chunk_ids: Sequence[str]) -> FieldPlan | None:
    """Describe the object again (bypassing the cache) and re-plan it; None when the plan stays the same."""
    log.warning("%s: Salesforce no longer accepts the planned fields (%s): describing %s again and re-planning",
                obj.name, cause.splitlines()[0][:300], obj.name)
    catalog = redescribe(sf_describer(ctx.client.connection.client()), obj, conn, config.retry)
    new_plan = plan_object_fields(config, obj, catalog, conn, ctx.refresh_id)
    if new_plan.fingerprint == plan.fingerprint:
        log.warning("%s: the fresh describe gives the same field plan: the error stands", obj.name)
        return None
    done = sorted(s.key.chunk_id for s in ctx.tracker.chunks(ctx.refresh_id, obj.name)
                  if s.status == "success" and s.key.chunk_id in chunk_ids)
    record_plan(conn, ctx.refresh_id, new_plan, schema_dir(config),
                replanned={"replanned_during_refresh": True, "chunks_extracted_again": done})
    log.warning("%s re-planned during the refresh: %d finished chunk(s) are extracted again with the new plan",
                obj.name, len(done))
    return new_plan
