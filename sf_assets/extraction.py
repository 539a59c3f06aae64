"""Glue between configuration, the state DB and the extraction engine (Dagster-free).

Partition keys of the object assets are `<chunk_id>_<refresh_id>`, e.g. `c0007_20261122T020000Z-3f9a`: the chunk
comes first so the UI's partition list (which cuts long keys) shows it (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.chunk_extract import ChunkResult, ExtractContext
from sf_assets.extract.chunk_planner import ChunkPlan, plan_chunks
from sf_assets.extract.object_extract import ObjectResult, OnResult, extract_object
from sf_assets.extract.tracker import ChunkTracker
from sf_assets.logs import log_context
from sf_assets.progress import Progress
from sf_assets.salesforce.bulk2 import BulkClient
from sf_assets.salesforce.connection import SalesforceConnection
from sf_assets.salesforce.governor import ApiGovernor
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.refresh_facts import get_fact


def partition_key(refresh_id: str, chunk_id: str) -> str:
    """The Dagster partition key of a chunk."""
    return f"{chunk_id}_{refresh_id}"


def split_partition_key(key: str) -> tuple[str, str]:
    """(refresh_id, chunk_id) of a partition key."""
    chunk_id, _, refresh_id = key.partition("_")
    if not refresh_id or not chunk_id:
        raise ValueError(f"'{key}' is not a chunk partition key (<chunk_id>_<refresh_id>)")
    return refresh_id, chunk_id


@contextlib.contextmanager
def extract_context(
    config: PipelineConfig, connection: SalesforceConnection, conn: sqlite3.Connection, refresh_id: str
) -> Iterator[ExtractContext]:
    """An ExtractContext for the refresh (throttled when preflight found API usage above the warn threshold)."""
    governor = ApiGovernor(
        config.api_usage, config.extraction.max_concurrent_jobs, throttled=bool(get_fact(conn, refresh_id, "throttled"))
    )
    client = BulkClient(connection, governor, config.retry, config.extraction)
    yield ExtractContext(client, ChunkTracker(conn), refresh_id, config.paths.work_dir)


def estimate(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> int | None:
    """The preflight COUNT() of the object in this refresh, if recorded."""
    row = conn.execute(
        "SELECT row_count FROM object_estimates WHERE refresh_id = ? AND object = ?", (refresh_id, object_name)
    ).fetchone()
    return int(row[0]) if row else None


def plan_object(ctx: ExtractContext, config: PipelineConfig, obj: ObjectConfig, conn: sqlite3.Connection) -> ChunkPlan:
    """The stored or newly computed chunk plan of one object."""
    with log_context(refresh_id=ctx.refresh_id, object=obj.name):
        return plan_chunks(
            ctx.client, ctx.tracker, load_plan(conn, obj.name), ctx.refresh_id,
            chunk_size=obj.chunk_size or config.extraction.chunk_size,
            estimate=estimate(conn, ctx.refresh_id, obj.name), query_all=obj.query_all,
        )


def extract_chunks(
    ctx: ExtractContext, obj: ObjectConfig, conn: sqlite3.Connection, chunk_ids: Sequence[str], on_result: OnResult
) -> ObjectResult:
    """Extract the given chunks of one object (finished ones whose file matches are skipped); logs progress."""
    progress = Progress(len(chunk_ids), estimate(conn, ctx.refresh_id, obj.name))

    def report(chunk_id: str, result: ChunkResult | Exception) -> None:
        progress.step(result.rows if isinstance(result, ChunkResult) else 0)
        on_result(chunk_id, result)

    with log_context(refresh_id=ctx.refresh_id, object=obj.name):
        return extract_object(ctx, load_plan(conn, obj.name), query_all=obj.query_all, chunk_ids=chunk_ids,
                              on_result=report)
