"""Assemble and write the health JSON of a refresh from the state DB, the logs and the outputs."""

from __future__ import annotations

import json
import logging
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
    health_report_path,
    rows_per_object,
    write_health_report,
)
from sf_assets.logs import ROOT
from sf_assets.redaction import redact
from sf_assets.salesforce.api_usage import ApiUsage
from sf_assets.storage.files import atomic_write_text
from sf_assets.storage.refresh_facts import all_facts
from sf_assets.storage.state_db import open_state_db

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


def write_refresh_health(
    config: PipelineConfig,
    refresh_id: str,
    status: str,
    *,
    started_at: datetime | None,
    ended_at: datetime | None,
    run_ids: Sequence[str] = (),
    messages: MessageCollector | None = None,
    errors: Sequence[str] = (),
    api_usage_end: ApiUsage | None = None,
    final_files: Sequence[FileInfo] = (),
    published: Sequence[PublishStatus] = (),
    sqlite_stats: dict[str, Any] | None = None,
) -> Path | None:
    """Write `health_check_<refresh_id>.json`; never raises (a failure is logged and returns None)."""
    try:
        conn = open_state_db(config.paths.state_db)
        try:
            facts = all_facts(conn, refresh_id)
            rows, chunks = rows_per_object(conn, refresh_id), chunk_counts(conn, refresh_id)
        finally:
            conn.close()
        published = list(published) or [
            PublishStatus(Path(p["source"]), p["ok"], Path(p["path"]) if p.get("path") else None, p.get("error"))
            for p in facts.get("published", [])
        ]
        disk_start = {path: DiskFree(free_bytes=free) for path, free in (facts.get("disk_free_start") or {}).items()}
        report = HealthReport(
            refresh_id=refresh_id, status=status, started_at=started_at, ended_at=ended_at, run_ids=list(run_ids),
            rows_per_object=rows, chunks=chunks,
            errors=Messages.of([*errors, *(messages.errors if messages else [])]),
            warnings=Messages.of(messages.warnings if messages else []),
            api_usage_start=_usage(facts.get("api_usage_start")), api_usage_end=api_usage_end,
            disk_free_start=disk_start, disk_free_end=disk_free([config.paths.work_dir, config.paths.output_dir]),
            dask=config.dask.model_dump(mode="json"), sqlite=sqlite_stats or {},
            final_files=list(final_files), published=published,
        )
    except Exception as exc:  # noqa: BLE001 - the health JSON must never fail the pipeline
        log.error("Could not assemble the health report of %s: %s", refresh_id, exc)
        return None
    return write_health_report(report, config.paths.output_dir)


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


def finish_ui_refresh(config: PipelineConfig, refresh_id: str, run_id: str, failed: dict[str, str]) -> Path | None:
    """End a refresh driven from the UI (its last stage ran): record the status and write the health JSON."""
    from sf_assets.extract.refresh import finish_refresh

    status = "failed" if failed else "success"
    conn = open_state_db(config.paths.state_db)
    try:
        finish_refresh(conn, refresh_id, status, {"runs": [run_id], "failures": list(failed.values())})
    finally:
        conn.close()
    return write_refresh_health(config, refresh_id, status, started_at=None, ended_at=None, run_ids=[run_id],
                                errors=[f"{name}: {why}" for name, why in failed.items()])
