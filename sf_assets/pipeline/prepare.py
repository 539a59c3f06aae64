"""Stage "prepare": preflight (disk, directories, share, API usage, row estimates) and the field plans."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sf_assets.config.models import ApiUsageConfig, ObjectConfig, PathsConfig, PipelineConfig, RetryConfig
from sf_assets.observability.logs import log_context
from sf_assets.pipeline.catalog import build_catalog
from sf_assets.pipeline.disk_forecast import DiskForecast, area_paths, drive_of, forecast_disk
from sf_assets.pipeline.field_plans import plan_object_fields, record_plan
from sf_assets.publish.units import human_bytes
from sf_assets.salesforce.api_usage import ApiUsage, usage_from_limits
from sf_assets.salesforce.catalog import sf_describer
from sf_assets.salesforce.counts import count_rows
from sf_assets.salesforce.errors import RefreshStop
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.salesforce.retry import call_with_retry
from sf_assets.salesforce.soql import parse_soql
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.deletion import delete_when_free, retry_pending_deletes
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.refresh_facts import add_health_warning, put_fact, record_api_usage
from sf_assets.storage.state_db import transaction

log = logging.getLogger(__name__)
GB = 10**9  # decimal, as `preflight.min_free_disk_gb` and every size in our messages (publish/units.py)


class PreflightError(RuntimeError):
    """A check failed: the refresh must not start. The message is one line naming the cause."""


@dataclass(frozen=True)
class DiskStatus:
    """Free and total space of the drive holding `path`."""

    path: Path
    free_bytes: int
    total_bytes: int

    @property
    def free_gb(self) -> float:
        """Free space in GiB."""
        return self.free_bytes / GB


@dataclass
class PreflightReport:
    """What preflight found; `throttled` means extraction runs one job at a time with slower polls."""

    api_usage: ApiUsage
    throttled: bool
    disks: list[DiskStatus]
    estimates: dict[str, int]
    needed_bytes: int  # beyond what the refresh's areas hold now, every drive together
    forecast: DiskForecast
    warnings: list[str] = field(default_factory=list)


def prepare_dirs(paths: PathsConfig) -> None:
    """Create work/output/log/state folders and prove each is writable."""
    folders = [paths.work_dir, paths.output_dir, paths.log_dir, paths.state_db.parent, paths.staging_db.parent]
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".write-probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"ok")
            delete_when_free(probe)
        except OSError as exc:
            raise PreflightError(f"directory {folder} is not writable: {exc.strerror or exc}") from None


def share_warning(share_dir: Path | None) -> str | None:
    """A warning when the configured share is not reachable (publishing will fail later)."""
    if share_dir is None:
        return None
    try:
        if share_dir.is_dir():
            return None
    except OSError:
        pass
    return f"Share {share_dir} is not reachable: publishing will fail until it is"


def disk_status(folders: Iterable[Path]) -> list[DiskStatus]:
    """Free and total space of each folder's drive."""
    usages = {f: shutil.disk_usage(f) for f in dict.fromkeys(folders)}
    return [DiskStatus(f, usage.free, usage.total) for f, usage in usages.items()]


def share_space_warning(share_dir: Path | None, needed: int) -> str | None:
    """A warning when the reachable share has less free space than the published files need."""
    try:
        free = shutil.disk_usage(share_dir).free if share_dir is not None and share_dir.is_dir() else None
    except OSError:
        return None
    if free is None or free >= needed:
        return None
    return (f"Share {share_dir} has {human_bytes(free)} free, the published files need about {human_bytes(needed)}: "
            "publishing will fail until space is freed there")


def drive_needs(forecast: DiskForecast, config: PipelineConfig) -> dict[str, dict[str, int]]:
    """Bytes each drive's areas will hold beyond what they hold now: {drive: {area: bytes}} (areas on one drive
    summed at their common largest moment)."""
    drives: dict[str, list[str]] = {}
    for area, paths in area_paths(config).items():
        drives.setdefault(drive_of(paths[0]), []).append(area)
    return {drive: forecast.growth(areas) for drive, areas in drives.items()}


def check_disk(needs: Mapping[str, Mapping[str, int]], free: Mapping[str, int], min_free_gb: float) -> None:
    """Raises when a drive's forecast (`needs`) plus the minimum exceeds its `free` bytes."""
    for drive, areas in needs.items():
        needed = sum(areas.values())
        if free[drive] < needed + min_free_gb * GB:
            parts = ", ".join(f"{area} {human_bytes(size)}" for area, size in areas.items())
            raise PreflightError(
                f"Not enough disk space: this refresh needs about {human_bytes(needed)} on {drive} ({parts}) plus "
                f"the {min_free_gb:.12g} GB minimum; {human_bytes(free[drive])} free")


def check_api_usage(
    read_usage: Callable[[], ApiUsage], policy: ApiUsageConfig, sleep: Callable[[float], None] = time.sleep
) -> tuple[ApiUsage, bool]:
    """(usage, throttled): halts at >= halt_pct; at >= warn_pct waits with backoff, then continues throttled."""
    usage = read_usage()
    log.info(usage.describe())
    wait = policy.wait_initial_s
    for attempt in range(policy.wait_attempts + 1):
        if usage.pct >= policy.halt_pct:
            raise PreflightError(
                f"API usage too high: {usage.describe()} is at or above the halt threshold of {policy.halt_pct:g} %"
            )
        if usage.pct < policy.warn_pct:
            return usage, False
        if attempt == policy.wait_attempts:
            break
        log.warning("%s is at or above the warn threshold of %g %%: waiting %.0f s (wait %d of %d)",
                    usage.describe(), policy.warn_pct, wait, attempt + 1, policy.wait_attempts)
        sleep(wait)
        wait *= 2
        usage = read_usage()
        log.info(usage.describe())
    log.warning("API usage still at or above %g %%: continuing throttled (one Bulk job at a time, slower polling)",
                policy.warn_pct)
    return usage, True


def estimate_rows(query: Callable[..., Mapping], objects: Iterable[ObjectConfig], retry: RetryConfig) -> dict[str, int]:
    """`SELECT COUNT()` of each object, respecting its WHERE (queryAll objects count deleted rows too)."""
    estimates = {}
    for obj in objects:
        parsed = parse_soql(obj.soql)
        estimates[obj.name] = count_rows(query, parsed.object_name, parsed.where, retry, include_deleted=obj.query_all)
        log.info("%s: about %s rows", obj.name, f"{estimates[obj.name]:,}")
    return estimates


def field_plans_for_forecast(sf: Any, config: PipelineConfig, conn: sqlite3.Connection,
                             refresh_id: str) -> dict[str, FieldPlan]:
    """Each object's field plan: the stored one, else (first refresh) planned now from describe(), which the
    catalog step then finds cached; an object that cannot be planned yet is left out (its field plan step says why)."""
    plans: dict[str, FieldPlan] = {}
    for obj in config.objects:
        with contextlib.suppress(KeyError):
            plans[obj.name] = load_plan(conn, obj.name)
    missing = [obj for obj in config.objects if obj.name not in plans]
    if not missing:
        return plans
    try:
        catalog = build_catalog(sf_describer(sf), missing, conn, ttl_hours=config.preflight.catalog_ttl_hours,
                                retry=config.retry)
        for obj in missing:
            plans[obj.name] = plan_object_fields(config, obj, catalog, conn, refresh_id)
    except RefreshStop:  # a daily limit, an expired token: the refresh stops now
        raise
    except Exception as exc:  # the catalog or field plan step fails on it next, with the line that names it
        log.debug("Disk forecast without the field plans of %s: %s", ", ".join(o.name for o in missing), exc)
    return plans


def run_preflight(sf: Any, config: PipelineConfig, conn: sqlite3.Connection, refresh_id: str,
                  sleep: Callable[[float], None] = time.sleep) -> PreflightReport:
    """Every preflight check, in order; raises PreflightError before any Bulk job is created."""
    prepare_dirs(config.paths)
    retry_pending_deletes(config.paths)  # what earlier refreshes could not delete (open in another program)
    if config.paths.create_share_dir and config.paths.share_dir is not None:
        config.paths.share_dir.mkdir(parents=True, exist_ok=True)
    warnings = [w for w in [share_warning(config.paths.share_dir)] if w]
    for warning in warnings:
        log.warning(warning)

    def read_usage() -> ApiUsage:
        return call_with_retry(lambda: usage_from_limits(sf.limits()), "read of /limits", config.retry)

    usage, throttled = check_api_usage(read_usage, config.api_usage, sleep)
    estimates = estimate_rows(sf.query, config.objects, config.retry)
    forecast = forecast_disk(config, conn, estimates, field_plans_for_forecast(sf, config, conn, refresh_id))
    needs = drive_needs(forecast, config)
    free = {drive: shutil.disk_usage(drive).free for drive in needs}
    with transaction(conn):  # in the health JSON of a refused refresh too
        put_fact(conn, refresh_id, "disk_forecast", {
            **forecast.to_dict(),
            "drives": {drive: {"needed_bytes": areas, "free_bytes": free[drive]} for drive, areas in needs.items()}})
    check_disk(needs, free, config.preflight.min_free_disk_gb)
    share = share_space_warning(config.paths.share_dir, forecast.share)
    if share:
        log.warning(share)
        warnings.append(share)
    disks = disk_status([config.paths.work_dir, config.paths.output_dir, config.paths.staging_db.parent])
    now = datetime.now(UTC).isoformat()
    with transaction(conn):
        conn.executemany(
            "INSERT OR REPLACE INTO object_estimates VALUES (?, ?, ?, ?)",
            [(refresh_id, name, rows, now) for name, rows in estimates.items()],
        )
        put_fact(conn, refresh_id, "throttled", throttled)
        put_fact(conn, refresh_id, "api_usage_start", usage.to_dict())
        record_api_usage(conn, refresh_id, usage.to_dict())
        put_fact(conn, refresh_id, "disk_free_start",
                 {str(d.path): {"free_bytes": d.free_bytes, "total_bytes": d.total_bytes} for d in disks})
        if share:
            add_health_warning(conn, refresh_id, "share_space", share)
    needed = sum(sum(areas.values()) for areas in needs.values())
    return PreflightReport(usage, throttled, disks, estimates, needed, forecast, warnings)


def schema_dir(config: PipelineConfig) -> Path:
    """Folder of the per-object JSON schema files."""
    return config.paths.work_dir / "schemas"


def plan_objects(config: PipelineConfig, catalog: dict[str, ObjectMeta], conn: sqlite3.Connection,
                 refresh_id: str) -> dict[str, FieldPlan]:
    """Build, log and store the field plan of each configured object under the drift rules (FieldPlanError on a
    critical field, a field no refresh delivered, a lossy retype or `on_missing_field: fail`)."""
    plans = {}
    for obj in config.objects:
        with log_context(object=obj.name):
            plan = plan_object_fields(config, obj, catalog, conn, refresh_id)
            for name, reason in plan.dropped:
                log.warning("Field '%s' on %s is invalid or deprecated: dropped (%s)", name, obj.name, reason)
                if not plan.star_fields:  # named in the SOQL (under SELECT * it was never asked for by name)
                    add_health_warning(conn, refresh_id, f"field_left_out:{obj.name}.{name}",
                                       f"{obj.name}.{name} is named in the SOQL but left out: {reason}")
            if plan.star_fields:
                log.info("SELECT * on %s expanded to %d fields: %s", obj.name, len(plan.star_fields),
                         ", ".join(plan.star_fields))
            for warning in plan.warnings:
                log.warning(warning)
            record_plan(conn, refresh_id, plan, schema_dir(config))
            log.info("Planned %d columns of %s", len(plan.columns), obj.name)
            plans[obj.name] = plan
    return plans
