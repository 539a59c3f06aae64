"""The metadata catalog cache: each object's describe() document in the state DB, with when it was fetched."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any


def fresh_describe(conn: sqlite3.Connection, name: str, ttl_hours: float, now: datetime) -> dict[str, Any] | None:
    """The cached describe() of `name` if it was fetched less than `ttl_hours` before `now`."""
    row = conn.execute("SELECT describe_json, last_fetched FROM catalog_objects WHERE object = ?", (name,)).fetchone()
    if row and now - datetime.fromisoformat(row[1]) < timedelta(hours=ttl_hours):
        describe: dict[str, Any] = json.loads(row[0])
        return describe
    return None


def store_describe(conn: sqlite3.Connection, doc: Mapping[str, Any], now: datetime) -> None:
    """Cache a describe() document (replacing the object's previous one)."""
    conn.execute(
        "INSERT OR REPLACE INTO catalog_objects VALUES (?, ?, ?)", (doc["name"], json.dumps(doc), now.isoformat())
    )


def cached_describes(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every cached describe() document."""
    return [json.loads(row[0]) for row in conn.execute("SELECT describe_json FROM catalog_objects")]
