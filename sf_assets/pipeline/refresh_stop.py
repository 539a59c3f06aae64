"""A refresh stopped at once (a daily limit, an expired access token): the one line that says why, when a
limit resets and what the next `sf-assets run` does, recorded for `sf-assets run` and the health JSON.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sf_assets.extract.refresh import refresh_started_at
from sf_assets.salesforce.errors import RESETS, AccessTokenExpired, DailyLimitExceeded, RefreshStop
from sf_assets.storage.refresh_facts import get_fact, put_fact, put_health

STOP_FACT = "stopped_at_once"


class RefreshStopped(RefreshStop):
    """The refresh stopped at once, and that is recorded; the message is the line a user reads."""


def next_run(conn: sqlite3.Connection, refresh_id: str, window_hours: float,
             now: datetime | None = None) -> tuple[str, datetime | None]:
    """What the next `sf-assets run` does ("resumes refresh … until …") and until when it resumes this refresh
    (None: it starts a new one)."""
    now = now or datetime.now(UTC)
    started = refresh_started_at(conn, refresh_id)
    until = started + timedelta(hours=window_hours) if started else now
    if now < until:
        return (f"resumes refresh {refresh_id} until {until:%Y-%m-%d %H:%M} UTC "
                "(extraction.resume_window_hours after its start), later it starts a new refresh"), until
    return (f"starts a new refresh (refresh {refresh_id} began more than "
            f"extraction.resume_window_hours = {window_hours:g} h ago)"), None


def stop_line(cause: RefreshStop, next_step: str) -> str:
    """The line users read: why the refresh stopped and what `sf-assets run` does next."""
    if isinstance(cause, AccessTokenExpired):
        return f"{cause.cause}: set a new one, then `sf-assets run` {next_step}."
    return f"{cause}. `sf-assets run` {next_step}."


def record_stop(conn: sqlite3.Connection, refresh_id: str, cause: RefreshStop, window_hours: float) -> RefreshStopped:
    """Record why the refresh stopped (a daily limit also as the health section `limit_stop`); the error to raise."""
    now = datetime.now(UTC)
    next_step, until = next_run(conn, refresh_id, window_hours, now)
    line = stop_line(cause, next_step)
    put_fact(conn, refresh_id, STOP_FACT, {"line": line, "at": now.isoformat(timespec="seconds")})
    if isinstance(cause, DailyLimitExceeded):
        put_health(conn, refresh_id, "limit_stop", {
            "limit": cause.limit.key, "salesforce_said": cause.detail, "resets": RESETS,
            "next_run": "resume" if until else "new refresh",
            "resume_until": until.isoformat(timespec="seconds") if until else None,
            "at": now.isoformat(timespec="seconds"), "line": line})
    return RefreshStopped(line)


@contextlib.contextmanager
def stops_at_once(conn: sqlite3.Connection, refresh_id: str, window_hours: float) -> Iterator[None]:
    """Turn a `RefreshStop` of the block into a recorded `RefreshStopped` with the line users read."""
    try:
        yield
    except RefreshStopped:
        raise  # recorded by an inner block
    except RefreshStop as cause:
        raise record_stop(conn, refresh_id, cause, window_hours) from cause


def stopped_since(conn: sqlite3.Connection, refresh_id: str, since: datetime | None = None) -> str | None:
    """The line of the refresh's latest stop, if it was recorded at or after `since` (any time when None)."""
    stop = get_fact(conn, refresh_id, STOP_FACT)
    if stop is None or (since is not None and datetime.fromisoformat(stop["at"]) < since.replace(microsecond=0)):
        return None
    return stop["line"]
