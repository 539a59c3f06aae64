"""Helpers shared by the thin Dagster assets: state DB access, the refresh id of a run, failures."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.logs import bind_log_context
from sf_assets.redaction import redact
from sf_assets.storage.state_db import open_state_db

REFRESH_TAG = "sf_assets/refresh_id"
NEW_REFRESH_TAG = "sf_assets/new_refresh"
LAUNCHED_BY_TAG = "sf_assets/launched_by"
REFRESH_DRIVERS = frozenset({"cli", "schedule"})  # they run every stage and write the health JSON themselves


@contextlib.contextmanager
def state_db(config: PipelineConfig) -> Iterator[sqlite3.Connection]:
    """The state DB of `config`, closed afterwards."""
    conn = open_state_db(config.paths.state_db)
    try:
        yield conn
    finally:
        conn.close()


def refresh_id_for(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, config: PipelineConfig,
                   conn: sqlite3.Connection, create: bool = False) -> str:
    """The run's refresh id: its tag (set by `sf-assets run` and the schedule), else the latest refresh.

    With `create` (preflight only) a UI run without the tag resumes the unfinished refresh or starts one.
    """
    from sf_assets.extract.refresh import current_or_new_refresh

    tags = context.run.tags
    if REFRESH_TAG in tags:
        refresh_id: str | None = tags[REFRESH_TAG]
    elif create:
        force_new = tags.get(NEW_REFRESH_TAG) == "true"
        refresh_id = current_or_new_refresh(conn, config.extraction.resume_window_hours, force_new=force_new).refresh_id
    else:
        refresh_id = latest_refresh_id(conn)
    if refresh_id is None:
        raise dg.Failure(description="No refresh has started yet: materialize preflight first (or run `sf-assets run`).")
    bind_log_context(refresh_id=refresh_id, run_id=context.run_id)  # every log line of this step carries both
    return refresh_id


def latest_refresh_id(conn: sqlite3.Connection) -> str | None:
    """The most recently started refresh, if any."""
    row = conn.execute("SELECT refresh_id FROM refreshes ORDER BY started_at DESC LIMIT 1").fetchone()
    return row[0] if row else None


def fail(exc: Exception) -> dg.Failure:
    """A Dagster Failure carrying the one-line message of a domain error (no traceback noise in the UI)."""
    return dg.Failure(description=redact(f"{type(exc).__name__}: {exc}"), allow_retries=False)
