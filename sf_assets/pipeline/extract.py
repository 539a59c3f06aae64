"""Stage "extract": the chunks of one object, with progress (Dagster-free; its row check: `pipeline.row_check`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.chunk_extract import ChunkResult, ExtractContext
from sf_assets.extract.object_extract import ObjectResult, OnResult, extract_object
from sf_assets.extract.progress import Progress
from sf_assets.observability.logs import log_context
from sf_assets.pipeline.plan import estimate
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.staging_loading import ChunkPreloader


def extract_chunks(
    ctx: ExtractContext, config: PipelineConfig, obj: ObjectConfig, conn: sqlite3.Connection,
    chunk_ids: Sequence[str], on_result: OnResult,
) -> ObjectResult:
    """Extract the given chunks of one object (finished ones whose file matches are skipped); logs progress.

    Each finished chunk is also appended to the object's loading file for staging while the next chunks
    download (``storage.staging_loading``); the step returns once those appends are done.
    """
    progress = Progress(len(chunk_ids), estimate(conn, ctx.refresh_id, obj.name))
    plan = load_plan(conn, obj.name)
    with log_context(refresh_id=ctx.refresh_id, object=obj.name), \
            ChunkPreloader(config.paths.staging_db, plan, config.staging.batch_rows) as preloader:

        def report(chunk_id: str, result: ChunkResult | Exception) -> None:
            progress.step(result.rows if isinstance(result, ChunkResult) else 0)
            if isinstance(result, ChunkResult):
                preloader.submit(result.file_path)
            on_result(chunk_id, result)

        return extract_object(ctx, plan, query_all=obj.query_all, chunk_ids=chunk_ids, on_result=report)
