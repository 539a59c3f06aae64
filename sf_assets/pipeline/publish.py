"""Copy the current refresh's consolidated Power BI files to the network share (Dagster-free)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sf_assets.config import PipelineConfig
from sf_assets.health import PublishStatus
from sf_assets.health.causes import describe_error
from sf_assets.observability.logs import log_context
from sf_assets.pipeline.powerbi_handoff import write_share_handoff
from sf_assets.publish import PublishError, publish_file, publish_folder
from sf_assets.storage.output import CURRENT

log = logging.getLogger(__name__)


def _pointers(config: PipelineConfig, refresh_id: str) -> list[tuple[Path, dict]]:
    """(dataset folder, current.json) of each dataset whose current version belongs to `refresh_id`."""
    found = []
    for dataset in config.datasets:
        folder = config.paths.output_dir / dataset.name
        try:
            pointer = json.loads((folder / CURRENT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if pointer.get("refresh_id") == refresh_id:
            found.append((folder, pointer))
    return found


def current_files(config: PipelineConfig, refresh_id: str) -> list[Path]:
    """The stable consolidated file of each dataset whose current version belongs to `refresh_id`."""
    return [folder / p["stable_file"] for folder, p in _pointers(config, refresh_id) if p.get("stable_file")]


def current_dataset_folders(config: PipelineConfig, refresh_id: str) -> list[Path]:
    """The Hive-partitioned dataset folder (`<dataset>/<version>/dataset`) of each current version of `refresh_id`."""
    return [folder / p["folder"] / "dataset" for folder, p in _pointers(config, refresh_id)
            if (folder / p["folder"] / "dataset").is_dir()]


def _publish(source: Path, share: Path, refresh_id: str, config: PipelineConfig):
    if source.is_dir():  # <output>/<dataset>/<version>/dataset -> "<dataset>_dataset__<time>__<refresh>"
        stem = f"{source.parent.parent.name}_dataset"
        return publish_folder(source, share, refresh_id, config.publish, config.retry, stem=stem)
    return publish_file(source, share, refresh_id, config.publish, config.retry)


def publish_outputs(config: PipelineConfig, refresh_id: str) -> list[PublishStatus]:
    """Publish every current consolidated file; failures are returned (the local output stays intact)."""
    share = config.paths.share_dir
    if share is None:
        log.info("No share_dir configured: nothing to publish")
        return []
    statuses = []
    folders = current_dataset_folders(config, refresh_id) if config.publish.include_dataset_folder else []
    with log_context(refresh_id=refresh_id):
        for source in [*current_files(config, refresh_id), *folders]:
            try:
                result = _publish(source, share, refresh_id, config)
            except PublishError as exc:
                cause = describe_error(exc)  # the line users read, in the console, the UI and the health JSON
                log.error("Publishing %s failed: %s", source.name, cause)
                statuses.append(PublishStatus(source=source, ok=False, error=cause))
            else:
                statuses.append(PublishStatus.from_result(source, result))
        write_share_handoff(config, statuses)
    return statuses
