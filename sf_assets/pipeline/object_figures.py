"""What a refresh extracted of its objects so far, from the job tracker: rows, chunks, Bulk jobs, bytes, COUNT()."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sf_assets.extract.tracker import chunk_outcomes, chunks_with_retries, object_totals
from sf_assets.health.report import ChunkCounts
from sf_assets.pipeline.plan import estimate


@dataclass(frozen=True)
class ObjectFigures:
    """The refresh's finished chunks of one object (all runs so far), and Salesforce's COUNT() at preflight."""

    rows: int
    chunks_done: int
    chunks_planned: int
    chunks_failed: int
    bulk_jobs: int
    bytes: int
    expected_rows: int | None

    def describe(self, refresh_id: str) -> str:
        """One line: rows against Salesforce's count, chunks done of planned."""
        expected = "not counted" if self.expected_rows is None else f"{self.expected_rows:,}"
        failed = f", {self.chunks_failed} failed" if self.chunks_failed else ""
        return (f"refresh {refresh_id}: {self.rows:,} rows extracted (Salesforce COUNT() at preflight: {expected}), "
                f"{self.chunks_done} of {self.chunks_planned} chunks done{failed}")


def object_figures(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> ObjectFigures:
    """The figures of `object_name` in `refresh_id` (Bulk jobs: the job that delivered each finished chunk)."""
    return ObjectFigures(*object_totals(conn, refresh_id, object_name), estimate(conn, refresh_id, object_name))


def chunk_counts(conn: sqlite3.Connection, refresh_id: str) -> dict[str, ChunkCounts]:
    """Per object: ok (success, nothing retried), fixed (success after a retried call or a re-run), failed,
    skipped (queued/running), and retried (chunks with at least one logged retry, whatever their outcome)."""
    return {obj: ChunkCounts(*counts) for obj, counts in chunk_outcomes(conn, refresh_id).items()}


def retried_chunks(conn: sqlite3.Connection, refresh_id: str) -> list[str]:
    """One line per chunk with a logged retry: which chunk, how many retries, their causes and how it ended."""
    return [f"{obj} chunk {chunk} retried {n} time(s) ({causes}); {status}"
            for obj, chunk, n, causes, status in chunks_with_retries(conn, refresh_id)]
