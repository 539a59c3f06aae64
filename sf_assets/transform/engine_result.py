"""What a dataset engine hands to the output stage: Parquet part files with the final schema.

``write_part`` runs on the Dask workers: this module imports neither dask_sql nor Dagster, so a
worker unpickling it imports only pandas and pyarrow (dask_sql alone costs a worker ~0.5 s of
imports: SQLAlchemy, FastAPI).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.storage.output_consolidate import PartFormat
from sf_assets.storage.output_types import cast_table


@dataclass(frozen=True)
class EngineResult:
    """Rows, Power BI schema and the part files (in order) of one dataset result; `part_format`: the parts are
    written as the consolidated file would be (None: pyarrow's defaults)."""

    rows: int
    schema: pa.Schema
    parts: tuple[Path, ...]
    part_format: PartFormat | None = None


def part_path(out_dir: Path, index: int) -> Path:
    """Name of the index-th part file."""
    return out_dir / f"part-{index:05d}.parquet"


def write_part(frame: pd.DataFrame, path: str, schema: pa.Schema, part_format: PartFormat | None = None) -> int:
    """Write one result partition with exactly ``schema`` (in ``part_format`` when given); returns its row count."""
    table = cast_table(pa.Table.from_pandas(frame, preserve_index=False), schema)
    if part_format is None:
        pq.write_table(table, path)
    else:
        part_format.write(table, path)
    return len(frame)
