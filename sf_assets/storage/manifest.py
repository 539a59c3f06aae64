"""The ``_metadata.json`` manifest and ``_SUCCESS`` marker of one promoted dataset version."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.storage.files import atomic_write_text, file_digest

MANIFEST = "_metadata.json"
SUCCESS = "_SUCCESS"


def file_entry(path: Path, root: Path) -> dict[str, Any]:
    """Relative path, size, MD5 and row count of a Parquet file under ``root``."""
    stat = path.stat()
    return {
        "path": path.relative_to(root).as_posix(),
        "bytes": stat.st_size,
        "md5": _md5(path, (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)),
        "rows": pq.read_metadata(path).num_rows,
    }


_MD5_BY_FILE: dict[tuple[int, int, int, int], str] = {}


def _md5(path: Path, version: tuple[int, int, int, int]) -> str:
    """MD5 of one file version (device, inode, size, mtime): a hard link of it (the dataset folder's file is the
    consolidated file) is not read twice."""
    if version not in _MD5_BY_FILE:
        if len(_MD5_BY_FILE) >= 16:
            _MD5_BY_FILE.clear()
        _MD5_BY_FILE[version] = file_digest(path)
    return _MD5_BY_FILE[version]


def schema_json(schema: pa.Schema) -> list[dict[str, str]]:
    """Column names and Arrow types."""
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def build_manifest(
    *,
    dataset: str,
    refresh_id: str,
    rows: int,
    schema: pa.Schema,
    root: Path,
    files: Iterable[Path],
    consolidated: dict[str, Any],
    partition_cols: list[str],
    source_rows: dict[str, int],
    timings: dict[str, float],
) -> dict[str, Any]:
    """The manifest document of one dataset version (paths relative to ``root``)."""
    return {
        "dataset": dataset,
        "refresh_id": refresh_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
        "schema": schema_json(schema),
        "partition_cols": partition_cols,
        "files": [file_entry(p, root) for p in sorted(files)],
        "consolidated": consolidated,
        "source_row_counts": source_rows,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``_metadata.json``, then ``_SUCCESS`` (the marker that the folder is complete)."""
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
    atomic_write_text(folder / SUCCESS, "")


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a promoted version folder."""
    manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return manifest
