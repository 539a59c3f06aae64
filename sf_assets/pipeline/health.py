"""Assemble and write the health JSON of a refresh from the state DB, the logs and the outputs."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sf_assets.config import PipelineConfig
from sf_assets.health import (
    DiskFree,
    FileInfo,
    HealthReport,
    Messages,
    PublishStatus,
    chunk_counts,
    disk_free,
    file_info,
    health_report_path,
    rows_per_object,
)
from sf_assets.health.report import LAST_MESSAGES
from sf_assets.health.writer import write_health_dict
from sf_assets.observability.logs import ROOT
from sf_assets.observability.redaction import redact
from sf_assets.salesforce.api_usage import ApiUsage, usage_from_limits
from sf_assets.storage.output_cleanup import delete_finished_chunk_files
from sf_assets.storage.run_processes import runs_of_refresh
from sf_assets.storage.files import atomic_write_text
from sf_assets.storage.refresh_facts import all_facts
from sf_assets.storage.state_db import state_session

log = logging.getLogger(__name__)


class MessageCollector(logging.Handler):
    """Collects the WARNING and ERROR lines of the `sf_assets` loggers while attached."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self._lock_messages = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the rendered message by level."""
        with self._lock_messages:
            (self.errors if record.levelno >= logging.ERROR else self.warnings).append(record.getMessage())

    def __enter__(self) -> MessageCollector:
        logging.getLogger(ROOT).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger(ROOT).removeHandler(self)


def _usage(value: dict[str, Any] | None) -> ApiUsage | None:
    return ApiUsage(int(value["api_used"]), int(value["api_max"])) if value else None


def _refresh_times(conn, refresh_id: str) -> tuple[datetime | None, datetime | None]:
    row = conn.execute("SELECT started_at, finished_at FROM refreshes WHERE refresh_id = ?", (refresh_id,)).fetchone()
    parse = lambda v: datetime.fromisoformat(v) if v else None  # noqa: E731
    return (parse(row[0]), parse(row[1])) if row else (None, None)


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` with what earlier writers of the same refresh recorded and `new` does not know (never degraded)."""
    merged = dict(new)
    merged["run_ids"] = list(dict.fromkeys([*old.get("run_ids", []), *new.get("run_ids", [])]))
    for key in ("errors", "warnings"):
        before, now = (old.get(key) or {}).get("last", []), (new.get(key) or {}).get("last", [])
        added = [m for m in now if m not in before]
        merged[key] = {"count": (old.get(key) or {}).get("count", 0) + len(added),
                       "last": [*before, *added][-LAST_MESSAGES:]}
    for key in ("published", "final_files", "sqlite", "api_usage_end", "api_usage_start", "outputs"):
        if not new.get(key) and old.get(key):
            merged[key] = old[key]
    return merged


def write_refresh_health(
    config: PipelineConfig,
    refresh_id: str,
    status: str,
    *,
    run_ids: Sequence[str] = (),
    messages: MessageCollector | None = None,
    errors: Sequence[str] = (),
    warnings: Sequence[str] = (),
    api_usage_end: ApiUsage | None = None,
    final_files: Sequence[FileInfo] = (),
    published: Sequence[PublishStatus] = (),
    sqlite_stats: dict[str, Any] | None = None,
) -> Path | None:
    """Write (merge into) `health_check_<refresh_id>.json`; never raises (a failure is logged and returns None).

    Start/end come from the state DB; what an earlier writer recorded (runs, errors, publish outcome,
    files, SQLite stats) is kept.
    """
    try:
        with state_session(config.paths.state_db) as conn:
            facts = all_facts(conn, refresh_id)
            rows, chunks = rows_per_object(conn, refresh_id), chunk_counts(conn, refresh_id)
            started_at, ended_at = _refresh_times(conn, refresh_id)
            run_ids = [*runs_of_refresh(conn, refresh_id), *run_ids]
        published = list(published) or [
            PublishStatus(Path(p["source"]), p["ok"], Path(p["path"]) if p.get("path") else None, p.get("error"))
            for p in facts.get("published", [])
        ]
        disk_start = {path: DiskFree(free_bytes=free) for path, free in (facts.get("disk_free_start") or {}).items()}
        report = HealthReport(
            refresh_id=refresh_id, status=status, started_at=started_at, ended_at=ended_at,
            run_ids=list(dict.fromkeys(run_ids)), rows_per_object=rows, chunks=chunks,
            errors=Messages.of([*errors, *(messages.errors if messages else [])]),
            warnings=Messages.of([*warnings, *(messages.warnings if messages else [])]),
            api_usage_start=_usage(facts.get("api_usage_start")), api_usage_end=api_usage_end,
            disk_free_start=disk_start, disk_free_end=disk_free([config.paths.work_dir, config.paths.output_dir]),
            dask=config.dask.model_dump(mode="json"), sqlite=sqlite_stats or {},
            final_files=list(final_files), published=published, outputs=facts.get("outputs") or {},
        )
        path = health_report_path(config.paths.output_dir, refresh_id)
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        data = _merged(old, report.to_dict())
    except Exception as exc:  # noqa: BLE001 - the health JSON must never fail the pipeline
        log.error("Could not assemble the health report of %s: %s", refresh_id, exc)
        return None
    return write_health_dict(data, config.paths.output_dir, refresh_id)


def _usage_now(config: PipelineConfig) -> ApiUsage | None:
    """API usage now (None when /limits cannot be read)."""
    from sf_assets.pipeline.emulator import open_connection

    try:
        connection = open_connection(config.salesforce)
        try:
            return usage_from_limits(connection.client().limits())
        finally:
            connection.close()
    except Exception as exc:  # noqa: BLE001 - the health JSON must not fail for this
        log.warning("Could not read API usage at the end of the refresh: %s", exc)
        return None


def finish_refresh_with_health(config: PipelineConfig, refresh_id: str, status: str, *, errors: Sequence[str] = (),
                               run_ids: Sequence[str] = (), messages: MessageCollector | None = None) -> Path | None:
    """End a refresh (`success` or `failed`) in the state DB and write its complete health JSON.

    Whoever ends a refresh calls this: the Power BI output step, `sf-assets run` on a failure, the
    failure sensor. A refresh that already succeeded keeps its status; later failures become warnings.
    """
    from sf_assets.extract.refresh import finish_refresh, refresh_status
    from sf_assets.pipeline.publish import current_files
    from sf_assets.storage.staging import staging_stats

    with state_session(config.paths.state_db) as conn:
        current = refresh_status(conn, refresh_id)
        if current in ("success", "superseded") and status != "success":
            return write_refresh_health(config, refresh_id, current, run_ids=run_ids,
                                        warnings=[f"after the refresh finished: {e}" for e in errors])
        finish_refresh(conn, refresh_id, status, {"failures": [redact(e) for e in errors]})
        if status == "success":
            delete_finished_chunk_files(config.paths.state_db)
            shutil.rmtree(config.paths.work_dir / "chunks" / refresh_id, ignore_errors=True)
    db = config.paths.staging_db
    return write_refresh_health(
        config, refresh_id, status, run_ids=run_ids, messages=messages, errors=errors,
        api_usage_end=_usage_now(config), final_files=[file_info(p) for p in current_files(config, refresh_id)],
        sqlite_stats=staging_stats(db) if db.exists() else {})


def publish_facts(statuses: Sequence[PublishStatus]) -> list[dict[str, Any]]:
    """Plain, redacted dicts of publish outcomes (for refresh facts and the health JSON)."""
    return [{"source": str(s.source), "ok": s.ok, "path": str(s.path) if s.path else None,
             "error": redact(s.error) if s.error else None} for s in statuses]


def record_publish(config: PipelineConfig, refresh_id: str, statuses: Sequence[PublishStatus]) -> Path | None:
    """Add the share-copy outcome to an existing health JSON (a publish run after the refresh); never raises."""
    path = health_report_path(config.paths.output_dir, refresh_id)
    if not path.exists():  # the refresh writes its health JSON after publishing: nothing to update yet
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["published"] = publish_facts(statuses)
        atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False))
    except (OSError, ValueError) as exc:
        log.error("Could not record the publish outcome in %s: %s", path, exc)
        return None
    return path
