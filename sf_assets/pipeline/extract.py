"""Stage "extract": the chunks of one object, with progress, and its row-count check (Dagster-free)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.chunk_extract import ChunkResult, ExtractContext
from sf_assets.extract.object_extract import ObjectResult, OnResult, extract_object
from sf_assets.extract.progress import Progress
from sf_assets.observability.logs import log_context
from sf_assets.pipeline.plan import estimate
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.refresh_facts import get_fact, put_fact
from sf_assets.storage.staging_loading import ChunkPreloader


@dataclass(frozen=True)
class RowCheck:
    """Rows in the refresh's chunk files of one object against Salesforce's COUNT() (at preflight and now)."""

    refresh_id: str
    rows: int
    chunks: int
    done: int
    count_before: int | None
    count_now: int

    @property
    def passed(self) -> bool:
        """All chunks done and the rows within the counts (rows created or deleted during the refresh)."""
        before = self.count_now if self.count_before is None else self.count_before
        return self.chunks > 0 and self.done == self.chunks and min(before, self.count_now) <= self.rows <= max(
            before, self.count_now)

    def describe(self, object_name: str) -> str:
        """One line for logs and failures."""
        return (f"{object_name}: {self.rows} rows in {self.done} of {self.chunks} chunks; Salesforce counts "
                f"{self.count_before if self.count_before is not None else '?'} at preflight, {self.count_now} now")


def row_check(conn: sqlite3.Connection, refresh_id: str, object_name: str, count_now: int) -> RowCheck:
    """Evaluate and store the object's row-count check for the refresh (staging refuses a failed one)."""
    chunks, done, rows = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(status = 'success'), 0), COALESCE(SUM(CASE WHEN status = 'success' THEN rows END), 0) "
        "FROM chunks WHERE refresh_id = ? AND object = ?", (refresh_id, object_name)).fetchone()
    check = RowCheck(refresh_id, int(rows), int(chunks), int(done), estimate(conn, refresh_id, object_name), count_now)
    put_fact(conn, refresh_id, f"row_check:{object_name}", {"passed": check.passed, "line": check.describe(object_name)})
    return check


def stored_row_check(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> dict | None:
    """The last stored row-count verdict of the object in the refresh ({passed, line}), if any."""
    return get_fact(conn, refresh_id, f"row_check:{object_name}")


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
