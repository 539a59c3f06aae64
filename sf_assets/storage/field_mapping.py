"""Persist field plans: the `field_mapping` table of the state DB and one JSON schema file per object."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.files import atomic_write_text
from sf_assets.storage.state_db import transaction


def save_plan(conn: sqlite3.Connection, plan: FieldPlan, schema_dir: Path) -> Path:
    """Store `plan` (replacing the object's previous mapping); returns the JSON schema file written."""
    now = datetime.now(timezone.utc).isoformat()
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
