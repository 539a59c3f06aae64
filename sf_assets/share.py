"""Copy the current refresh's consolidated Power BI files to the network share (Dagster-free)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sf_assets.config import PipelineConfig
from sf_assets.health import PublishStatus
from sf_assets.logs import log_context
from sf_assets.publish import PublishError, publish_file
from sf_assets.storage.output import CURRENT

log = logging.getLogger(__name__)


def current_files(config: PipelineConfig, refresh_id: str) -> list[Path]:
    """The stable consolidated file of each dataset whose current version belongs to `refresh_id`."""
    files = []
    for dataset in config.datasets:
        pointer_path = config.paths.output_dir / dataset.name / CURRENT
        try:
            pointer = json.loads(pointer_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if pointer.get("refresh_id") == refresh_id and pointer.get("stable_file"):
            files.append(pointer_path.parent / pointer["stable_file"])
    return files


def publish_outputs(config: PipelineConfig, refresh_id: str) -> list[PublishStatus]:
    """Publish every current consolidated file; failures are returned (the local output stays intact)."""
    share = config.paths.share_dir
    if share is None:
        log.info("No share_dir configured: nothing to publish")
        return []
    statuses = []
    with log_context(refresh_id=refresh_id):
        for source in current_files(config, refresh_id):
            try:
                result = publish_file(source, share, refresh_id, config.publish, config.retry)
            except PublishError as exc:
                log.error("Publishing %s failed: %s", source.name, exc)
                statuses.append(PublishStatus(source=source, ok=False, error=str(exc)))
            else:
                statuses.append(PublishStatus.from_result(source, result))
    return statuses
