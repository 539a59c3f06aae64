"""`sf-assets run` and `sf-assets status`: a refresh from a terminal, and what the job tracker knows."""

from __future__ import annotations

import logging
import os
import sys
import sysconfig
from pathlib import Path

import dagster as dg

from sf_assets.config import PipelineConfig, load_config
from sf_assets.observability.logs import refresh_log_dir, setup_logging
from sf_assets.observability.redaction import redact

EXIT_OK, EXIT_FAILED, EXIT_FIX_FIRST = 0, 1, 2


def run_refresh(config_path: Path, new_refresh: bool = False, refresh_catalog: bool = False,
                log_level: str | None = None) -> int:
    """Run or resume a refresh in the persistent local Dagster instance and print a summary."""
    from sf_assets.defs.driver import ensure_dagster_home, execute_refresh
    from sf_assets.pipeline.publish import current_files
    from sf_assets.powerbi.pbids import PBIDS_NAME
    from sf_assets.powerbi.readme import README_NAME
    from sf_assets.transform.engines import dataset_engine

    config = load_config(config_path)
    dataset_engine(config.transform.engine)  # an unknown engine: a configuration error before any refresh starts
    setup_logging(
        log_level or config.logging.level, config.paths.log_dir, config.logging.format, console_level="WARNING"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # Dagster's storage migrations are not news
    ensure_dagster_home(config)
    print(f"Refreshing {', '.join(o.name for o in config.objects)} (logs: {config.paths.log_dir}/<refresh id>/)")
    with dg.DagsterInstance.get() as instance:
        outcome = execute_refresh(config, instance, new_refresh=new_refresh, refresh_catalog=refresh_catalog)
    seconds = ((outcome.ended_at or outcome.started_at) - outcome.started_at).total_seconds()
    print(f"\nRefresh {outcome.refresh_id}: {'SUCCESS' if outcome.ok else 'FAILED'} in {seconds:.1f} s")
    _print_rows(config.paths.state_db, outcome.refresh_id)
    for path in current_files(config, outcome.refresh_id):
        print(f"  Power BI file: {path}")
    print(f"  Health JSON:   {outcome.health_path or 'not written (see the log)'}")
    handoff = config.paths.output_dir / PBIDS_NAME
    if handoff.is_file():  # docs/POWERBI.md
        print(f"  Power BI:      {handoff} opens Desktop on the folder; typed queries: {README_NAME} there, "
              "or `sf-assets powerbi`")
    if outcome.health_path:
        published = _health(config, outcome.refresh_id).get("published") or []
        for copy in published:
            print(redact(f"  Published:     {copy['path'] if copy['ok'] else 'FAILED: ' + str(copy['error'])}"))
    for failure in outcome.failures:
        print(redact(f"  Failure: {failure}"), file=sys.stderr)
    if not outcome.ok and not outcome.fix_first and not any("`sf-assets run`" in f for f in outcome.failures):
        print("Run `sf-assets run` again to resume: finished chunks are kept.", file=sys.stderr)
    print(f"Runs, partitions and checks in the UI: DAGSTER_HOME={os.environ['DAGSTER_HOME']} "
          f"{_dagster()} dev -w workspace.yaml")
    return EXIT_OK if outcome.ok else EXIT_FIX_FIRST if outcome.fix_first else EXIT_FAILED


def _dagster() -> str:
    """The `dagster` command of this environment as a user types it (`.venv/bin/dagster` from the repo root)."""
    command = Path(sysconfig.get_path("scripts")) / "dagster"
    try:
        relative = os.path.relpath(command)
    except ValueError:  # Windows: another drive
        return str(command)
    return relative if not relative.startswith("..") else str(command)


def _print_rows(state_db: Path, refresh_id: str) -> None:
    from sf_assets.extract.tracker import rows_per_object
    from sf_assets.pipeline.field_delivery import field_delivery
    from sf_assets.pipeline.object_figures import chunk_counts
    from sf_assets.pipeline.row_check import row_check_lines
    from sf_assets.storage.state_db import state_session

    with state_session(state_db) as conn:
        rows, chunks = rows_per_object(conn, refresh_id), chunk_counts(conn, refresh_id)
        checks = row_check_lines(conn, refresh_id)
        fields = {name: field_delivery(conn, refresh_id, name) for name in rows}
    for name, count in rows.items():
        c = chunks.get(name)
        detail = f" ({c.ok + c.fixed} chunks ok, {c.failed} failed, {c.skipped} pending)" if c else ""
        print(f"  {name:<20} {count:>12,} rows{detail}")
        if name in checks:
            print(f"      row check {checks[name]}")
        delivery = fields[name]
        if delivery is not None and not delivery.passed:
            print(f"      fields not delivered: {'; '.join(delivery.problems())}")


def _someone_refreshes(config: PipelineConfig) -> bool:
    """True when `sf-assets run` holds the lock or a Dagster run with a live process is queued or executing."""
    from sf_assets.defs.context import lock_path
    from sf_assets.defs.driver import ensure_dagster_home, runs_without_process
    from sf_assets.defs.partitions import runs_in_progress
    from sf_assets.storage.refresh_lock import lock_is_free

    if not lock_is_free(lock_path(config)):
        return True
    ensure_dagster_home(config)
    with dg.DagsterInstance.get() as instance:
        return runs_in_progress(instance) > len(runs_without_process(instance, config))


def show_status(config_path: Path) -> int:
    """Print the current/last refresh and its chunks by status; exit 1 unless it succeeded or is running."""
    from sf_assets.extract.refresh import latest_refresh_id, refresh_status, refresh_times
    from sf_assets.extract.tracker import status_counts
    from sf_assets.storage.state_db import state_session

    config = load_config(config_path)
    with state_session(config.paths.state_db) as conn:
        refresh_id = latest_refresh_id(conn)
        if refresh_id is None:
            print("No refresh yet: run `sf-assets run`.")
            return EXIT_OK
        status, (started, finished) = refresh_status(conn, refresh_id), refresh_times(conn, refresh_id)
        if status == "running" and not _someone_refreshes(config):
            status = "interrupted (no process is running it; `sf-assets run` resumes it)"
        ended = f", finished {finished.isoformat()}" if finished else ""
        print(f"Refresh {refresh_id}: {status} (started {started.isoformat() if started else '?'}{ended})")
        for obj, chunk_status, count, rows in status_counts(conn, refresh_id):
            print(f"  {obj:<20} {chunk_status:<10} {count:>5} chunks {rows:>12,} rows")
    summary = _health(config, refresh_id).get("human_summary")
    if summary:
        print(f"  Summary: {summary}")
    print(f"  Logs:    {refresh_log_dir(config.paths.log_dir, refresh_id)} (one file per process)")
    return EXIT_OK if status in ("success", "running") else EXIT_FAILED


def _health(config: PipelineConfig, refresh_id: str) -> dict:
    """The refresh's health JSON with today's keys ({} when it is not written yet or cannot be read)."""
    from sf_assets.health import read_health

    return read_health(config.paths.output_dir, refresh_id)
