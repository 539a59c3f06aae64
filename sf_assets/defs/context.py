"""What every step needs first: the state DB, the refresh id of its run, log context, its process."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.defs.dagster_internals import backfill_id_of
from sf_assets.defs.tags import NEW_REFRESH_TAG, REFRESH_TAG
from sf_assets.extract.refresh import current_or_new_refresh, latest_refresh_id, refresh_of_backfill, remember_backfill
from sf_assets.observability.logs import bind_log_context
from sf_assets.storage.run_processes import record_run_process, refresh_of_run
from sf_assets.storage.state_db import state_session


def lock_path(config: PipelineConfig) -> Path:
    """The refresh lock file of the pipeline's state DB (held by `sf-assets run` for a whole refresh)."""
    return config.paths.state_db.parent / "refresh.lock"


def state_db(config: PipelineConfig) -> contextlib.AbstractContextManager[sqlite3.Connection]:
    """The state DB of `config`, closed afterwards."""
    return state_session(config.paths.state_db)


def tied_refresh_id(conn: sqlite3.Connection, run: dg.DagsterRun) -> str | None:
    """The refresh `run` provably belongs to: its tag, its backfill's refresh, or the refresh a step of it was
    recorded under; None when it is tied to none. Reads only (no refresh starts, nothing recorded)."""
    backfill_id = backfill_id_of(run.tags)
    return run.tags.get(REFRESH_TAG) or (refresh_of_backfill(conn, backfill_id) if backfill_id else None) or \
        refresh_of_run(conn, run.run_id)


def refresh_id_for(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext | dg.OpExecutionContext,
                   config: PipelineConfig, conn: sqlite3.Connection, create: bool = False) -> str:
    """The refresh of this run: the one it is tied to (`tied_refresh_id`), else the latest refresh.

    With `create` (preflight only) a run without the tag resumes the unfinished refresh or starts one,
    and remembers it for the other runs of its backfill.
    """
    run = context.run
    tags = run.tags
    backfill_id = backfill_id_of(tags)
    refresh_id = tied_refresh_id(conn, run)
    if refresh_id is None and create:
        force_new = tags.get(NEW_REFRESH_TAG) == "true"
        refresh_id = current_or_new_refresh(conn, config.extraction.resume_window_hours, force_new=force_new).refresh_id
        if backfill_id:
            remember_backfill(conn, backfill_id, refresh_id)
    refresh_id = refresh_id or latest_refresh_id(conn)
    if refresh_id is None:
        raise dg.Failure(description="No refresh has started yet: materialize preflight first (or run `sf-assets run`).",
                         allow_retries=False)
    bind_log_context(refresh_id=refresh_id, run_id=run.run_id)  # every log line of this step carries both
    record_run_process(conn, run.run_id, refresh_id, os.getpid())
    return refresh_id
