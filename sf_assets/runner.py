"""The whole refresh, in-process, recorded in a Dagster instance: used by `sf-assets run` and the schedule.

Stages, each a Dagster run tagged with the refresh id: prepare (preflight → chunk plans), each
object's chunks of the current refresh (one single-run backfill per object), output (staging,
datasets, Power BI files) and — when launched from the CLI — the share copy. The health JSON is
written at the end, on success and on failure.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from sf_assets.assets.common import LAUNCHED_BY_TAG, REFRESH_TAG, state_db
from sf_assets.config import PipelineConfig
from sf_assets.config.models import EmulatorAuth
from sf_assets.extract.refresh import Refresh
from sf_assets.logs import log_context
from sf_assets.salesforce.api_usage import ApiUsage, usage_from_limits
from sf_assets.salesforce.connection import SalesforceConnection
from sf_assets.storage.refresh_lock import refresh_lock

log = logging.getLogger(__name__)


@dataclass
class RefreshOutcome:
    """What a refresh did: status, runs, failures, files."""

    refresh_id: str
    ok: bool
    started_at: datetime
    ended_at: datetime | None = None
    run_ids: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    health_path: Path | None = None


def ensure_dagster_home(config: PipelineConfig) -> Path:
    """$DAGSTER_HOME (made absolute), else the repository's dagster_home/ next to the config folder."""
    home = os.environ.get("DAGSTER_HOME")
    path = Path(home) if home else (config.source_file or Path.cwd()).parent.parent / "dagster_home"
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    found = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            data = event.step_failure_data
            text = (data.user_failure_data.description if data.user_failure_data else None) or (
                data.error.message if data.error else "failed")
            found.append(f"{event.step_key}: {text.strip().splitlines()[0]}")
    return found


def _interrupted(result: dg.ExecuteInProcessResult) -> bool:
    return any(
        event.is_step_failure and event.step_failure_data is not None and event.step_failure_data.error is not None
        and event.step_failure_data.error.cls_name == "DagsterExecutionInterruptedError"
        for event in result.all_events
    )


def _materialize(defs: dg.Definitions, keys: list[dg.AssetKey], instance: dg.DagsterInstance, tags: dict[str, str],
                 run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    wanted = set(keys)
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) and wanted & set(a.keys)]
    checks = [c for c in defs.asset_checks or [] if any(k.asset_key in wanted for k in c.check_keys)]
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # detail: the sf_assets log and the UI
    return dg.materialize([*assets, *checks], instance=instance, resources=defs.resources, tags=tags,
                          run_config={**quiet, **(run_config or {})}, raise_on_error=False, selection=keys)


def _usage_now(config: PipelineConfig) -> ApiUsage | None:
    """API usage at the end of the refresh (None when /limits cannot be read)."""
    try:
        return usage_from_limits(SalesforceConnection(config.salesforce).client().limits())
    except Exception as exc:  # noqa: BLE001 - the health JSON must not fail for this
        log.warning("Could not read API usage at the end of the refresh: %s", exc)
        return None


def _run_stages(defs: dg.Definitions, config: PipelineConfig, instance: dg.DagsterInstance, refresh: Refresh,
                tags: dict[str, str], outcome: RefreshOutcome, refresh_catalog: bool, publish: bool) -> None:
    """Prepare, each object's chunks, output, then (optionally) the share copy; stops at the first failed stage."""
    from sf_assets.assets.extract import chunk_partitions, object_asset_key
    from sf_assets.assets.output import POWERBI_OUTPUT, share_copy, staging_asset_key
    from sf_assets.definitions import PREPARE_ASSETS
    from sf_assets.storage.output_cleanup import remove_stale_files

    def run(stage: str, keys: list[dg.AssetKey], extra_tags: dict[str, str], run_config: dict | None = None) -> bool:
        result = _materialize(defs, keys, instance, {**tags, **extra_tags}, run_config)
        outcome.run_ids.append(result.run_id)
        if _interrupted(result):  # Dagster turned Ctrl+C into a step failure: stop the whole refresh
            raise KeyboardInterrupt
        if not result.success:
            outcome.failures.extend(_failures(result) or [f"{stage} failed"])
        return result.success

    log.info("Refresh %s %s", refresh.refresh_id, "resumed" if refresh.resumed else "started")
    for temp in ("chunks", "datasets"):  # leftovers of crashed or abandoned refreshes
        remove_stale_files(config.paths.work_dir / temp, config.output.cleanup_after_hours, keep=(refresh.refresh_id,))
    catalog_config = {"ops": {"metadata_catalog": {"config": {"force_refresh": refresh_catalog}}}}
    outcome.ok = run("prepare", [a.key for a in PREPARE_ASSETS], {}, catalog_config)
    if not outcome.ok:
        return
    for obj in config.objects:
        name = chunk_partitions(obj.name).name or ""
        keys = [k for k in instance.get_dynamic_partitions(name) if k.endswith(f"_{refresh.refresh_id}")]
        range_tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
        with log_context(object=obj.name):
            outcome.ok &= run(f"extract {obj.name}", [object_asset_key(obj.name)], range_tags)
    if not outcome.ok:
        return
    outcome.ok = run("output", [*(staging_asset_key(o.name) for o in config.objects), POWERBI_OUTPUT], {})
    if outcome.ok and publish and config.paths.share_dir is not None:
        outcome.ok = run("publish", [share_copy.key], {})


def _fail_runs_of_dead_drivers(config: PipelineConfig, instance: dg.DagsterInstance) -> None:
    """Runs a killed refresh driver of this state DB left "started": fail them and free their pool slots.

    Called under the refresh lock, so no live driver owns such a run; without this a kill during
    extraction keeps the `salesforce_bulk` slot claimed and every later refresh waits forever.
    """
    from sf_assets.assets.common import REFRESH_DRIVERS

    with state_db(config) as conn:
        ours = {r for (r,) in conn.execute("SELECT refresh_id FROM refreshes WHERE status = 'running'")}
    if not ours:
        return
    statuses = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=statuses, tags={LAUNCHED_BY_TAG: sorted(REFRESH_DRIVERS)}))
    for run in (r for r in runs if r.tags.get(REFRESH_TAG) in ours):
        log.warning("Run %s of a refresh that was killed is marked failed (its pool slots are freed)", run.run_id)
        instance.report_run_failed(run, message="its refresh process was killed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def execute_refresh(config: PipelineConfig, instance: dg.DagsterInstance, *, new_refresh: bool = False,
                    refresh_catalog: bool = False, launched_by: str = "cli", publish: bool = True) -> RefreshOutcome:
    """Run (or resume) a refresh through `instance`; writes the health JSON; never raises for a failed stage.

    Raises RefreshLocked when another refresh of the same state DB is running.
    """
    with refresh_lock(config.paths.state_db.parent / "refresh.lock"):
        _fail_runs_of_dead_drivers(config, instance)
        return _execute(config, instance, new_refresh, refresh_catalog, launched_by, publish)


def _execute(config: PipelineConfig, instance: dg.DagsterInstance, new_refresh: bool, refresh_catalog: bool,
             launched_by: str, publish: bool) -> RefreshOutcome:
    from sf_assets.definitions import build_definitions
    from sf_assets.extract.refresh import current_or_new_refresh, finish_refresh
    from sf_assets.health import file_info
    from sf_assets.refresh_health import MessageCollector, write_refresh_health
    from sf_assets.share import current_files
    from sf_assets.storage.staging import staging_stats
    from sf_assets.salesforce.emulator_target import connect_emulator
    from sf_assets.storage.output_cleanup import delete_finished_chunk_files

    with state_db(config) as conn:
        refresh = current_or_new_refresh(conn, config.extraction.resume_window_hours, force_new=new_refresh)
    outcome = RefreshOutcome(refresh.refresh_id, ok=True, started_at=datetime.now(timezone.utc))
    tags = {REFRESH_TAG: refresh.refresh_id, LAUNCHED_BY_TAG: launched_by}

    interrupted = False
    with log_context(refresh_id=refresh.refresh_id), MessageCollector() as messages:
        try:
            if isinstance(config.salesforce.auth, EmulatorAuth):
                connect_emulator(config.salesforce.auth, config.salesforce.api_version)
            defs = build_definitions(str(config.source_file))
            _run_stages(defs, config, instance, refresh, tags, outcome, refresh_catalog, publish)
        except (Exception, KeyboardInterrupt) as exc:  # recorded and reported in the health JSON, never half-silent
            log.error("Refresh %s stopped: %s", refresh.refresh_id, exc or type(exc).__name__)
            outcome.ok = False
            outcome.failures.append(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            interrupted = isinstance(exc, KeyboardInterrupt)
        outcome.ended_at = datetime.now(timezone.utc)
        status = "success" if outcome.ok else "failed"
        with state_db(config) as conn:
            finish_refresh(conn, refresh.refresh_id, status, {"runs": outcome.run_ids, "failures": outcome.failures})
        if outcome.ok:
            delete_finished_chunk_files(config.paths.state_db)
            shutil.rmtree(config.paths.work_dir / "chunks" / refresh.refresh_id, ignore_errors=True)
        outcome.health_path = write_refresh_health(
            config, refresh.refresh_id, status, started_at=refresh.started_at, ended_at=outcome.ended_at,
            run_ids=outcome.run_ids, messages=messages, errors=outcome.failures, api_usage_end=_usage_now(config),
            final_files=[file_info(p) for p in current_files(config, refresh.refresh_id)],
            sqlite_stats=staging_stats(config.paths.staging_db) if config.paths.staging_db.exists() else {})
    if interrupted:
        raise KeyboardInterrupt
    return outcome
