"""The ``_metadata.json`` manifest and ``_SUCCESS`` marker of one published dataset version."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.storage.files import atomic_write_text, file_digest

MANIFEST = "_metadata.json"
SUCCESS = "_SUCCESS"


def file_entry(path: Path, root: Path) -> dict[str, Any]:
    """Relative path, size, MD5 and row count of a Parquet file under ``root``."""
    return {
        "path": path.relative_to(root).as_posix(),
        "bytes": path.stat().st_size,
        "md5": file_digest(path),
        "rows": pq.read_metadata(path).num_rows,
    }


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
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
    """The manifest of a published version folder."""
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
