"""`sf-assets run`: the whole refresh in-process, recorded in the persistent local Dagster instance.

Runs, in order: the prepare assets (one run), each object's chunk partitions of the current
refresh (one single-run backfill per object), then the downstream assets (one run). Every run is
tagged with the refresh id, so the UI groups them and later stages find the refresh.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from sf_assets.assets.common import REFRESH_TAG, state_db
from sf_assets.config import PipelineConfig, load_config
from sf_assets.config.models import EmulatorAuth
from sf_assets.logs import log_context, setup_logging

log = logging.getLogger(__name__)
LAUNCHED_BY_TAG = "sf_assets/launched_by"


def ensure_dagster_home(config: PipelineConfig) -> Path:
    """$DAGSTER_HOME (made absolute), else the repository's dagster_home/ next to the config folder."""
    home = os.environ.get("DAGSTER_HOME")
    path = Path(home) if home else (config.source_file or Path.cwd()).parent.parent / "dagster_home"
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(path)
    return path


def _report_failure(result: dg.ExecuteInProcessResult) -> None:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            message = event.step_failure_data.error.message.strip() if event.step_failure_data.error else "failed"
            print(f"sf-assets: {event.step_key} failed: {message.splitlines()[0]}", file=sys.stderr)


def _materialize(defs: dg.Definitions, keys: Sequence[dg.AssetKey], instance: dg.DagsterInstance, tags: dict[str, str],
                 run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    wanted = set(keys)
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition) and wanted & set(a.keys)]
    checks = [c for c in defs.asset_checks or [] if any(k.asset_key in wanted for k in c.check_keys)]
    return dg.materialize([*assets, *checks], instance=instance, resources=defs.resources, tags=tags,
                          run_config=run_config or {}, raise_on_error=False, selection=list(keys))


def run_refresh(config_path: Path, new_refresh: bool = False, refresh_catalog: bool = False) -> int:
    """Run every stage of a refresh; returns 0 on success, 1 when the refresh failed."""
    from sf_assets.assets.extract import chunk_partitions, object_asset_key
    from sf_assets.definitions import PREPARE_ASSETS, build_definitions
    from sf_assets.extract.refresh import current_or_new_refresh, finish_refresh
    from sf_assets.salesforce.emulator_target import connect_emulator

    config = load_config(config_path)
    setup_logging(config.logging.level, config.paths.log_dir, config.logging.format)
    home = ensure_dagster_home(config)
    if isinstance(config.salesforce.auth, EmulatorAuth):
        connect_emulator(config.salesforce.auth, config.salesforce.api_version)
    with state_db(config) as conn:
        refresh = current_or_new_refresh(conn, config.extraction.resume_window_hours, force_new=new_refresh)
    refresh_id = refresh.refresh_id
    defs = build_definitions(str(config.source_file))
    tags = {REFRESH_TAG: refresh_id, LAUNCHED_BY_TAG: "cli"}
    with log_context(refresh_id=refresh_id), dg.DagsterInstance.get() as instance:
        log.info("Refresh %s %s (Dagster instance %s)", refresh_id, "resumed" if refresh.resumed else "started", home)
        stages: list[tuple[str, list[dg.AssetKey], dict[str, str]]] = [
            ("prepare", [a.key for a in PREPARE_ASSETS], {})]
        result = _materialize(defs, stages[0][1], instance, tags,
                              {"ops": {"metadata_catalog": {"config": {"force_refresh": refresh_catalog}}}})
        ok = result.success
        if ok:
            for obj in config.objects:
                name = chunk_partitions(obj.name).name
                keys = [k for k in instance.get_dynamic_partitions(name) if k.startswith(f"{refresh_id}_")]
                if not keys:
                    continue
                range_tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
                with log_context(object=obj.name):
                    result = _materialize(defs, [object_asset_key(obj.name)], instance, {**tags, **range_tags})
                if not result.success:
                    ok = False
                    _report_failure(result)
        else:
            _report_failure(result)
    with state_db(config) as conn:
        finish_refresh(conn, refresh_id, "success" if ok else "failed")
    if not ok:
        print(f"Refresh {refresh_id} failed; `sf-assets run` resumes it (finished chunks are kept).", file=sys.stderr)
        return 1
    print(f"Refresh {refresh_id} finished (runs are in the Dagster UI: dagster dev -w workspace.yaml).")
    return 0
