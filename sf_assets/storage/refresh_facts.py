"""Small per-refresh facts kept in the state DB (throttled flag, usage and disk at start, ...)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any


def put_fact(conn: sqlite3.Connection, refresh_id: str, name: str, value: Any) -> None:
    """Store `value` (JSON-serializable) under `name` for the refresh."""
    conn.execute("INSERT OR REPLACE INTO refresh_facts VALUES (?, ?, ?)", (refresh_id, name, json.dumps(value)))


def get_fact(conn: sqlite3.Connection, refresh_id: str, name: str, default: Any = None) -> Any:
    """The stored value of `name`, or `default`."""
    row = conn.execute(
        "SELECT value_json FROM refresh_facts WHERE refresh_id = ? AND name = ?", (refresh_id, name)
    ).fetchone()
    return json.loads(row[0]) if row else default


def all_facts(conn: sqlite3.Connection, refresh_id: str) -> dict[str, Any]:
    """Every fact of the refresh, in the order they were last written."""
    rows = conn.execute("SELECT name, value_json FROM refresh_facts WHERE refresh_id = ? ORDER BY rowid",
                        (refresh_id,)).fetchall()
    return {name: json.loads(value) for name, value in rows}


HEALTH_PREFIX = "health:"
WARNING_PREFIX = "health_warning:"
ERROR_PREFIX = "health_error:"


def put_health(conn: sqlite3.Connection, refresh_id: str, section: str, value: Any,
               object_name: str | None = None) -> None:
    """Record a health-JSON section of the refresh: ``section`` (or ``section[object_name]``) becomes ``value``.

    The health JSON writer renders every such fact, whichever process writes the file.
    """
    name = f"{HEALTH_PREFIX}{section}" + (f":{object_name}" if object_name else "")
    put_fact(conn, refresh_id, name, value)


API_USAGE_LAST = "api_usage_last"


def record_api_usage(conn: sqlite3.Connection, refresh_id: str, usage: Mapping[str, Any]) -> None:
    """Record the API usage Salesforce last reported to the refresh (`ApiUsage.to_dict()`: used, max, pct and
    `at`, when in UTC); an older reading never replaces a newer one. The health JSON shows it as
    `api_usage_last`, the failure sensor's end usage."""
    name = f"{HEALTH_PREFIX}{API_USAGE_LAST}"
    if ((get_fact(conn, refresh_id, name) or {}).get("at") or "") > (usage.get("at") or ""):
        return
    put_fact(conn, refresh_id, name, dict(usage))


def last_api_usage(facts: dict[str, Any]) -> dict[str, Any] | None:
    """The usage `record_api_usage` recorded among a refresh's facts (`ApiUsage.to_dict()`'s shape), if any."""
    return facts.get(f"{HEALTH_PREFIX}{API_USAGE_LAST}")


def add_health_warning(conn: sqlite3.Connection, refresh_id: str, key: str, text: str) -> None:
    """Record one warning of the refresh under a stable ``key`` (the same key again replaces it, never doubles it)."""
    put_fact(conn, refresh_id, f"{WARNING_PREFIX}{key}", text)


def add_health_error(conn: sqlite3.Connection, refresh_id: str, key: str, text: str) -> None:
    """Record one error of the refresh under a stable ``key`` (the same key again replaces it, never doubles it)."""
    put_fact(conn, refresh_id, f"{ERROR_PREFIX}{key}", text)


def health_errors(facts: dict[str, Any]) -> dict[str, str]:
    """The keyed errors among a refresh's facts, oldest first."""
    return {name[len(ERROR_PREFIX):]: value for name, value in facts.items() if name.startswith(ERROR_PREFIX)}


def health_sections(facts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The health sections (``{section: value | {object: value}}``) and keyed warnings among a refresh's facts."""
    sections: dict[str, Any] = {}
    warnings: dict[str, str] = {}
    for name, value in facts.items():
        if name.startswith(WARNING_PREFIX):
            warnings[name[len(WARNING_PREFIX):]] = value
        elif name.startswith(HEALTH_PREFIX):
            section, _, object_name = name[len(HEALTH_PREFIX):].partition(":")
            if object_name:
                sections.setdefault(section, {})[object_name] = value
            else:
                sections[section] = value
    return sections, warnings
