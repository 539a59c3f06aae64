"""The Power BI output of one dataset: built in a temp folder, verified, promoted atomically.

Layout under ``output_dir/<dataset>/``::

    <dataset>.parquet                  stable path to point Power BI at (the current version)
    current.json                       which version is current (refresh id, folder, rows)
    <dataset>__<refresh_id>/           one immutable folder per published refresh
        <dataset>__<refresh_id>.parquet    consolidated snappy file (consolidate_for_powerbi)
        dataset/<col>=<value>/...parquet   Hive-partitioned dataset (Power BI Folder connector)
        _metadata.json                     manifest: rows, schema, files with sizes and MD5s,
                                           source row counts, timings
        _SUCCESS

A version is written to ``.<dataset>__<refresh_id>.tmp-*``, verified (row counts and schema
read back from every file) and renamed into place; only then is the stable file replaced
(hard link of the new consolidated file + ``os.replace``; a copy where links are impossible)
and ``current.json`` rewritten. Until then the previous output is untouched; a failure removes
the temp folder and leaves it byte-identical. Types: see ``output_types``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from sf_assets.config.models import DatasetConfig, OutputConfig
from sf_assets.storage.files import atomic_write_text, replace_with_retry, temp_path_for
from sf_assets.storage.manifest import build_manifest, file_entry, write_manifest
from sf_assets.storage.output_consolidate import consolidate, has_room, writer_options

log = logging.getLogger(__name__)

CURRENT = "current.json"


class OutputVerificationError(RuntimeError):
    """A written file does not read back with the expected rows or schema."""


@dataclass(frozen=True)
class PublishedDataset:
    """Where one dataset version was published."""

    dataset: str
    refresh_id: str
    folder: Path
    stable_file: Path | None
    rows: int
    manifest: dict[str, Any]


def version_name(dataset: str, refresh_id: str) -> str:
    """Folder (and consolidated file stem) of one refresh: ``<dataset>__<refresh_id>``."""
    return f"{dataset}__{refresh_id}"


def publish_dataset(
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
) -> PublishedDataset:
    """Build, verify and promote the output of one dataset from its engine part files."""
    root = output_dir / dataset.name
    version = version_name(dataset.name, refresh_id)
    tmp = root / f".{version}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    timings = dict(timings or {})
    try:
        started = time.perf_counter()
        files = _write_partitioned(parts, schema, tmp / "dataset", dataset.partition_cols, cfg, version)
        timings["partitioned_write"] = time.perf_counter() - started
        consolidated = _consolidated(parts, schema, tmp, version, cfg, timings)
        _verify(files, rows, _file_schema(schema, dataset.partition_cols))
        if "file" in consolidated:
            _verify([tmp / consolidated["file"]], rows, schema)
            consolidated.update(file_entry(tmp / consolidated["file"], tmp))
        manifest = build_manifest(
            dataset=dataset.name, refresh_id=refresh_id, rows=rows, schema=schema, root=tmp, files=files,
            consolidated=consolidated, partition_cols=list(dataset.partition_cols),
            source_rows=dict(source_rows or {}), timings=timings,
        )
        write_manifest(tmp, manifest)
        final = _promote(tmp, root / version)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    stable = _update_stable(root, final, dataset.name, version, consolidated, rows, refresh_id)
    log.info("Published %s: %d rows in %s", dataset.name, rows, final)
    return PublishedDataset(dataset.name, refresh_id, final, stable, rows, manifest)


def _file_schema(schema: pa.Schema, partition_cols: Sequence[str]) -> pa.Schema:
    return pa.schema([f for f in schema if f.name not in partition_cols])


def _write_partitioned(
    parts: Sequence[Path], schema: pa.Schema, folder: Path, partition_cols: Sequence[str],
    cfg: OutputConfig, version: str,
) -> list[Path]:
    missing = [c for c in partition_cols if c not in schema.names]
    if missing:
        raise ValueError(f"partition columns {missing} are not result columns {schema.names}")
    part_bytes = sum(p.stat().st_size for p in parts)
    part_rows = sum(pq.read_metadata(p).num_rows for p in parts)
    bytes_per_row = part_bytes / part_rows if part_rows else 1.0
    max_rows = max(1, min(cfg.max_rows_per_file, int(cfg.max_file_size_mb * 2**20 / bytes_per_row)))
    written: list[Path] = []
    fmt = pads.ParquetFileFormat()
    options = fmt.make_write_options(**writer_options(cfg.compression))
    pads.write_dataset(
        pads.dataset([str(p) for p in parts], schema=schema, format="parquet"),
        folder,
        format=fmt,
        file_options=options,
        partitioning=list(partition_cols) or None,
        partitioning_flavor="hive" if partition_cols else None,
        basename_template=f"{version}-{{i}}.parquet",
        max_rows_per_file=max_rows,
        max_rows_per_group=min(cfg.row_group_rows, max_rows),
        min_rows_per_group=min(cfg.row_group_rows, max_rows) // 2,
        existing_data_behavior="error",
        file_visitor=lambda f: written.append(Path(f.path)),
    )
    if not written:  # an empty result still gets one file carrying the schema
        folder.mkdir(parents=True, exist_ok=True)
        empty = folder / f"{version}-0.parquet"
        pq.write_table(_file_schema(schema, partition_cols).empty_table(), empty, **writer_options(cfg.compression))
        written.append(empty)
    return written


def _consolidated(
    parts: Sequence[Path], schema: pa.Schema, tmp: Path, version: str, cfg: OutputConfig, timings: dict[str, float]
) -> dict[str, Any]:
    if not cfg.consolidate_for_powerbi:
        return {"skipped": "consolidate_for_powerbi is off"}
    needed = int(sum(p.stat().st_size for p in parts) * 1.1)
    if not has_room(tmp, needed):
        message = f"not enough free disk for the consolidated file (~{needed / 2**20:.0f} MB)"
        log.warning("%s: %s; skipped", version, message)
        return {"skipped": message}
    started = time.perf_counter()
    consolidate(parts, tmp / f"{version}.parquet", schema, cfg.row_group_rows, cfg.compression)
    timings["consolidate"] = time.perf_counter() - started
    return {"file": f"{version}.parquet"}


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


def _promote(tmp: Path, final: Path) -> Path:
    """Rename the verified temp folder into place (replacing a same-refresh version)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        replace_with_retry(final, old)
    replace_with_retry(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _update_stable(
    root: Path, final: Path, name: str, version: str, consolidated: dict[str, Any], rows: int, refresh_id: str
) -> Path | None:
    stable = None
    if "file" in consolidated:
        stable = root / f"{name}.parquet"
        staged = temp_path_for(stable)
        try:
            os.link(final / consolidated["file"], staged)
        except OSError:
            shutil.copyfile(final / consolidated["file"], staged)
        try:
            replace_with_retry(staged, stable)
        finally:
            staged.unlink(missing_ok=True)
    pointer = {
        "dataset": name, "refresh_id": refresh_id, "version": version, "folder": final.name,
        "stable_file": stable.name if stable else None, "rows": rows,
        "published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(root / CURRENT, json.dumps(pointer, indent=2))
    return stable
