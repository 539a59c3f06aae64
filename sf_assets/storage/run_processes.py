"""Which process executes each Dagster run of ours, so a run whose process died can be told from a live one.

Windows has no POSIX signals and a killed process leaves no trace but its absence: liveness is the
pid plus the process start time (pids are reused), read with psutil on every OS.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterable

import psutil


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def record_run_process(conn: sqlite3.Connection, run_id: str, refresh_id: str, pid: int) -> None:
    """Remember that `pid` (this host) executes `run_id`, a run of `refresh_id`."""
    conn.execute("INSERT OR REPLACE INTO run_processes VALUES (?, ?, ?, ?, ?)",
                 (run_id, refresh_id, pid, _started(pid) or 0.0, socket.gethostname()))


def runs_of_refresh(conn: sqlite3.Connection, refresh_id: str) -> list[str]:
    """Every run recorded for the refresh, oldest first."""
    return [r[0] for r in conn.execute("SELECT run_id FROM run_processes WHERE refresh_id = ? ORDER BY rowid",
                                       (refresh_id,))]


def refresh_of_run(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The refresh `run_id` was recorded under, if any."""
    row = conn.execute("SELECT refresh_id FROM run_processes WHERE run_id = ?", (run_id,)).fetchone()
    return row[0] if row else None


def process_alive(pid: int, process_started: float | None = None) -> bool:
    """True while `pid` runs and (if given) is the same process that started at `process_started`."""
    started = _started(pid)
    return started is not None and (process_started is None or started <= process_started + 1)


def dead_runs(conn: sqlite3.Connection, run_ids: Iterable[str]) -> list[str]:
    """Those of `run_ids` whose recorded process (on this host) is gone; runs with no record are not judged."""
    dead = []
    for run_id in run_ids:
        row = conn.execute("SELECT pid, process_started, host FROM run_processes WHERE run_id = ?", (run_id,)).fetchone()
        if row and row[2] == socket.gethostname() and not process_alive(int(row[0]), float(row[1]) or None):
            dead.append(run_id)
    return dead
