"""What a dataset engine hands to the output stage: Parquet part files with the final schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa


@dataclass(frozen=True)
class EngineResult:
    """Rows, Power BI schema and the part files (in order) of one dataset result."""

    rows: int
    schema: pa.Schema
    parts: tuple[Path, ...]


def part_path(out_dir: Path, index: int) -> Path:
    """Name of the index-th part file."""
    return out_dir / f"part-{index:05d}.parquet"
