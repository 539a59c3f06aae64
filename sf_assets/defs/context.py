"""What every step needs first: the state DB, the refresh id of its run, log context, its process."""

from __future__ import annotations

import contextlib
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
    recorded under; None when it is tied to none. The one resolution, for assets and sensors; reads only."""
    backfill_id = backfill_id_of(run.tags)
    return run.tags.get(REFRESH_TAG) or (refresh_of_backfill(conn, backfill_id) if backfill_id else None) or \
        refresh_of_run(conn, run.run_id)


def refresh_of_step(conn: sqlite3.Connection, run: dg.DagsterRun) -> str:
    """The refresh a step of `run` works on: the one the run is tied to, else the latest (an asset materialized
    alone from the UI). Reads only; a dg.Failure when no refresh has started yet."""
    refresh_id = tied_refresh_id(conn, run) or latest_refresh_id(conn)
    if refresh_id is None:
        raise dg.Failure(allow_retries=False, description="No refresh has started yet: materialize preflight first "
                                                            "(or run `sf-assets run`).")
    return refresh_id


def start_refresh(conn: sqlite3.Connection, run: dg.DagsterRun, resume_window_hours: float) -> str:
    """Preflight's refresh: the one `run` is tied to, else the unfinished one resumed or a new one started (always
    new with the tag `sf_assets/new_refresh=true`), remembered for the other runs of the run's backfill."""
    refresh_id = tied_refresh_id(conn, run)
    if refresh_id is None:
        force_new = run.tags.get(NEW_REFRESH_TAG) == "true"
        refresh_id = current_or_new_refresh(conn, resume_window_hours, force_new=force_new).refresh_id
        backfill_id = backfill_id_of(run.tags)
        if backfill_id:
            remember_backfill(conn, backfill_id, refresh_id)
    return refresh_id


def enter_refresh(conn: sqlite3.Connection, run: dg.DagsterRun, refresh_id: str) -> str:
    """Record this process as executing `run` for `refresh_id` (so the run is tied to it and a dead process can be
    told), and put both ids on every log line of the step; returns `refresh_id`."""
    bind_log_context(refresh_id=refresh_id, run_id=run.run_id)
    record_run_process(conn, run.run_id, refresh_id)
    return refresh_id
