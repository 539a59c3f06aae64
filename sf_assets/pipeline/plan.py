"""Stage "plan": the extraction context of a refresh and each object's chunk plan (Dagster-free).

Chunk ids (`c0001`, …) are stable across refreshes and are the object assets' partition keys; the
state DB holds each refresh's Id bounds per chunk (see docs/ARCHITECTURE.md, "Chunk partitions").
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.chunk_extract import ExtractContext
from sf_assets.extract.chunk_planner import ChunkPlan, plan_chunks
from sf_assets.extract.tracker import ChunkTracker
from sf_assets.observability.logs import log_context
from sf_assets.pipeline.chunk_sizing import chunk_rows
from sf_assets.pipeline.refresh_stop import stops_at_once
from sf_assets.salesforce.bulk2 import BulkClient
from sf_assets.salesforce.connection import SalesforceConnection
from sf_assets.salesforce.governor import ApiGovernor
from sf_assets.storage.chunk_keys import set_key_target
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.job_slots import JobSlotFiles
from sf_assets.storage.refresh_facts import get_fact, record_api_usage
from sf_assets.storage.state_db import transaction

log = logging.getLogger(__name__)
_open_governors: weakref.WeakSet[ApiGovernor] = weakref.WeakSet()  # of this process's open extract contexts
_open_lock = threading.Lock()


def cancel_open_extractions(reason: str) -> None:
    """Cancel every open extraction of this process (`sf-assets run` runs objects on threads, and Ctrl+C reaches
    only the main thread): each worker aborts its open Bulk job at its next check."""
    with _open_lock:
        governors = list(_open_governors)
    for governor in governors:
        governor.cancel(reason)


def _record_last_usage(conn: sqlite3.Connection, refresh_id: str, governor: ApiGovernor) -> None:
    usage = governor.usage
    if usage is None:
        return
    try:
        with transaction(conn):
            record_api_usage(conn, refresh_id, usage.to_dict())
    except sqlite3.Error as exc:  # never hides the step's own outcome
        log.warning("Could not record the last API usage of refresh %s: %s", refresh_id, exc)


@contextlib.contextmanager
def extract_context(
    config: PipelineConfig, connection: SalesforceConnection, conn: sqlite3.Connection, refresh_id: str
) -> Iterator[ExtractContext]:
    """An ExtractContext for the refresh (throttled when preflight found API usage above the warn threshold);
    a daily limit or an expired access token inside it becomes a recorded `RefreshStopped`. On the way out the
    last API usage Salesforce reported is recorded with its time."""
    throttled = bool(get_fact(conn, refresh_id, "throttled"))
    governor = ApiGovernor(config.api_usage, config.extraction.max_concurrent_jobs, throttled=throttled,
                           shared_slots=JobSlotFiles(config.paths.state_db.parent))
    client = BulkClient(connection, governor, config.retry, config.extraction)
    with _open_lock:
        _open_governors.add(governor)
    try:
        with stops_at_once(conn, refresh_id, config.extraction.resume_window_hours):
            yield ExtractContext(client, ChunkTracker(conn), refresh_id, config.paths.work_dir)
    finally:  # the last usage Salesforce reported: what the failure sensor reports (it never calls Salesforce)
        with _open_lock:
            _open_governors.discard(governor)
        _record_last_usage(conn, refresh_id, governor)


def estimate(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> int | None:
    """The preflight COUNT() of the object in this refresh, if recorded."""
    row = conn.execute(
        "SELECT row_count FROM object_estimates WHERE refresh_id = ? AND object = ?", (refresh_id, object_name)
    ).fetchone()
    return int(row[0]) if row else None


def plan_object(ctx: ExtractContext, config: PipelineConfig, obj: ObjectConfig, conn: sqlite3.Connection,
                chunk_count: int | None = None) -> ChunkPlan:
    """The stored or newly computed chunk plan of one object (exactly `chunk_count` chunks when given).

    The number of chunks the object ideally needs is kept for the next refresh's partition keys.
    """
    with log_context(refresh_id=ctx.refresh_id, object=obj.name), \
            stops_at_once(conn, ctx.refresh_id, config.extraction.resume_window_hours):
        plan = plan_chunks(
            ctx.client, ctx.tracker, load_plan(conn, obj.name), ctx.refresh_id,
            chunk_size=chunk_rows(conn, config, obj, ctx.refresh_id),
            estimate=estimate(conn, ctx.refresh_id, obj.name), query_all=obj.query_all, chunk_count=chunk_count,
        )
        if plan.ideal_chunks is not None:
            set_key_target(conn, obj.name, plan.ideal_chunks)
        return plan
