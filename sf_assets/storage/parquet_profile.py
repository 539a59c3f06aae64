"""What a Parquet file asks of its reader, checked against a profile (docs/VALUES.md, "What Power BI shows")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from sf_assets.config.output import GATEWAY_CODECS

PHYSICAL_TYPES = frozenset({"BOOLEAN", "INT32", "INT64", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"})
LOGICAL_TYPES = frozenset({"None", "String", "Date", "Timestamp", "Time", "Decimal", "Int"})
TIME_UNITS = frozenset({"milliseconds", "microseconds"})
GATEWAY_ENCODINGS = frozenset({"PLAIN", "RLE", "RLE_DICTIONARY"})
GATEWAY_COMPRESSION = frozenset("UNCOMPRESSED" if c == "none" else c.upper() for c in GATEWAY_CODECS)


def profile_violations(path: Path, profile: str = "gateway") -> list[str]:
    """One line per column or column chunk of ``path`` outside ``profile``; empty when the file is inside it.

    Both profiles: the documented physical and logical types only, timestamps in ms or us with UTC, no INT96.
    ``gateway`` adds: PLAIN / RLE / RLE_DICTIONARY encodings only and a format 1.0 codec (snappy, gzip, none).
    """
    metadata = pq.ParquetFile(path).metadata
    found: list[str] = []
    for i in range(metadata.num_columns):
        column = metadata.schema.column(i)
        found += [f"{column.path}: {problem}" for problem in _type_problems(column.physical_type,
                                                                             json.loads(column.logical_type.to_json()))]
    if profile != "gateway":
        return found
    for group in range(metadata.num_row_groups):
        for i in range(metadata.num_columns):
            chunk = metadata.row_group(group).column(i)
            where = f"{chunk.path_in_schema} (row group {group})"
            found += [f"{where}: encoding {encoding}" for encoding in sorted(set(chunk.encodings) - GATEWAY_ENCODINGS)]
            if chunk.compression not in GATEWAY_COMPRESSION:
                found.append(f"{where}: compression {chunk.compression}")
    return found


def _type_problems(physical: str, logical: dict[str, Any]) -> list[str]:
    kind = logical.get("Type")
    if physical not in PHYSICAL_TYPES:
        return [f"physical type {physical}"]
    if kind not in LOGICAL_TYPES:
        return [f"logical type {kind}"]
    problems = []
    if kind in ("Timestamp", "Time") and logical.get("timeUnit") not in TIME_UNITS:
        problems.append(f"{kind.lower()} in {logical.get('timeUnit')}")
    if kind == "Timestamp" and not logical.get("isAdjustedToUTC"):
        problems.append("timestamp without UTC")
    return problems
