"""Small per-refresh facts kept in the state DB (throttled flag, usage and disk at start, ...)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def put_fact(conn: sqlite3.Connection, refresh_id: str, name: str, value: Any) -> None:
    """Store `value` (JSON-serializable) under `name` for the refresh."""
    conn.execute("INSERT OR REPLACE INTO refresh_facts VALUES (?, ?, ?)", (refresh_id, name, json.dumps(value)))


def get_fact(conn: sqlite3.Connection, refresh_id: str, name: str, default: Any = None) -> Any:
    """The stored value of `name`, or `default`."""
    row = conn.execute("SELECT value_json FROM refresh_facts WHERE refresh_id = ? AND name = ?", (refresh_id, name)).fetchone()
    return json.loads(row[0]) if row else default


def all_facts(conn: sqlite3.Connection, refresh_id: str) -> dict[str, Any]:
    """Every fact of the refresh."""
    rows = conn.execute("SELECT name, value_json FROM refresh_facts WHERE refresh_id = ?", (refresh_id,)).fetchall()
    return {name: json.loads(value) for name, value in rows}
