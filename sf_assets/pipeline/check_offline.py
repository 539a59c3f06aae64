"""`sf-assets config check`: everything that can be checked before a refresh, without the network.

Checked: the schedule (cron and timezone, on load), that every secret environment variable is
set, every SOQL's syntax, the longest path the product writes (Windows MAX_PATH), and every dataset's
SQL run on **empty staged tables with the planned schema**, on both engines (SQLite and
Dask-SQL). The planned schema comes from the metadata catalog cached in the state DB; without
one, each object's columns are taken from its SOQL field list as text (names are checked, types
are not, and a ``SELECT *`` object cannot be checked): the report says so.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from sf_assets.config import ConfigError
from sf_assets.config.login_secrets import login_secrets
from sf_assets.config.models import JwtAuth, ObjectConfig, PipelineConfig
from sf_assets.schema.address import address_components, is_standard_address
from sf_assets.transform.engines import ENGINES, dataset_engine

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    """Errors (each one line naming its cause), warnings, what was checked and what could not be."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_secrets(config: PipelineConfig, env: Mapping[str, str], report: CheckReport) -> None:
    """An unset secret variable is a configuration error."""
    secrets = login_secrets(config.salesforce.auth)
    report.errors += [secret.unset for secret in secrets if not env.get(secret.env_var)]
    auth = config.salesforce.auth
    if isinstance(auth, JwtAuth) and not auth.private_key_file.is_file():
        report.errors.append(f"salesforce.auth.private_key_file {auth.private_key_file} does not exist")
    report.checked.append(f"secrets: {len(secrets)} environment variable(s) set")


def check_offline(config: PipelineConfig, env: Mapping[str, str] | None = None,
                  engines: tuple[str, ...] = tuple(ENGINES), *, plans: bool = True) -> CheckReport:
    """Run every offline check of `config` (reads the cached catalog; never writes, never the network).

    The dataset SQL runs on every engine of `engines` (all registered ones), so either can be chosen.
    `plans=False` leaves the fields and the dataset SQL to the online check, which has fresh describes.
    """
    from sf_assets.salesforce.soql import SoqlError, parse_soql
    from sf_assets.storage.path_budget import PATH_LIMIT, longest_path

    report = CheckReport(warnings=list(config.deprecations))
    report.checked.append(f"schedule: cron '{config.schedule.cron}' in {config.schedule.timezone}")
    try:
        engine = dataset_engine(config.transform.engine)
        report.checked.append(f"dataset engine: {engine.name} ({engine.label})")
    except ConfigError as exc:
        report.errors.append(str(exc))
    check_secrets(config, os.environ if env is None else env, report)
    queries = {}
    for obj in config.objects:
        try:
            queries[obj.name] = parse_soql(obj.soql)
        except SoqlError as exc:
            report.errors.append(f"objects.{obj.name}.soql: {exc}")
    report.checked.append(f"SOQL syntax of {len(config.objects)} object(s)")
    longest = longest_path(config)
    if not longest.ok:
        report.errors.append(f"a path of {longest.length} characters (limit {PATH_LIMIT}, Windows MAX_PATH): "
                             f"{longest.path}; shorten the folders under paths: or the object or dataset names")
    report.checked.append(f"longest path: {longest.length} characters (limit {PATH_LIMIT})")
    if (mapped := mapped_drive_warning(config)) is not None:
        report.warnings.append(mapped)
    if plans and len(queries) == len(config.objects):
        planned = _plans(config, queries, report)
        if planned is not None and config.datasets:
            check_dataset_sql(config, planned, engines, report)
    return report


def mapped_drive_warning(config: PipelineConfig) -> str | None:
    """A share given by drive letter (S:\\...) is warned unless `create_share_dir` says it is a local folder: the
    gateway's service account does not see a user's mapped drives, so Power BI needs the UNC path."""
    share = config.paths.share_dir
    drive = PureWindowsPath(str(share)).drive if share is not None else ""
    if len(drive) != 2 or config.paths.create_share_dir:
        return None
    return (f"paths.share_dir {share} is a drive letter: the Power BI gateway runs as a service whose account does "
            "not see mapped drives; give the UNC path (\\\\server\\share\\...) instead")


def _plans(config: PipelineConfig, queries: dict, report: CheckReport) -> dict | None:
    """Field plans from the cached catalog, else text-typed plans from each SOQL's field list."""
    from sf_assets.pipeline.catalog import load_cached_catalog
    from sf_assets.salesforce.catalog import CatalogError
    from sf_assets.salesforce.field_planning import FieldPlanError
    from sf_assets.storage.sqlite_util import connect_readonly

    catalog, plans = None, {}
    conn = connect_readonly(config.paths.state_db) if config.paths.state_db.exists() else None
    try:
        try:
            catalog = load_cached_catalog(conn) if conn is not None else None
        except (CatalogError, sqlite3.Error):
            catalog = None
        missing = [o.name for o in config.objects if catalog is None or o.name not in catalog]
        for obj in config.objects if not missing else ():
            try:
                plans[obj.name] = plan_with_history(config, obj, catalog, conn)
            except FieldPlanError as exc:
                report.errors.append(f"objects.{obj.name}: {exc} (per the cached metadata catalog; "
                                     "`sf-assets config check --online` asks Salesforce)")
                continue
            note_dropped(obj.name, plans[obj.name], report)
    finally:
        if conn is not None:
            conn.close()
    if not missing:
        report.checked.append("fields of every SOQL against the cached metadata catalog")
        return plans if len(plans) == len(config.objects) else None
    report.not_checked.append(
        f"field names and types against Salesforce: no cached catalog for {', '.join(missing)} "
        "(run `sf-assets config check --online` or one refresh)")
    star = [o.name for o in config.objects if "*" in queries[o.name].fields]
    if star:
        report.not_checked.append(f"SQL of the datasets reading {', '.join(star)} (SELECT *: columns unknown "
                                  "without a catalog)")
    report.not_checked.append("column types in dataset SQL (columns taken from the SOQL as text)")
    return {o.name: _text_plan(o, queries[o.name].fields) for o in config.objects if o.name not in star}


def plan_with_history(config: PipelineConfig, obj: ObjectConfig, catalog, conn: sqlite3.Connection | None):
    """The object's field plan under a refresh's drift rules (a field no refresh ever delivered is a typo: did you
    mean ...?), with the history in `conn`; a state DB of an older version (read-only: not migrated) has none."""
    from sf_assets.pipeline.field_plans import plan_object_fields

    try:
        return plan_object_fields(config, obj, catalog, conn, refresh_id="")
    except sqlite3.Error:
        return plan_object_fields(config, obj, catalog, None, refresh_id="")


def note_dropped(object_name: str, plan, report: CheckReport) -> None:
    """A field the refresh would drop (invalid, deprecated, base64) is a warning: it is not extracted."""
    for name, reason in plan.dropped:
        report.warnings.append(f"objects.{object_name}: field {name} will not be extracted ({reason}); "
                               "list it in critical_fields to make that an error")


def _text_plan(obj: ObjectConfig, fields: tuple[str, ...]):
    """Text columns named like the SOQL's fields; standard compound addresses expanded as Salesforce does."""
    from sf_assets.schema.field_plan import FieldPlan, PlannedColumn

    names = [part for name in fields for part in (address_components(name) if is_standard_address(name) else [name])]
    columns = [PlannedColumn(name=n, sf_type="string", kind="string", nullable=n.lower() != "id") for n in names]
    return FieldPlan(object_name=obj.name, columns=tuple(columns))


def check_dataset_sql(config: PipelineConfig, plans: dict, engines: tuple[str, ...], report: CheckReport) -> None:
    """Run every dataset's SQL on empty staged tables with the planned schema, on each engine."""
    unknown = [o.name for o in config.objects if o.name not in plans]
    datasets = [d for d in config.datasets if not any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", d.sql, re.I)
                                                      for n in unknown)]
    if not datasets:
        return
    quiet = [logging.getLogger(n) for n in ("sf_assets.transform", "sf_assets.storage", "distributed")]
    levels = [q.level for q in quiet]
    for q in quiet:  # the report carries each failure once
        q.setLevel(logging.CRITICAL)
    try:
        _run_on_empty_tables(config, plans, datasets, engines, report)
    finally:
        for q, level in zip(quiet, levels):
            q.setLevel(level)


def _run_on_empty_tables(config: PipelineConfig, plans: dict, datasets: list, engines: tuple[str, ...],
                         report: CheckReport) -> None:
    from sf_assets.storage.staging import stage_object
    from sf_assets.transform.datasets import build_datasets

    with tempfile.TemporaryDirectory(prefix="sf-assets-check-") as tmp:
        root = Path(tmp)
        db = root / "staging.db"
        for obj in config.objects:
            if obj.name in plans:
                stage_object(db, plans[obj.name], [], obj, config.staging)
        for engine in engines:
            with dataset_engine(engine).start(config, root, trial=True) as runner:
                result = build_datasets(datasets, db, root / engine, runner, retry_wait_s=0)
            for failed in result.results:
                if not failed.ok:
                    text = failed.error or "failed"
                    report.errors.append(f"datasets.{failed.name}: {text if len(text) <= 300 else text[:300] + '…'}")
        report.checked.append(f"SQL of {len(datasets)} dataset(s) on empty planned tables with "
                              f"{' and '.join(engines)}")
