"""`sf-assets run`: the whole refresh in-process, recorded in the persistent local Dagster instance."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import dagster as dg

from sf_assets.assets.common import REFRESH_TAG, state_db
from sf_assets.config import PipelineConfig, load_config
from sf_assets.config.models import EmulatorAuth
from sf_assets.logs import log_context, setup_logging

log = logging.getLogger(__name__)


def ensure_dagster_home(config: PipelineConfig) -> Path:
    """$DAGSTER_HOME (made absolute), else the repository's dagster_home/ next to the config folder."""
    home = os.environ.get("DAGSTER_HOME")
    path = Path(home) if home else (config.source_file or Path.cwd()).parent.parent / "dagster_home"
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def run_refresh(config_path: Path, new_refresh: bool = False, refresh_catalog: bool = False) -> int:
    """Run every stage of a refresh; returns 0 on success, 1 when the refresh failed."""
    from sf_assets.definitions import build_definitions
    from sf_assets.extract.refresh import current_or_new_refresh
    from sf_assets.salesforce.emulator_target import connect_emulator

    config = load_config(config_path)
    setup_logging(config.logging.level, config.paths.log_dir, config.logging.format)
    home = ensure_dagster_home(config)
    if isinstance(config.salesforce.auth, EmulatorAuth):
        connect_emulator(config.salesforce.auth, config.salesforce.api_version)
    with state_db(config) as conn:
        refresh = current_or_new_refresh(conn, config.extraction.resume_window_hours, force_new=new_refresh)
    defs = build_definitions(str(config.source_file))
    run_config = {"ops": {"metadata_catalog": {"config": {"force_refresh": refresh_catalog}}}}
    with log_context(refresh_id=refresh.refresh_id), dg.DagsterInstance.get() as instance:
        log.info("Refresh %s started (Dagster instance %s)", refresh.refresh_id, home)
        result = dg.materialize(
            defs.assets, instance=instance, resources=defs.resources, tags={REFRESH_TAG: refresh.refresh_id},
            run_config=run_config, raise_on_error=False, selection=None,
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data is not None:
                print(f"sf-assets: {event.step_key} failed: {event.step_failure_data.error.message.strip()}", file=sys.stderr)
        return 1
    print(f"Refresh {refresh.refresh_id} finished. Dagster run {result.run_id} (see `dagster dev -w workspace.yaml`).")
    return 0
