"""Persist field plans: the `field_mapping` table of the state DB and one JSON schema file per object, and the plan
each refresh used (`refresh_field_plans`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.files import atomic_write_text
from sf_assets.storage.state_db import transaction


def save_plan(conn: sqlite3.Connection, plan: FieldPlan, schema_dir: Path) -> Path:
    """Store `plan` (replacing the object's previous mapping); returns the JSON schema file written."""
    now = datetime.now(UTC).isoformat()
    plan_json = plan.to_json()
    rows = [
        (plan.object_name, c.name, i, c.sf_type, str(c.arrow_type), c.pandas_dtype, c.sqlite_type, int(c.nullable),
         plan_json if i == 0 else "", now)
        for i, c in enumerate(plan.columns)
    ]
    with transaction(conn):
        conn.execute("DELETE FROM field_mapping WHERE object = ?", (plan.object_name,))
        conn.executemany("INSERT INTO field_mapping VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    path = schema_dir / f"{plan.object_name}.schema.json"
    atomic_write_text(path, plan_json)
    return path


def load_plan(conn: sqlite3.Connection, object_name: str) -> FieldPlan:
    """The stored plan of `object_name` (KeyError when the field plans were never built)."""
    row = conn.execute(
        "SELECT plan_json FROM field_mapping WHERE object = ? AND position = 0", (object_name,)
    ).fetchone()
    if row is None:
        raise KeyError(f"no field plan stored for {object_name}: materialize field_plans first")
    return FieldPlan.from_dict(json.loads(row[0]))


def record_refresh_plan(conn: sqlite3.Connection, refresh_id: str, plan: FieldPlan) -> None:
    """Record `plan` as the one the refresh uses for its object (replacing an earlier plan of the same refresh)."""
    with transaction(conn):
        conn.execute("INSERT OR REPLACE INTO refresh_field_plans VALUES (?, ?, ?, ?)",
                     (refresh_id, plan.object_name, plan.to_json(), datetime.now(UTC).isoformat()))


def refresh_plan(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> FieldPlan | None:
    """The plan the refresh recorded for `object_name`, if any."""
    row = conn.execute("SELECT plan_json FROM refresh_field_plans WHERE refresh_id = ? AND object = ?",
                       (refresh_id, object_name)).fetchone()
    return FieldPlan.from_json(row[0]) if row else None


def successful_plans(conn: sqlite3.Connection, object_name: str,
                     successful: Sequence[str]) -> list[tuple[str, FieldPlan]]:
    """(refresh id, plan) of the object in the `successful` refreshes (newest first) that recorded one, in order.

    A state DB from before plans were recorded per refresh gives the stored plan under the newest of them.
    """
    recorded = dict(conn.execute("SELECT refresh_id, plan_json FROM refresh_field_plans WHERE object = ?",
                                 (object_name,)).fetchall())
    plans = [(rid, FieldPlan.from_json(recorded[rid])) for rid in successful if rid in recorded]
    if plans or not successful:
        return plans
    try:
        return [(successful[0], load_plan(conn, object_name))]
    except KeyError:
        return []
