"""`sf-assets run`: a whole refresh with no daemon or webserver, as the same named stage jobs the UI shows.

Each stage (prepare_job, one extract job per object over all its chunk keys, output_job, publish_job)
executes in this process against the instance, tagged with the refresh id, so the runs appear in the UI.
After the field plans, each object's chunk plan and extract job run one after the other, and the objects at the
same time, `2 x extraction.max_concurrent_jobs` at once (the Bulk job cap itself is the job slots every run shares);
Ctrl+C reaches the main thread only, which cancels every open extraction and waits for their jobs to be aborted.
Dead runs (a killed earlier `sf-assets run` or run worker) are failed and their pool slots freed first.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from sf_assets.config import PipelineConfig
from sf_assets.config.models import EmulatorAuth, ObjectConfig
from sf_assets.defs.build import build_definitions
from sf_assets.defs.context import lock_path, state_db
from sf_assets.defs.dagster_internals import (
    fail_run,
    free_pool_slots,
    partition_range_tags,
    pool_slot_holders,
    runs_may_share_a_process,
    runs_on_threads,
)
from sf_assets.defs.errors import interrupted, needs_fix_first, step_failure_lines
from sf_assets.defs.extract import chunk_plans
from sf_assets.defs.jobs import OUTPUT_JOB, PREPARE_BEFORE_CHUNKS, PREPARE_JOB, extract_job_name
from sf_assets.defs.partitions import IN_PROGRESS, chunk_keys
from sf_assets.defs.tags import CLI_LAUNCHER, LAUNCHED_BY_TAG, PID_TAG, POOL, REFRESH_TAG, UI_LAUNCHED_BY_TAG
from sf_assets.extract.refresh import (
    Refresh,
    current_or_new_refresh,
    latest_refresh_id,
    refresh_started_at,
    refresh_status,
)
from sf_assets.health.causes import explain
from sf_assets.observability.logs import log_context
from sf_assets.pipeline.health import MessageCollector, finish_refresh_with_health
from sf_assets.pipeline.plan import cancel_open_extractions
from sf_assets.pipeline.refresh_stop import stopped_since
from sf_assets.storage.process_liveness import process_alive
from sf_assets.storage.refresh_facts import get_fact
from sf_assets.storage.refresh_lock import refresh_lock
from sf_assets.storage.run_processes import dead_runs
from sf_assets.storage.state_db import state_session

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
    stop: str | None = None  # the line of a stop at once (a daily limit, an expired access token)
    fix_first: bool = False  # a configuration or credential error: running again cannot help (exit 2)


def ensure_dagster_home(config: PipelineConfig) -> Path:
    """$DAGSTER_HOME (made absolute), else `dagster_home/` beside the config folder (the repository layout)."""
    home = os.environ.get("DAGSTER_HOME")
    base = config.source_file.parent.parent if config.source_file else Path.cwd()
    path = Path(home) if home else base / "dagster_home"
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def runs_without_process(instance: dg.DagsterInstance, config: PipelineConfig) -> list[dg.DagsterRun]:
    """In-progress runs (queued ones aside) whose process is gone: killed or crashed, never to report back."""
    records = instance.get_run_records(
        dg.RunsFilter(statuses=[s for s in IN_PROGRESS if s != dg.DagsterRunStatus.QUEUED]))
    with state_db(config) as conn:
        recorded_dead = set(dead_runs(conn, [r.dagster_run.run_id for r in records]))
    return [r.dagster_run for r in records if r.dagster_run.run_id in recorded_dead or _cli_process_gone(r)]


def _cli_process_gone(record: dg.RunRecord) -> bool:
    """A run executed by an `sf-assets run` process (its pid tagged) whose process is gone. That process created the
    run, so it had started by the run's creation: a pid taken over by a later process reads as gone."""
    pid = record.dagster_run.tags.get(PID_TAG)
    if not pid:
        return False
    return not process_alive(int(pid), record.create_timestamp.timestamp())


def reap_dead_runs(instance: dg.DagsterInstance, config: PipelineConfig) -> list[str]:
    """Mark failed every in-progress run whose process is gone and free its pool slots; free slots of ended runs."""
    reaped = []
    for run in runs_without_process(instance, config):
        fail_run(instance, run, "its process is gone (killed or crashed): marked failed by sf-assets run")
        free_pool_slots(instance, run.run_id)
        reaped.append(run.run_id)
        log.warning("Run %s (%s) had no live process: marked failed, its pool slots freed", run.run_id, run.job_name)
    for holder in pool_slot_holders(instance, POOL):
        holder_run = instance.get_run_by_id(holder)
        if holder_run is None or holder_run.is_finished:
            free_pool_slots(instance, holder)
            log.warning("Freed pool slot %s held by finished run %s", POOL, holder)
    return reaped


def _say_who_holds_the_pool(instance: dg.DagsterInstance) -> None:
    holders = pool_slot_holders(instance, POOL)
    if holders:
        message = f"Waiting for a '{POOL}' pool slot held by run(s) {', '.join(holders)}"
        log.warning(message)
        print(message, flush=True)


class _Stages:
    """Executes stage jobs in-process, collecting run ids and one-line failures."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, state_db_path: Path,
                 tags: dict[str, str], outcome: RefreshOutcome) -> None:
        self.defs, self.instance, self.tags, self.outcome = defs, instance, tags, outcome
        self.state_db_path = state_db_path
        self._lock = threading.Lock()  # stages of several objects run on threads

    def run(self, job_name: str, extra_tags: dict[str, str] | None = None, run_config: dict | None = None,
            assets: list[dg.AssetKey] | None = None) -> bool:
        quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}  # detail: the sf_assets log and the UI
        result = self.defs.resolve_job_def(job_name).execute_in_process(
            instance=self.instance,
            tags={**self.tags, **(extra_tags or {})},
            run_config={**quiet, **(run_config or {})},
            raise_on_error=False,
            asset_selection=assets,
        )
        with self._lock:
            self.outcome.run_ids.append(result.run_id)
        if interrupted(result.all_events):  # Dagster turned Ctrl+C into a step failure: stop the whole refresh
            raise KeyboardInterrupt
        with self._lock:
            if not result.success and self.outcome.stop is not None:  # another object's run stopped the refresh
                log.warning("%s failed after the refresh was stopped: %s", job_name,
                            "; ".join(step_failure_lines(result.all_events)))  # the stop's one line says it all
            elif not result.success:
                self.outcome.failures.extend(step_failure_lines(result.all_events) or [f"{job_name} failed"])
                self.outcome.fix_first |= needs_fix_first(result.all_events)
                self.outcome.stop = self.outcome.stop or self._stop_line()
        return result.success

    def _stop_line(self) -> str | None:
        """The line of a stop at once (a daily limit, an expired access token) of this run's stages, if any."""
        with state_session(self.state_db_path) as conn:
            return stopped_since(conn, self.outcome.refresh_id, self.outcome.started_at)


def _run_stages(stages: _Stages, config: PipelineConfig, refresh_catalog: bool, publish: bool) -> bool:
    catalog = {"ops": {"metadata_catalog": {"config": {"force_refresh": refresh_catalog}}}}
    if not stages.run(PREPARE_JOB, run_config=catalog, assets=PREPARE_BEFORE_CHUNKS):
        return False
    if not _extract_objects(stages, config) or not stages.run(OUTPUT_JOB):
        return False
    return not (publish and config.paths.share_dir is not None) or stages.run("publish_job")


def _extract_objects(stages: _Stages, config: PipelineConfig) -> bool:
    """Every object's chunk plan and extract job, `2 x max_concurrent_jobs` objects at once: while one object is
    planned or its jobs are processed by Salesforce, another's pages download. A stop at once (a daily limit) cancels
    the others and starts none."""
    _say_who_holds_the_pool(stages.instance)

    def extract(obj: ObjectConfig) -> bool:
        """Plan the object's chunks, then extract them: an object whose plan is ready starts while others plan."""
        if stages.outcome.stop is not None:  # no later request after a stop at once
            return False
        with log_context(object=obj.name):
            plan = {"ops": {"chunk_plans": {"config": {"objects": [obj.name]}}}}
            ok = stages.run(PREPARE_JOB, run_config=plan, assets=[chunk_plans.key])
            if ok:
                keys = chunk_keys(stages.instance, obj.name)
                ok = stages.run(extract_job_name(obj.name), partition_range_tags(keys[0], keys[-1]))
        if stages.outcome.stop is not None:
            cancel_open_extractions(stages.outcome.stop)
        return ok

    if len(config.objects) == 1 or not runs_may_share_a_process(stages.instance):  # (a foreign instance class)
        if len(config.objects) > 1:
            log.warning("Objects extract one after another: the Dagster instance in %s is not configured with "
                        "sf_assets' instance class (copy dagster_home/dagster.yaml of the repository there)",
                        os.environ.get("DAGSTER_HOME", "DAGSTER_HOME"))
        return all([extract(obj) for obj in config.objects]) and stages.outcome.stop is None
    width = min(len(config.objects), 2 * config.extraction.max_concurrent_jobs)
    with runs_on_threads(stages.instance):
        pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="object")
        try:
            futures = [pool.submit(copy_context().run, extract, obj) for obj in config.objects]
            results = [future.result() for future in futures]
        except BaseException:  # Ctrl+C (main thread only) or a Dagster error: every open extraction aborts its jobs
            cancel_open_extractions("sf-assets run interrupted")
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return all(results) and stages.outcome.stop is None


def execute_refresh(config: PipelineConfig, instance: dg.DagsterInstance, *, new_refresh: bool = False,
                    refresh_catalog: bool = False, publish: bool = True) -> RefreshOutcome:
    """Run (or resume) a refresh through `instance`; the health JSON is written; never raises for a failed stage.

    Raises RefreshLocked when another refresh of the same state DB is running.
    """
    with refresh_lock(lock_path(config)):
        reap_dead_runs(instance, config)
        shares = publish and config.paths.share_dir is not None
        with state_db(config) as conn:
            unpublished = _unpublished_refresh(conn) if shares and not new_refresh else None
            refresh = unpublished or current_or_new_refresh(conn, config.extraction.resume_window_hours,
                                                            force_new=new_refresh)
        outcome = RefreshOutcome(refresh.refresh_id, ok=False, started_at=datetime.now(UTC))
        tags = {REFRESH_TAG: refresh.refresh_id, LAUNCHED_BY_TAG: "cli", UI_LAUNCHED_BY_TAG: CLI_LAUNCHER,
                PID_TAG: str(os.getpid())}
        with log_context(refresh_id=refresh.refresh_id), MessageCollector() as messages:
            log.info("Refresh %s %s", refresh.refresh_id, "resumed" if refresh.resumed else "started")
            try:
                if isinstance(config.salesforce.auth, EmulatorAuth):
                    from sf_assets.pipeline.emulator import connect_emulator

                    connect_emulator(config.salesforce.auth, config.salesforce.api_version)
                stages = _Stages(build_definitions(config.source_file or ""), instance, config.paths.state_db, tags,
                                 outcome)
                if unpublished:  # it finished, but its share copy was interrupted: that is what is left to do
                    log.warning("Refresh %s finished but its share copy did not: publishing it", refresh.refresh_id)
                    outcome.ok = stages.run("publish_job")
                else:
                    outcome.ok = _run_stages(stages, config, refresh_catalog, publish)
            except (Exception, KeyboardInterrupt) as exc:  # recorded and reported in the health JSON, never half-silent
                outcome.ok = False
                cause = explain(exc)
                outcome.failures.append(cause.line if str(exc) else type(exc).__name__)
                outcome.fix_first |= cause.fix_first
                log.error("Refresh %s stopped: %s", refresh.refresh_id, outcome.failures[-1])
                if isinstance(exc, KeyboardInterrupt):
                    _finish_failed(config, outcome, messages)
                    raise
            outcome.ended_at = datetime.now(UTC)
            if not outcome.ok:
                _finish_failed(config, outcome, messages)
            else:
                from sf_assets.health import health_report_path

                outcome.health_path = health_report_path(config.paths.output_dir, refresh.refresh_id)
    return outcome


def _unpublished_refresh(conn: sqlite3.Connection) -> Refresh | None:
    """The latest refresh if `sf-assets run` finished it but its share copy never reported (killed meanwhile)."""
    refresh_id = latest_refresh_id(conn)
    started = refresh_started_at(conn, refresh_id) if refresh_id else None
    if refresh_id is None or started is None or refresh_status(conn, refresh_id) != "success" or \
            get_fact(conn, refresh_id, "launched_by") != "cli" or get_fact(conn, refresh_id, "published") is not None:
        return None
    return Refresh(refresh_id, started, "success", resumed=True)


def _finish_failed(config: PipelineConfig, outcome: RefreshOutcome, messages: MessageCollector) -> None:
    outcome.health_path = finish_refresh_with_health(config, outcome.refresh_id, "failed", errors=outcome.failures,
                                                     run_ids=outcome.run_ids, messages=messages)
