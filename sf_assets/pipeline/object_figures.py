"""What one refresh extracted of one object so far, from the state DB: rows, chunks, Bulk jobs, bytes, COUNT()."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sf_assets.pipeline.plan import estimate

_SQL = """
SELECT COALESCE(SUM(CASE WHEN status = 'success' THEN rows END), 0),
       COALESCE(SUM(status = 'success'), 0), COUNT(*), COALESCE(SUM(status = 'failed'), 0),
       COUNT(DISTINCT CASE WHEN status = 'success' THEN job_id END),
       COALESCE(SUM(CASE WHEN status = 'success' THEN bytes END), 0)
FROM chunks WHERE refresh_id = ? AND object = ?
"""


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
    rows, done, planned, failed, jobs, size = conn.execute(_SQL, (refresh_id, object_name)).fetchone()
    return ObjectFigures(rows, done, planned, failed, jobs, size, estimate(conn, refresh_id, object_name))
