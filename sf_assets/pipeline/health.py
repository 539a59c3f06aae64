"""The health JSON of a refresh, rendered whole from the state DB by each of its writers.

Every writer — the Power BI output step, `sf-assets run` on a failure, the failure sensor, the publish
run — calls `write_refresh_health` (through `finish_refresh_with_health` or `record_publish`): what it
knows is recorded in the state DB first, then the report is rendered from there and merged into the
file by `sf_assets.health.write_health` (one merge rule, one lock across processes).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sf_assets.config import PipelineConfig
from sf_assets.extract.refresh import refresh_status, refresh_times
from sf_assets.extract.tracker import rows_per_object
from sf_assets.health import (
    DiskFree,
    FileInfo,
    HealthReport,
    Messages,
    ObjectRows,
    PublishStatus,
    disk_free,
    file_info,
    upgrade_health,
    write_health,
)
from sf_assets.health.report import Status
from sf_assets.observability.logs import ROOT, log_context
from sf_assets.observability.redaction import redact
from sf_assets.pipeline.object_figures import chunk_counts, retried_chunks
from sf_assets.pipeline.plan import estimate
from sf_assets.pipeline.refresh_stop import stopped_since
from sf_assets.salesforce.api_usage import ApiUsage, usage_from_limits
from sf_assets.storage.refresh_facts import (
    add_health_error,
    add_health_warning,
    all_facts,
    health_errors,
    health_sections,
    last_api_usage,
    put_fact,
)
from sf_assets.storage.run_processes import runs_of_refresh
from sf_assets.storage.state_db import state_session, transaction

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
    return ApiUsage.from_dict(value) if value else None


@dataclass(frozen=True)
class EndOfRefresh:
    """What only the writer that ends a refresh measures."""

    api_usage: ApiUsage | None = None
    final_files: list[FileInfo] = field(default_factory=list)
    sqlite: dict[str, Any] = field(default_factory=dict)
    disk_free: dict[str, DiskFree] = field(default_factory=dict)


def _disk_start(value: dict[str, Any] | None) -> dict[str, DiskFree]:
    """Disk space at preflight; a state DB of the previous release holds free bytes only."""
    return {path: DiskFree(free_bytes=d) if isinstance(d, int) else DiskFree(d.get("free_bytes"), d.get("total_bytes"))
            for path, d in (value or {}).items()}


def _published(facts: dict[str, Any]) -> list[PublishStatus]:
    return [PublishStatus(Path(p["source"]), p["ok"], Path(p["path"]) if p.get("path") else None, p.get("error"))
            for p in facts.get("published") or []]


def _render(config: PipelineConfig, refresh_id: str, run_ids: Sequence[str], end: EndOfRefresh | None) -> dict:
    """The whole report of the refresh as the state DB knows it now, plus `end` when the refresh ends."""
    with state_session(config.paths.state_db) as conn:
        facts = all_facts(conn, refresh_id)
        status = cast(Status, refresh_status(conn, refresh_id) or "running")
        rows, chunks = rows_per_object(conn, refresh_id), chunk_counts(conn, refresh_id)
        retried = retried_chunks(conn, refresh_id)  # each a warning with its causes
        expected = {obj.name: estimate(conn, refresh_id, obj.name) for obj in config.objects}
        started_at, ended_at = refresh_times(conn, refresh_id)
        run_ids = [*runs_of_refresh(conn, refresh_id), *run_ids]
    sections, keyed_warnings = health_sections(facts)
    last = last_api_usage(facts)  # what Salesforce last reported: the end usage of a refresh that did not read it
    usage_end = (end.api_usage or _usage(last)) if end else None
    end = end or EndOfRefresh()
    report = HealthReport(
        refresh_id=refresh_id, status=status, started_at=started_at, ended_at=ended_at,
        run_ids=list(dict.fromkeys(run_ids)), rows_per_object=rows, chunks=chunks,
        objects={name: ObjectRows(expected.get(name), rows.get(name, 0)) for name in dict.fromkeys([*expected, *rows])},
        errors=Messages.of(list(dict.fromkeys(health_errors(facts).values()))),
        warnings=Messages.of(list(dict.fromkeys([*keyed_warnings.values(), *retried]))),
        api_usage_start=_usage(facts.get("api_usage_start")), api_usage_end=usage_end,
        disk_free_start=_disk_start(facts.get("disk_free_start")), disk_forecast=facts.get("disk_forecast"),
        disk_free_end=end.disk_free,
        dask={"engine": config.transform.engine, **config.dask.model_dump(mode="json")},  # the JSON's shape of before
        sqlite=end.sqlite, final_files=end.final_files,
        published=_published(facts), outputs=facts.get("outputs") or {}, sections=sections,
    )
    return upgrade_health(report.to_dict(), f"refresh {refresh_id} (recorded by an earlier release)")


def _key(text: str) -> str:
    """The key of an unkeyed message: the same text from any writer is one entry."""
    return "text:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def write_refresh_health(config: PipelineConfig, refresh_id: str, *, run_ids: Sequence[str] = (),
                         errors: Sequence[str] = (), warnings: Sequence[str] = (),
                         messages: MessageCollector | None = None, end: EndOfRefresh | None = None) -> Path | None:
    """Write the health JSON of a refresh: the one way every writer does it; never raises (a failure is logged).

    `errors` and `warnings` (and the lines `messages` collected) are recorded in the state DB first, as
    keyed facts beside those the stages recorded (`refresh_facts.add_health_warning`, `put_health`); the
    whole report is then rendered from the state DB and merged into the file (`health.write_health`),
    so a writer never loses what another process recorded.
    """
    errors = [*errors, *(messages.errors if messages else [])]
    warnings = [*warnings, *(messages.warnings if messages else [])]
    with log_context(refresh_id=refresh_id):  # a sensor writing it logs into the refresh's folder too
        try:
            with state_session(config.paths.state_db) as conn, transaction(conn):
                for text in errors:
                    add_health_error(conn, refresh_id, _key(text), redact(text))
                for text in warnings:
                    add_health_warning(conn, refresh_id, _key(text), redact(text))
        except Exception as exc:  # the health JSON must never fail the pipeline
            log.error("Could not record the errors and warnings of refresh %s: %s", refresh_id, redact(str(exc)))
        return write_health(config.paths.output_dir, refresh_id, lambda: _render(config, refresh_id, run_ids, end))


def _usage_now(config: PipelineConfig) -> ApiUsage | None:
    """API usage now (None when /limits cannot be read)."""
    from sf_assets.pipeline.emulator import open_connection

    try:
        connection = open_connection(config.salesforce)
        try:
            return usage_from_limits(connection.client().limits())
        finally:
            connection.close()
    except Exception as exc:  # the health JSON must not fail for this
        from sf_assets.health.causes import describe_error

        log.warning("Could not read API usage at the end of the refresh: %s", describe_error(exc))
        return None


def _end_of_refresh(config: PipelineConfig, refresh_id: str, read_usage: bool = True) -> EndOfRefresh:
    """API usage now (unless `read_usage` is off), the final files, the staging DB's figures and free disk space
    (what can be read of them)."""
    from sf_assets.pipeline.publish import current_files
    from sf_assets.storage.staging import staging_stats

    try:
        files = [file_info(p) for p in current_files(config, refresh_id)]
        sqlite = staging_stats(config.paths.staging_db) if config.paths.staging_db.exists() else {}
    except Exception as exc:  # the health JSON must not fail for this
        log.warning("Could not read the final files of refresh %s: %s", refresh_id, redact(str(exc)))
        files, sqlite = [], {}
    return EndOfRefresh(_usage_now(config) if read_usage else None, files, sqlite,
                        disk_free([config.paths.work_dir, config.paths.output_dir]))


def finish_refresh_with_health(config: PipelineConfig, refresh_id: str, status: str, *, errors: Sequence[str] = (),
                               run_ids: Sequence[str] = (), messages: MessageCollector | None = None,
                               read_usage: bool = True) -> Path | None:
    """End a refresh (`success` or `failed`) in the state DB and write its complete health JSON.

    Whoever ends a refresh calls this: the Power BI output step, `sf-assets run` on a failure, the
    failure sensor. A refresh that already succeeded keeps its status; later failures become warnings.
    With `read_usage` off (the failure sensor) no Salesforce connection is opened: the end usage is the
    last one the refresh recorded (`refresh_facts.record_api_usage`).
    """
    from sf_assets.extract.refresh import finish_refresh
    from sf_assets.pipeline.cleanup import clean_up_after_success  # the dataset build's imports: only when needed

    with state_session(config.paths.state_db) as conn:
        current = refresh_status(conn, refresh_id)
        if current in ("success", "superseded") and status != "success":
            return write_refresh_health(config, refresh_id, run_ids=run_ids,
                                        warnings=[f"after the refresh finished: {e}" for e in errors])
        finish_refresh(conn, refresh_id, status, {"failures": [redact(e) for e in errors]})
        stopped = status != "success" and stopped_since(conn, refresh_id) is not None  # no request after a stop
    with log_context(refresh_id=refresh_id):  # a sensor ending it logs into the refresh's folder too
        end = _end_of_refresh(config, refresh_id, read_usage=read_usage and not stopped)
        path = write_refresh_health(config, refresh_id, run_ids=run_ids, messages=messages, errors=errors, end=end)
        if status == "success":  # after the health JSON, and never raising: cleanup cannot fail a refresh
            clean_up_after_success(config, refresh_id)
    return path


def _publish_facts(statuses: Sequence[PublishStatus]) -> list[dict[str, Any]]:
    """Plain, redacted dicts of publish outcomes (for refresh facts and the health JSON)."""
    return [{"source": str(s.source), "ok": s.ok, "path": str(s.path) if s.path else None,
             "error": redact(s.error) if s.error else None} for s in statuses]


def record_publish(config: PipelineConfig, refresh_id: str, statuses: Sequence[PublishStatus]) -> Path | None:
    """Record the share-copy outcome of a refresh in the state DB (raises if it cannot) and its health JSON."""
    with state_session(config.paths.state_db) as conn:
        put_fact(conn, refresh_id, "published", _publish_facts(statuses))
    return write_refresh_health(config, refresh_id)
