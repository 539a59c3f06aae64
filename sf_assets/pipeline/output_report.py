"""What a built dataset version means for a Power BI model, recorded for the refresh's health JSON: the values
Power BI keeps with fewer digits (`precision_loss`) and the columns that change against the current output
(`schema_changes["dataset/<name>"]`). Dagster-free.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from sf_assets.config import PipelineConfig
from sf_assets.storage.output import BuiltVersion
from sf_assets.storage.output_columns import column_changes, current_columns
from sf_assets.storage.output_precision import POWERBI_DOUBLE_DIGITS
from sf_assets.storage.refresh_facts import add_health_warning, put_health
from sf_assets.storage.state_db import state_session

log = logging.getLogger(__name__)


def record_built_version(config: PipelineConfig, refresh_id: str, version: BuiltVersion) -> None:
    """Record the version's `precision_loss` (every dataset: ``{}`` when nothing is lost) with a warning naming the
    way out, and its column changes against the dataset's current output (when there are any)."""
    name = version.dataset
    lost: dict[str, dict[str, Any]] = version.manifest.get("precision_loss", {})
    current = current_columns(config.paths.output_dir, name)
    since, changes = (current[0], column_changes(current[1], version.manifest["schema"])) \
        if current and current[0] != refresh_id else (None, {})
    with state_session(config.paths.state_db) as conn:
        put_health(conn, refresh_id, "precision_loss", lost, name)
        if lost:
            text = precision_warning(name, lost)
            log.warning(text)
            add_health_warning(conn, refresh_id, f"precision_loss:{name}", text)
        if changes:
            put_health(conn, refresh_id, "schema_changes", {**changes, "since_refresh": since}, f"dataset/{name}")
            _report_changes(conn, refresh_id, name, changes)


def precision_warning(dataset: str, lost: dict[str, dict[str, Any]]) -> str:
    """One line: which columns of ``dataset`` hold values Power BI keeps with fewer digits, and the ways out."""
    columns = ", ".join(f"{column} ({c['values']}, e.g. {c['example']})" for column, c in lost.items())
    return (f"{dataset}: values with more than {POWERBI_DOUBLE_DIGITS} significant digits in {columns}: Power BI "
            f"keeps {POWERBI_DOUBLE_DIGITS} of them as a Decimal number (the file holds them exactly); to carry "
            "them exactly, give the field a type_overrides entry 'string' (Text in Power BI), or write doubles "
            "in the file too with output.decimals_as_float: true")


def _report_changes(conn: sqlite3.Connection, refresh_id: str, dataset: str, changes: dict[str, Any]) -> None:
    parts = [f"{what} {', '.join(changes[what])}" for what in ("added", "removed") if changes[what]]
    parts += [f"retyped {c['column']} ({c['from']} -> {c['to']})" for c in changes["retyped"]]
    parts += ["column order changed"] if changes["reordered"] else []
    text = f"dataset {dataset}: its columns change for Power BI models: {'; '.join(parts)}"
    if changes["removed"] or changes["retyped"] or changes["reordered"]:
        log.warning(text)
        add_health_warning(conn, refresh_id, f"dataset_columns:{dataset}", text)
    else:
        log.info(text)
