"""Names and Power BI types of a dataset's result columns, the same for both engines.

Types: the SQL is compiled (never run) in SQLite as a temporary view over the staged tables;
``PRAGMA table_info`` then gives each plain column reference its staged declared type, aliases
included (``a.CreatedDate AS AccountCreated`` stays a timestamp). Expressions have no declared
type; they take the type the engine produced (CAST them for a fixed type).

Names: dask-sql resolves unquoted identifiers case-insensitively only by lower-casing them, so
its result columns come back lower-case; ``natural_names`` restores the spelling of the SQL's
aliases and of the staged columns, the names SQLite reports.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from sf_assets.schema.column_types import ColumnType
from sf_assets.storage.output_types import powerbi_type
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets.storage.staging_types import type_from_declared
from sf_assets.transform.staged import StagedTable

_ALIAS = re.compile(r"\bAS\s+\"?([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


def declared_types(staging_db: Path, sql: str) -> dict[str, ColumnType | None]:
    """Lower-case result column name -> staged type (None for expressions); {} if SQLite cannot compile it."""
    conn = connect_readonly(staging_db)
    view = f"_sf_types_{uuid.uuid4().hex[:8]}"
    try:
        conn.execute(f"CREATE TEMP VIEW {view} AS {sql.strip().rstrip(';')}")
        info = conn.execute(f"PRAGMA table_info({view})").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    return {name.lower(): type_from_declared(decl) for _, name, decl, *_ in info}


def natural_names(names: Sequence[str], sql: str, tables: dict[str, StagedTable]) -> list[str]:
    """``names`` with the spelling of the SQL's aliases, else of the staged columns."""
    spelling: dict[str, str] = {}
    for alias in _ALIAS.findall(sql):
        spelling.setdefault(alias.lower(), alias)
    for table in tables.values():
        for column in table.columns:
            spelling.setdefault(column.lower(), column)
    return [spelling.get(n.lower(), n) for n in names]


def output_schema(
    names: Sequence[str],
    engine_types: Sequence[pa.DataType],
    declared: dict[str, ColumnType | None],
    decimals_as_float: bool = False,
) -> pa.Schema:
    """Power BI schema of the result: staged type when known, else the engine's type."""
    lowered = [n.lower() for n in names]
    duplicates = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if duplicates:
        raise ValueError(f"duplicate result columns (Power BI ignores case): {duplicates}; alias them")
    fields = []
    for name, engine_type in zip(names, engine_types):
        ctype = declared.get(name.lower())
        source = ctype.arrow_type() if ctype is not None else engine_type
        fields.append(pa.field(name, powerbi_type(source, decimals_as_float)))
    return pa.schema(fields)
