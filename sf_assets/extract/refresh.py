"""Refreshes: ids, resuming an unfinished refresh within the window, finishing one.

The only module that reads or writes the `refreshes` table (`extract/tracker.py` owns `chunks`).

A refresh id is a UTC timestamp plus a short random suffix (`20261122T020000Z-3f9a`): sortable,
no commas (Dagster partition keys), safe in file names on every OS.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sf_assets.observability.logs import log_context
from sf_assets.observability.redaction import redact, redact_json
from sf_assets.storage.state_db import transaction

log = logging.getLogger(__name__)
RUNNING, SUCCESS, FAILED, SUPERSEDED = "running", "success", "failed", "superseded"


@dataclass(frozen=True)
class Refresh:
    """A refresh row; `resumed` tells whether it was picked up again rather than started now."""

    refresh_id: str
    started_at: datetime
    status: str
    resumed: bool


def new_refresh_id(now: datetime | None = None) -> str:
    """`YYYYMMDDTHHMMSSZ-xxxx` (UTC, 4 random hex digits)."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def current_or_new_refresh(conn: sqlite3.Connection, window_hours: float, force_new: bool = False,
                           now: datetime | None = None) -> Refresh:
    """The newest unfinished refresh started less than `window_hours` ago, else a new one.

    Starting a new refresh marks every other unfinished one `superseded`, so it is never resumed.
    A failed refresh counts as unfinished: resuming retries only its failed chunks.
    """
    now = now or datetime.now(UTC)
    not_resumed = None
    with transaction(conn):
        row = conn.execute(
            "SELECT refresh_id, started_at, status FROM refreshes WHERE status IN (?, ?) "
            "ORDER BY started_at DESC LIMIT 1", (RUNNING, FAILED)).fetchone()
        if row is not None and not force_new:
            started = datetime.fromisoformat(row[1])
            if now - started < timedelta(hours=window_hours):
                conn.execute(
                    "UPDATE refreshes SET status = ?, finished_at = NULL WHERE refresh_id = ?", (RUNNING, row[0])
                )
                with log_context(refresh_id=row[0]):  # the refresh's first line is in its log folder
                    log.info("Resuming refresh %s (started %s)", row[0], row[1])
                return Refresh(row[0], started, RUNNING, resumed=True)
            not_resumed = (f"Refresh {row[0]} (started {row[1]}) is not resumed: older than "
                           f"extraction.resume_window_hours ({window_hours:g} h); starting a new one")
        conn.execute("UPDATE refreshes SET status = ?, finished_at = ? WHERE status IN (?, ?)",
                     (SUPERSEDED, now.isoformat(timespec="seconds"), RUNNING, FAILED))
        refresh_id = new_refresh_id(now)
        conn.execute("INSERT INTO refreshes (refresh_id, started_at, status) VALUES (?, ?, ?)",
                     (refresh_id, now.isoformat(timespec="seconds"), RUNNING))
    with log_context(refresh_id=refresh_id):
        if not_resumed:  # why the unfinished refresh (one started before an upgrade, say) starts over
            log.warning(not_resumed)
        log.info("Started refresh %s", refresh_id)
    return Refresh(refresh_id, now, RUNNING, resumed=False)


def finish_refresh(
    conn: sqlite3.Connection, refresh_id: str, status: str, info: Mapping[str, Any] | None = None
) -> None:
    """Record the end of a refresh (`success` or `failed`) with a JSON summary."""
    cursor = conn.execute(
        "UPDATE refreshes SET status = ?, finished_at = ?, info_json = ? WHERE refresh_id = ?",
        (status, datetime.now(UTC).isoformat(timespec="seconds"),
         json.dumps(redact_json(dict(info or {})), default=lambda v: redact(str(v))), refresh_id))
    if cursor.rowcount != 1:
        raise KeyError(f"unknown refresh {refresh_id}")


def latest_refresh_id(conn: sqlite3.Connection) -> str | None:
    """The most recently started refresh, if any."""
    row = conn.execute("SELECT refresh_id FROM refreshes ORDER BY started_at DESC, rowid DESC LIMIT 1").fetchone()
    return row[0] if row else None


def refresh_status(conn: sqlite3.Connection, refresh_id: str) -> str | None:
    """running | success | failed | superseded, or None for an unknown refresh."""
    row = conn.execute("SELECT status FROM refreshes WHERE refresh_id = ?", (refresh_id,)).fetchone()
    return row[0] if row else None


def remember_backfill(conn: sqlite3.Connection, backfill_id: str, refresh_id: str) -> None:
    """Record that the runs of asset backfill `backfill_id` work on `refresh_id`."""
    with transaction(conn):
        conn.execute("INSERT OR REPLACE INTO backfill_refreshes VALUES (?, ?)", (backfill_id, refresh_id))


def refresh_of_backfill(conn: sqlite3.Connection, backfill_id: str) -> str | None:
    """The refresh that preflight chose for the backfill, if it ran."""
    row = conn.execute("SELECT refresh_id FROM backfill_refreshes WHERE backfill_id = ?", (backfill_id,)).fetchone()
    return row[0] if row else None


def refresh_times(conn: sqlite3.Connection, refresh_id: str) -> tuple[datetime | None, datetime | None]:
    """When the refresh started and finished (UTC; None: unknown refresh, or not finished)."""
    row = conn.execute("SELECT started_at, finished_at FROM refreshes WHERE refresh_id = ?", (refresh_id,)).fetchone()
    started, finished = row if row else (None, None)
    return (datetime.fromisoformat(started) if started else None,
            datetime.fromisoformat(finished) if finished else None)


def refresh_started_at(conn: sqlite3.Connection, refresh_id: str) -> datetime | None:
    """When the refresh started (UTC), or None for an unknown refresh."""
    return refresh_times(conn, refresh_id)[0]


def previous_success(conn: sqlite3.Connection, refresh_id: str) -> str | None:
    """The latest successful refresh started before `refresh_id`, if any."""
    row = conn.execute(
        "SELECT refresh_id FROM refreshes WHERE status = ? AND refresh_id <> ? AND started_at <= "
        "COALESCE((SELECT started_at FROM refreshes WHERE refresh_id = ?), started_at) "
        "ORDER BY started_at DESC, rowid DESC LIMIT 1", (SUCCESS, refresh_id, refresh_id)).fetchone()
    return row[0] if row else None


def finished_refreshes(conn: sqlite3.Connection) -> list[str]:
    """The refreshes nothing resumes any more (success or superseded)."""
    return [r[0] for r in conn.execute("SELECT refresh_id FROM refreshes WHERE status IN (?, ?)",
                                       (SUCCESS, SUPERSEDED))]


def successful_refreshes(conn: sqlite3.Connection, other_than: str) -> list[str]:
    """The successful refreshes but `other_than`, newest first."""
    return [r[0] for r in conn.execute(
        "SELECT refresh_id FROM refreshes WHERE status = ? AND refresh_id <> ? ORDER BY started_at DESC, rowid DESC",
        (SUCCESS, other_than))]
