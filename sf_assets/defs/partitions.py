"""Stable chunk partition keys (c0001…) per object, and when it is safe to change them.

A backfill stores the partitions it targets when it is launched; a key deleted before its run fails
the backfill. So keys only grow or shrink when nothing could be targeting them: no run in progress,
no backfill in progress, no `sf-assets run` holding the refresh lock, and the latest refresh finished.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from sf_assets.defs.dagster_internals import backfills_in_progress
from sf_assets.extract.chunk_planner import chunk_id
from sf_assets.extract.refresh import latest_refresh_id, refresh_status
from sf_assets.storage.refresh_lock import lock_is_free

IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def chunk_partitions(object_name: str) -> dg.DynamicPartitionsDefinition:
    """The dynamic partitions (stable chunk keys) of one object."""
    return dg.DynamicPartitionsDefinition(name=f"{object_name}_chunks")


def chunk_keys(instance: dg.DagsterInstance, object_name: str) -> list[str]:
    """The object's registered chunk keys, in order."""
    return sorted(instance.get_dynamic_partitions(chunk_partitions(object_name).name or ""))


def key_changes(existing: Sequence[str], count: int) -> tuple[list[str], list[str]]:
    """(keys to add, keys to delete) so that exactly c0001..c<count> exist."""
    wanted = [chunk_id(i) for i in range(1, count + 1)]
    have = set(existing)
    return [k for k in wanted if k not in have], [k for k in existing if k not in set(wanted)]


def set_chunk_keys(instance: dg.DagsterInstance, object_name: str, keys: Sequence[str]) -> None:
    """Make `keys` the object's chunk keys (one batched add; deletes of keys no longer planned)."""
    name = chunk_partitions(object_name).name or ""
    existing = instance.get_dynamic_partitions(name)
    missing = [k for k in keys if k not in set(existing)]
    if missing:
        instance.add_dynamic_partitions(name, missing)
    for stale in (k for k in existing if k not in set(keys)):
        instance.delete_dynamic_partition(name, stale)


def runs_in_progress(instance: dg.DagsterInstance) -> int:
    """Runs queued or executing in the instance."""
    return len(instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS)))


def quiet_reason(instance: dg.DagsterInstance, conn: sqlite3.Connection, lock_file: Path,
                 need_finished: bool = True) -> str | None:
    """Why keys must not change now (None when it is safe)."""
    if runs_in_progress(instance):
        return "runs are in progress"
    if backfills_in_progress(instance):
        return "a backfill is in progress"
    if not lock_is_free(lock_file):
        return "`sf-assets run` is refreshing"
    latest = latest_refresh_id(conn)
    if need_finished and latest is not None and refresh_status(conn, latest) in ("running", "failed"):
        return f"refresh {latest} is unfinished (its chunk plan uses the current keys)"
    return None
