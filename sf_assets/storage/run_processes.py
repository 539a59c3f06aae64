"""Which process executes each Dagster run of ours, so a run whose process died can be told from a live one.

A process is recorded by pid and start time, and judged by the one liveness rule
(`process_liveness.process_alive`): a pid reused by another process reads as dead.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterable

from sf_assets.storage.process_liveness import process_alive, this_process


def record_run_process(conn: sqlite3.Connection, run_id: str, refresh_id: str) -> None:
    """Remember that this process (pid and start time, this host) executes `run_id`, a run of `refresh_id`."""
    pid, started = this_process()
    conn.execute("INSERT OR REPLACE INTO run_processes VALUES (?, ?, ?, ?, ?)",
                 (run_id, refresh_id, pid, started, socket.gethostname()))


def runs_of_refresh(conn: sqlite3.Connection, refresh_id: str) -> list[str]:
    """Every run recorded for the refresh, oldest first."""
    return [r[0] for r in conn.execute("SELECT run_id FROM run_processes WHERE refresh_id = ? ORDER BY rowid",
                                       (refresh_id,))]


def refresh_of_run(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The refresh `run_id` was recorded under, if any."""
    row = conn.execute("SELECT refresh_id FROM run_processes WHERE run_id = ?", (run_id,)).fetchone()
    return row[0] if row else None


def dead_runs(conn: sqlite3.Connection, run_ids: Iterable[str]) -> list[str]:
    """Those of `run_ids` whose recorded process (on this host) is gone; runs with no record are not judged."""
    dead = []
    for run_id in run_ids:
        row = conn.execute("SELECT pid, process_started, host FROM run_processes WHERE run_id = ?",
                           (run_id,)).fetchone()
        if row and row[2] == socket.gethostname() and not process_alive(int(row[0]), float(row[1])):
            dead.append(run_id)
    return dead
