"""The Power BI hand-off files written with the data: in the output folder after a promotion, in the share
after a publish (Dagster-free; the files and their rules: `sf_assets/powerbi/`, docs/POWERBI.md)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow.parquet as pq

from sf_assets.config import PipelineConfig
from sf_assets.health import PublishStatus
from sf_assets.powerbi.handoff import schemas_of, write_handoff
from sf_assets.powerbi.m_query import SUFFIX
from sf_assets.storage.output import consolidated_name


def stable_files(config: PipelineConfig, names: Iterable[str] | None = None) -> dict[str, Path]:
    """The stable `<dataset>/<dataset>.parquet` of each dataset named (all by default), whether it exists or not."""
    wanted = [d.name for d in config.datasets] if names is None else list(names)
    return {name: config.paths.output_dir / name / consolidated_name(name) for name in wanted}


def write_output_handoff(config: PipelineConfig) -> list[Path]:
    """Rewrite the hand-off of the output folder for every dataset that has a stable file; never raises."""
    output = config.paths.output_dir
    files = [path for path in stable_files(config).values() if path.is_file()]
    return write_handoff(output, schemas_of(files), "output", folder=str(output), health_dir=str(output))


def write_share_handoff(config: PipelineConfig, statuses: Iterable[PublishStatus]) -> list[Path]:
    """Rewrite the share's hand-off for the datasets whose file a publish just copied there, typed from that copy;
    a dataset whose copy failed keeps the M of its previous copy, which is still the newest READY one. Never raises."""
    share = config.paths.share_dir
    copies = {s.source.stem: s.path for s in statuses
              if s.ok and s.path is not None and s.source.suffix == SUFFIX and s.path.is_file()}
    if share is None or not copies:
        return []
    schemas = {name: pq.read_schema(path) for name, path in copies.items()}
    output = str(config.paths.output_dir)
    return write_handoff(share, schemas, "share", folder=str(share), health_dir=output)
