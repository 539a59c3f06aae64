"""The field plan of each object in a refresh: planned against what earlier refreshes delivered (the drift rules of
`salesforce.field_drift`), stored, recorded as the refresh's plan, and its schema changes reported.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sf_assets.config.models import ObjectConfig, PipelineConfig
from sf_assets.extract.refresh import successful_refreshes
from sf_assets.salesforce.field_drift import DriftRules, schema_changes
from sf_assets.salesforce.field_planning import build_field_plan
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.salesforce.soql import parse_soql
from sf_assets.schema.field_plan import FieldPlan, PlannedColumn
from sf_assets.storage.field_mapping import record_refresh_plan, refresh_plan, save_plan, successful_plans
from sf_assets.storage.refresh_facts import add_health_warning, put_health

log = logging.getLogger(__name__)


def _history(conn: sqlite3.Connection, object_name: str, refresh_id: str) -> list[tuple[str, FieldPlan]]:
    """(refresh id, plan) of the object in the successful refreshes other than `refresh_id`, newest first."""
    return successful_plans(conn, object_name, successful_refreshes(conn, other_than=refresh_id))


def drift_rules(conn: sqlite3.Connection | None, refresh_id: str, config: PipelineConfig,
                obj: ObjectConfig) -> DriftRules:
    """What earlier successful refreshes (and this refresh's own plan) planned for `obj`, with its configured rules."""
    history = _history(conn, obj.name, refresh_id) if conn is not None else []
    current = refresh_plan(conn, refresh_id, obj.name) if conn is not None else None
    known: dict[str, PlannedColumn] = {}
    for plan in [p for _, p in reversed(history)] + ([current] if current else []):
        known.update({c.name.lower(): c for c in plan.columns})
    streak: dict[str, int] = {}
    for name in known:
        count = 0
        for _, plan in history:
            column = next((c for c in plan.columns if c.name.lower() == name), None)
            if column is None or not column.absent:
                break
            count += 1
        streak[name] = count
    previous = history[0][1] if history else None
    return DriftRules(known, streak, previous.column_names if previous else (),
                      obj.on_missing_field or config.drift.on_missing_field, config.drift.keep_removed_refreshes)


def plan_object_fields(config: PipelineConfig, obj: ObjectConfig, catalog: Mapping[str, ObjectMeta],
                       conn: sqlite3.Connection | None, refresh_id: str) -> FieldPlan:
    """The field plan of `obj` under the drift rules (FieldPlanError, UnknownFieldError: one line)."""
    return build_field_plan(parse_soql(obj.soql), catalog, obj.critical_fields, obj.join_keys, obj.type_overrides,
                            decimals_as_float=config.output.decimals_as_float,
                            drift=drift_rules(conn, refresh_id, config, obj))


def record_plan(conn: sqlite3.Connection, refresh_id: str, plan: FieldPlan, schema_dir: Path,
                replanned: Mapping[str, Any] | None = None) -> None:
    """Store `plan` as the refresh's plan of its object, warn about fields kept all null or dropped, and report the
    object's `schema_changes` (since the last successful refresh) in the health JSON."""
    history = _history(conn, plan.object_name, refresh_id)
    previous_id, previous = history[0] if history else (None, None)
    save_plan(conn, plan, schema_dir)
    record_refresh_plan(conn, refresh_id, plan)
    changes = schema_changes(previous, plan)
    name = plan.object_name
    for field in changes["kept_null"]:
        _warn(conn, refresh_id, f"field_missing:{name}.{field}",
              f"{name}.{field} is no longer delivered by Salesforce (deleted, renamed or hidden by a permission "
              "change): kept as an all-null column of its last type")
    for field in changes["dropped"]:
        _warn(conn, refresh_id, f"field_dropped:{name}.{field}",
              f"{name}.{field} is no longer delivered by Salesforce: dropped from the output after being kept all "
              "null" if previous and any(c.absent and c.name == field for c in previous.columns) else
              f"{name}.{field} was in the last successful refresh and is no longer extracted")
    for change in changes["retyped"]:
        log.warning("%s.%s changed type in Salesforce from %s to %s: kept as %s", name, change["field"],
                    change["from"], change["to"], change["column_type"])
    if changes["added"]:
        log.info("%s: field(s) extracted for the first time: %s", name, ", ".join(changes["added"]))
    put_health(conn, refresh_id, "schema_changes",
               {**changes, "since_refresh": previous_id, **(dict(replanned) if replanned else {})}, name)


def _warn(conn: sqlite3.Connection, refresh_id: str, key: str, text: str) -> None:
    log.warning(text)
    add_health_warning(conn, refresh_id, key, text)
