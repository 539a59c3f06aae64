"""Field plans of every configured object, validated against the catalog and persisted."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from sf_assets.config.models import PipelineConfig
from sf_assets.logs import log_context
from sf_assets.salesforce.field_plan import FieldPlan, build_field_plan
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.salesforce.soql import parse_soql
from sf_assets.storage.field_mapping import save_plan

log = logging.getLogger(__name__)


def schema_dir(config: PipelineConfig) -> Path:
    """Folder of the per-object JSON schema files."""
    return config.paths.work_dir / "schemas"


def plan_objects(config: PipelineConfig, catalog: dict[str, ObjectMeta], conn: sqlite3.Connection) -> dict[str, FieldPlan]:
    """Build, log and store the field plan of each configured object (FieldPlanError on a critical field)."""
    plans = {}
    for obj in config.objects:
        with log_context(object=obj.name):
            plan = build_field_plan(
                parse_soql(obj.soql), catalog, obj.critical_fields, obj.join_keys, obj.type_overrides,
                decimals_as_float=config.output.decimals_as_float,
            )
            for field, reason in plan.dropped:
                log.warning("Field '%s' on %s is invalid or deprecated: dropped (%s)", field, obj.name, reason)
            if plan.star_fields:
                log.info("SELECT * on %s expanded to %d fields: %s", obj.name, len(plan.star_fields),
                         ", ".join(plan.star_fields))
            for warning in plan.warnings:
                log.warning(warning)
            save_plan(conn, plan, schema_dir(config))
            log.info("Planned %d columns of %s", len(plan.columns), obj.name)
            plans[obj.name] = plan
    return plans
