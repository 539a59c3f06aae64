"""Health-JSON keys renamed by a release: read in their old place for one more release, with a warning.

`RENAMED` maps each old dotted key to its new one (one line per rename; drop it the release after). Every
reader of a report opens it with `read_health`, and the writer renders the facts a previous release
recorded through `upgrade_health`, so a report or a refresh of the previous release reads as today's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sf_assets.config.renamed import RenamedKeyConflict, move_renamed
from sf_assets.health.writer import health_report_path

log = logging.getLogger(__name__)
RENAMED = {
    "outputs.published": "outputs.promoted_datasets",  # 2026-12: "published" is the share copy only
}


def upgrade_health(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """`data` with every renamed key in its new place; one warning per old key, naming `source`."""
    try:
        moved, lines = move_renamed(dict(data), RENAMED, advice="read it as")
    except RenamedKeyConflict as exc:  # both names: the new one is what today's writers wrote
        log.warning("%s: %s", source, exc)
        return dict(data)
    for line in lines:
        log.warning("%s: %s", source, line)
    return moved


def read_health(output_dir: Path, refresh_id: str) -> dict[str, Any]:
    """The refresh's health JSON with today's keys ({} when it is not written or cannot be read)."""
    path = health_report_path(output_dir, refresh_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return upgrade_health(data, str(path)) if isinstance(data, dict) else {}
