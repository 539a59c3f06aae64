"""The Power BI output of one dataset: built in a temp folder and verified (promotion: ``output_promote``).

Layout under ``output_dir/<dataset>/``::

    <dataset>.parquet                  stable path to point Power BI at (the current version)
    current.json                       which version is current (refresh id, folder, rows)
    v<refresh_id>/                     one immutable folder per promoted refresh
        <dataset>.parquet                  consolidated snappy file (consolidate_for_powerbi)
        dataset/<col>=<value>/part-<i>.parquet   Hive-partitioned dataset (Power BI Folder connector)
        _metadata.json                     manifest: rows, schema, files with sizes and MD5s,
                                           source row counts, timings
        _SUCCESS

The dataset name appears once below its folder (not in every level), so the longest path a
config can produce stays well under Windows' MAX_PATH on a UNC share (``max_output_path_len``).
A version is written to ``.tmp-<owner>-*``, verified (row counts and schema read
back from every file); nothing the user sees changes until ``output_promote`` promotes every
dataset of the refresh together. A failure removes the temp folder. Types: see ``output_types``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.config.models import DatasetConfig, OutputConfig
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import link_or_copy
from sf_assets.storage.manifest import build_manifest, file_entry, write_manifest
from sf_assets.storage.output_consolidate import PartFormat, consolidate, has_room
from sf_assets.storage.output_partitioned import PartitionedWriteLimits, write_partitioned
from sf_assets.storage.output_precision import PrecisionTally
from sf_assets.storage.temp_owner import owner_tag

log = logging.getLogger(__name__)

CURRENT = "current.json"


class OutputVerificationError(RuntimeError):
    """A written file does not read back with the expected rows or schema."""


@dataclass(frozen=True)
class PromotedDataset:
    """Where one dataset version was promoted (made current in the output folder)."""

    dataset: str
    refresh_id: str
    folder: Path
    stable_file: Path | None
    rows: int
    manifest: dict[str, Any]


def version_name(refresh_id: str) -> str:
    """Folder of one refresh's version: ``v<refresh_id>``."""
    return f"v{refresh_id}"


def consolidated_name(dataset: str) -> str:
    """File name of the consolidated file inside a version folder (and of the stable file)."""
    return f"{dataset}.parquet"


TEMP_VERSION = re.compile(r"^\.(tmp|old)-p\d+s\d+-[0-9a-f]{8}$")


@dataclass(frozen=True)
class BuiltVersion:
    """A verified version of one dataset in its temp folder, not yet visible."""

    dataset: str
    refresh_id: str
    root: Path
    tmp: Path
    rows: int
    manifest: dict[str, Any]

    @property
    def final(self) -> Path:
        return self.root / version_name(self.refresh_id)

    @property
    def consolidated(self) -> str | None:
        file: str | None = self.manifest["consolidated"].get("file")
        return file


def build_version(
    dataset: DatasetConfig,
    parts: Sequence[Path],
    schema: pa.Schema,
    rows: int,
    output_dir: Path,
    cfg: OutputConfig,
    refresh_id: str,
    *,
    source_rows: dict[str, int] | None = None,
    timings: dict[str, float] | None = None,
    part_format: PartFormat | None = None,
) -> BuiltVersion:
    """Write and verify the output of one dataset from its engine part files (written in `part_format`, if
    known), in a temp folder."""
    root = output_dir / dataset.name
    version = version_name(refresh_id)
    tmp = root / f".tmp-{owner_tag()}-{uuid.uuid4().hex[:8]}"  # short: paths must fit MAX_PATH
    tmp.mkdir(parents=True)
    timings = dict(timings or {})
    precision = PrecisionTally(schema)
    try:
        consolidated = _consolidated(parts, schema, tmp, consolidated_name(dataset.name), cfg, timings, precision,
                                     part_format)
        started = time.perf_counter()
        files = _dataset_files(parts, schema, tmp, consolidated.get("file"), dataset.partition_cols, cfg,
                               None if "file" in consolidated else precision)
        timings["partitioned_write"] = time.perf_counter() - started
        _verify(files, rows, _file_schema(schema, dataset.partition_cols))
        if "file" in consolidated:
            _verify([tmp / consolidated["file"]], rows, schema)
            consolidated.update(file_entry(tmp / consolidated["file"], tmp))
        manifest = build_manifest(
            dataset=dataset.name, refresh_id=refresh_id, rows=rows, schema=schema, root=tmp, files=files,
            consolidated=consolidated, partition_cols=list(dataset.partition_cols),
            source_rows=dict(source_rows or {}), timings=timings,
        )
        manifest["precision_loss"] = precision.found()
        write_manifest(tmp, manifest)
    except BaseException:
        delete_when_free(tmp)
        raise
    log.info("Built %s of %s: %d rows, verified", version, dataset.name, rows)
    return BuiltVersion(dataset.name, refresh_id, root, tmp, rows, manifest)


def _file_schema(schema: pa.Schema, partition_cols: Sequence[str]) -> pa.Schema:
    return pa.schema([f for f in schema if f.name not in partition_cols])


def _dataset_files(
    parts: Sequence[Path], schema: pa.Schema, tmp: Path, consolidated: str | None, partition_cols: Sequence[str],
    cfg: OutputConfig, precision: PrecisionTally | None,
) -> list[Path]:
    """The ``dataset/`` folder: without partition columns, when the consolidated file fits one dataset file, that
    same file (hard link, else a copy: it holds exactly those rows, written once); otherwise streamed from the parts
    (``precision`` counting their values when no consolidated file did)."""
    missing = [c for c in partition_cols if c not in schema.names]
    if missing:
        raise ValueError(f"partition columns {missing} are not result columns {schema.names}")
    part_bytes = sum(p.stat().st_size for p in parts)
    part_rows = sum(pq.read_metadata(p).num_rows for p in parts)
    bytes_per_row = part_bytes / part_rows if part_rows else 1.0
    max_rows = max(1, min(cfg.max_rows_per_file, int(cfg.max_file_size_mb * 2**20 / bytes_per_row)))
    folder = tmp / "dataset"
    if consolidated is not None and not partition_cols and part_rows <= max_rows:
        folder.mkdir()
        link_or_copy(tmp / consolidated, folder / "part-0.parquet")
        return [folder / "part-0.parquet"]
    row_group = min(cfg.row_group_rows, max_rows)
    limits = PartitionedWriteLimits(max_rows_per_file=max_rows, row_group_rows=row_group, buffer_rows=row_group)
    return write_partitioned(parts, schema, folder, partition_cols, limits, cfg.compression, cfg.parquet_profile,
                             precision.observe if precision else None)


def _consolidated(
    parts: Sequence[Path], schema: pa.Schema, tmp: Path, name: str, cfg: OutputConfig, timings: dict[str, float],
    precision: PrecisionTally, part_format: PartFormat | None,
) -> dict[str, Any]:
    if not cfg.consolidate_for_powerbi:
        return {"skipped": "consolidate_for_powerbi is off"}
    needed = int(sum(p.stat().st_size for p in parts) * 1.1)
    if not has_room(tmp, needed):
        message = f"not enough free disk for the consolidated file (~{needed / 2**20:.0f} MB)"
        log.warning("%s: %s; skipped", tmp.parent.name, message)
        return {"skipped": message}
    started = time.perf_counter()
    if len(parts) == 1 and part_format == PartFormat.of(cfg):
        link_or_copy(parts[0], tmp / name)  # the engine wrote its one part as this file: no second encoding
        precision.observe_file(tmp / name)
        log.info("Consolidated %s: the engine's single part, written in the output's format", name)
    else:
        consolidate(parts, tmp / name, schema, cfg.row_group_rows, cfg.compression, cfg.parquet_profile,
                    precision.observe)
    timings["consolidate"] = time.perf_counter() - started
    pa.default_memory_pool().release_unused()  # the row groups just written: Arrow's allocator keeps them otherwise
    return {"file": name}


def _verify(files: Sequence[Path], rows: int, schema: pa.Schema) -> None:
    total = 0
    for path in files:
        meta = pq.read_metadata(path)
        got = meta.schema.to_arrow_schema()
        if [(f.name, f.type) for f in got] != [(f.name, f.type) for f in schema]:
            raise OutputVerificationError(f"{path.name}: schema {got} differs from {schema}")
        total += meta.num_rows
    if total != rows:
        raise OutputVerificationError(f"{len(files)} file(s) hold {total} rows, expected {rows}")
