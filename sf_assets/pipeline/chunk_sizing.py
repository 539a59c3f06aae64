"""How many rows a chunk (one Bulk job) takes: the user's `chunk_size`, or `auto` from the service's measured speed.

A chunk is what a retry repeats and what a failed refresh leaves to redo; every chunk costs a Bulk job, whose fixed
latency (creation, Salesforce's processing start, polls, round trips) a far-away org makes seconds long, and an
object of more than one chunk costs a planning job (the Id scan) before its first data job. So `auto` makes a chunk
as big as the work one job did in `AUTO_JOB_SECONDS` on the object's last successful refresh (rows per second of
its jobs, latency included), within `AUTO_MIN_ROWS`..`AUTO_MAX_ROWS`: most objects are one job and need no planning
job, and a big one still resumes in pieces of minutes. Pages within a job resume on their own (`chunk_pages`).
"""

from __future__ import annotations

import sqlite3

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.refresh import previous_success
from sf_assets.extract.tracker import extraction_speed

AUTO_JOB_SECONDS = 300.0
AUTO_UNMEASURED_ROWS = 2_500_000
AUTO_MIN_ROWS = 500_000
AUTO_MAX_ROWS = 10_000_000


def chunk_rows(conn: sqlite3.Connection, config: PipelineConfig, obj: ObjectConfig, refresh_id: str) -> int:
    """Most rows per chunk of `obj` in `refresh_id`: its `chunk_size`, else `extraction.chunk_size`, `auto` measured
    on the last successful refresh before it."""
    size = obj.chunk_size or config.extraction.chunk_size
    if size != "auto":
        return size
    previous = previous_success(conn, refresh_id)
    speed = rows_per_job_second(conn, previous, obj.name) if previous else None
    if speed is None:
        return AUTO_UNMEASURED_ROWS
    return int(min(AUTO_MAX_ROWS, max(AUTO_MIN_ROWS, speed * AUTO_JOB_SECONDS)))


def rows_per_job_second(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> float | None:
    """Rows per second of one Bulk job of `object_name` in `refresh_id` (its chunks' rows over their wall time, job
    latency and download included); None when it extracted none or too little to measure (< 1 s)."""
    rows, seconds = extraction_speed(conn, refresh_id, object_name)
    return rows / seconds if seconds >= 1.0 else None
