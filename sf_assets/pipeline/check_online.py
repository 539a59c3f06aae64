"""`sf-assets config check --online`: log in, describe, validate every SOQL and field, read /limits.

It never creates a Bulk job: each extraction SOQL (the exact text a chunk job would run, without
its Id range) is validated by a REST query with ``LIMIT 1``, which Salesforce parses and checks
like the Bulk job would (unknown fields give INVALID_FIELD, syntax errors MALFORMED_QUERY). The
fresh describes also give the dataset SQL check its real planned schema. Nothing is written to
the state DB: the describes are held in memory.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sf_assets.config.models import PipelineConfig
from sf_assets.pipeline.check_offline import CheckReport, check_dataset_sql, note_dropped, plan_with_history
from sf_assets.transform.engines import ENGINES

log = logging.getLogger(__name__)


def check_online(config: PipelineConfig, report: CheckReport, engines: tuple[str, ...] = tuple(ENGINES)) -> None:
    """Add the online checks to `report` (errors are one line each, naming the object or field)."""
    from sf_assets.health.causes import describe_error
    from sf_assets.pipeline.catalog import build_catalog
    from sf_assets.pipeline.emulator import open_connection
    from sf_assets.salesforce.api_usage import usage_from_limits
    from sf_assets.salesforce.catalog import CatalogError, sf_describer
    from sf_assets.salesforce.field_planning import FieldPlanError
    from sf_assets.salesforce.retry import describe_cause
    from sf_assets.salesforce.soql import compose_extraction_soql
    from sf_assets.storage.sqlite_util import connect_readonly
    from sf_assets.storage.state_db import open_state_db

    started = time.perf_counter()
    connection = open_connection(config.salesforce)
    try:
        try:  # the first request proves the URL, TLS, the proxy and the session (a bare token is only sent here)
            sf = connection.client()
            usage = usage_from_limits(sf.limits())
        except Exception as exc:  # one line with the cause and its fix
            report.errors.append(f"login failed: {describe_error(exc)}")
            return
        report.checked.append(f"login ({config.salesforce.auth.kind}) to {connection.instance_url}")
        memory = open_state_db(Path(":memory:"))
        try:
            catalog = build_catalog(sf_describer(sf), config.objects, memory, ttl_hours=0, retry=config.retry,
                                    force_refresh=True)
        except CatalogError as exc:
            report.errors.append(describe_error(exc))
            return
        finally:
            memory.close()
        report.checked.append(f"describe of {len(catalog)} object(s)")
        plans = {}
        state = connect_readonly(config.paths.state_db) if config.paths.state_db.exists() else None
        for obj in config.objects:
            try:
                plan = plan_with_history(config, obj, catalog, state)
            except FieldPlanError as exc:
                report.errors.append(f"objects.{obj.name}: {exc}")
                continue
            note_dropped(obj.name, plan, report)
            soql = compose_extraction_soql(plan.query_column_names, plan.object_name, plan.where) + " LIMIT 1"
            try:
                sf.query(soql)
            except Exception as exc:  # every rejection becomes one line naming the object
                report.errors.append(f"objects.{obj.name}.soql rejected by Salesforce: {describe_cause(exc)}"
                                     f"{_message(exc)}")
                continue
            plans[obj.name] = plan
        if state is not None:
            state.close()
        report.checked.append(f"every SOQL and field validated by Salesforce ({len(plans)} of {len(config.objects)})")
        report.checked.append(f"/limits: {usage}")
        if config.datasets and len(plans) == len(config.objects):
            check_dataset_sql(config, plans, engines, report)
        elif config.datasets:
            report.not_checked.append("dataset SQL: fix the objects above first")
    finally:
        connection.close()
    log.info("Online check in %.1f s", time.perf_counter() - started)
    report.checked.append(f"online checks in {time.perf_counter() - started:.1f} s, no Bulk job created")


def _message(exc: BaseException) -> str:
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict) and content[0].get("message"):
        lines = [line for line in str(content[0]["message"]).splitlines() if line.strip()]  # after SOQL and caret
        return ": " + lines[-1][:300] if lines else ""
    return ""
