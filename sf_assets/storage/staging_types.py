"""Column names and value conversions between typed Arrow chunks and SQLite staging tables.

Column naming: a Bulk CSV header such as ``Account.Name`` becomes the SQL column
``Account_Name`` (every ``.`` replaced by ``_``). Staging tables, dataset SQL and the Power BI
output all use that name, so SQL references it unquoted (``o.Account_Name``) and Power BI
shows no dotted names that its formula language would need to escape. Two headers that map
to the same name raise ValueError (Salesforce field names cannot contain dots, so this only
happens with an unusual custom field such as ``Account_Name``).

Declared SQLite types keep the logical kind, so a view over a staged table still tells a date
from a string (``PRAGMA table_info``); their affinity stores the values the same way the plan's
``sqlite_type`` does (ISO text never parses as a number, so NUMERIC affinity keeps it as text):

==========  ===============  ===================================================
kind        declared type    stored value
==========  ===============  ===================================================
string      TEXT             text
bool        BOOLEAN          0 / 1
int64       INTEGER          integer
float64     REAL             real
decimal     DECIMAL(p,s)     exact text in; NUMERIC affinity (~15 digits)
date        DATE             ``YYYY-MM-DD``
timestamp   TIMESTAMP        ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC; sortable text)
time        TIME             ``HH:MM:SS.ffffff``
==========  ===============  ===================================================

Conversions run column by column with pyarrow.compute casts before any value reaches Python.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sf_assets.salesforce.field_plan import FieldPlan, PlannedColumn
from sf_assets.salesforce.field_types import ColumnType

_DECLARED = {
    "string": "TEXT", "bool": "BOOLEAN", "int64": "INTEGER", "float64": "REAL",
    "date": "DATE", "timestamp": "TIMESTAMP", "time": "TIME",
}
_KIND_OF_DECL = {v: k for k, v in _DECLARED.items()}
_DECIMAL_DECL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")


def sql_name(column_name: str) -> str:
    """SQL/Power BI name of a plan column: ``Account.Name`` -> ``Account_Name``."""
    return column_name.replace(".", "_")


def sql_names(plan: FieldPlan) -> list[str]:
    """SQL names of the plan's columns, in plan order (ValueError on a collision)."""
    names = [sql_name(c.name) for c in plan.columns]
    lowered = [n.lower() for n in names]
    clashes = sorted({n for n in names if lowered.count(n.lower()) > 1})
    if clashes:
        raise ValueError(f"{plan.object_name}: columns collide after mapping '.' to '_': {clashes}")
    return names


def quote(identifier: str) -> str:
    """A double-quoted SQLite identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def declared_type(column: PlannedColumn) -> str:
    """Declared SQLite type of a plan column (see the module table)."""
    if column.kind == "decimal":
        return f"DECIMAL({column.precision},{column.scale})"
    return _DECLARED[column.kind]


def type_from_declared(decl: str | None) -> ColumnType | None:
    """The logical type behind a declared type of a staged column; None if unknown."""
    text = (decl or "").strip().upper().replace(" ", "")
    match = _DECIMAL_DECL.match(text)
    if match:
        return ColumnType("decimal", int(match.group(1)), int(match.group(2)))
    kind = _KIND_OF_DECL.get(text)
    return ColumnType(kind) if kind else None  # type: ignore[arg-type]


def _python_values(arr: pa.Array | pa.ChunkedArray) -> list[Any]:
    """Python values to bind for one Arrow column (temporal and decimal values as ISO text)."""
    if pa.types.is_timestamp(arr.type):  # UTC values: dropping the zone skips a slow tz conversion
        arr = arr.cast(pa.timestamp(arr.type.unit)).cast(pa.string())
    elif pa.types.is_date(arr.type) or pa.types.is_time(arr.type):
        arr = arr.cast(pa.string())
    elif pa.types.is_decimal(arr.type):
        arr = arr.cast(pa.string())
    return arr.to_pylist()


def to_sqlite_arrow(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch as SQLite stores it (same values as `to_sqlite_column`), still in Arrow, with SQL names."""
    columns = []
    for arr in batch.columns:
        if pa.types.is_timestamp(arr.type):  # UTC values: dropping the zone skips a slow tz conversion
            arr = arr.cast(pa.timestamp(arr.type.unit)).cast(pa.string())
        elif pa.types.is_date(arr.type) or pa.types.is_time(arr.type) or pa.types.is_decimal(arr.type):
            arr = arr.cast(pa.string())
        columns.append(arr)
    return pa.record_batch(columns, names=[sql_name(n) for n in batch.schema.names])


def to_sqlite_column(arr: pa.Array | pa.ChunkedArray) -> list[Any]:
    """Python values to bind for one Arrow column (temporal and decimal values as ISO text).

    Creating Python objects is the expensive part, so a column with few distinct values
    (picklists, dates, probabilities) converts its distinct values once and repeats them by
    index (``dictionary_encode`` and a numpy object ``take``, both in C); the values are the
    same as converting every cell.
    """
    n = len(arr)
    if n >= 64 and not pa.types.is_timestamp(arr.type) and not pa.types.is_boolean(arr.type):
        encoded = arr.dictionary_encode()
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        distinct = len(encoded.dictionary)
        if distinct * 4 <= n:
            pool = np.empty(distinct + 1, dtype=object)  # last slot: None for nulls
            pool[:distinct] = _python_values(encoded.dictionary)
            indices = encoded.indices.fill_null(distinct).to_numpy(zero_copy_only=False)
            return pool[indices].tolist()
    return _python_values(arr)


def to_sqlite_matrix(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """(rows, columns) numpy object array of the values to bind, converted column by column."""
    out = np.empty((batch.num_rows, batch.num_columns), dtype=object)
    for j, col in enumerate(batch.columns):
        out[:, j] = to_sqlite_column(col)
    return out


def to_sqlite_rows(batch: pa.RecordBatch | pa.Table) -> list[tuple[Any, ...]]:
    """Row tuples of a batch for executemany, converted column by column."""
    return list(zip(*(to_sqlite_column(col) for col in batch.columns)))


def to_sqlite_groups(batch: pa.RecordBatch | pa.Table, group: int) -> tuple[list[list[Any]], list[list[Any]]]:
    """Parameters for a ``group``-row ``INSERT ... VALUES (..), (..)`` statement and for the rest.

    Returns (one flat list of ``group * columns`` values per full group, one list per remaining
    row). Binding many rows per statement saves the per-statement work of ``executemany``.
    """
    matrix = to_sqlite_matrix(batch)
    full = len(matrix) // group * group
    grouped = matrix[:full].reshape(-1, group * batch.num_columns).tolist() if full else []
    return grouped, matrix[full:].tolist()


def from_sqlite_column(values: Sequence[Any], ctype: ColumnType | None) -> pa.Array:
    """Arrow array of one column read from SQLite.

    ``ctype`` None infers the type (all-null -> string); a decimal comes back as float64
    (what NUMERIC affinity kept), every other kind as its plan Arrow type.
    """
    if ctype is None:
        arr = pa.array(values)
        return arr.cast(pa.string()) if pa.types.is_null(arr.type) else arr
    kind = ctype.kind
    if kind == "decimal":
        if any(isinstance(v, str) for v in values):  # text that NUMERIC affinity could not convert
            values = [None if v is None else str(v) for v in values]
            return pa.array(values, pa.string()).cast(pa.float64())
        return pa.array(np.asarray(values, dtype=np.float64), from_pandas=True)  # None -> NaN -> null
    if kind == "time":
        text = pa.array(values, pa.string())
        stamp = pc.binary_join_element_wise("1970-01-01 ", text, "").cast(pa.timestamp("us"))
        return stamp.cast(pa.int64()).cast(pa.time64("us"))
    if kind == "timestamp":  # naive text is UTC; casting naive -> UTC keeps the wall time
        return pa.array(values, pa.string()).cast(pa.timestamp("us")).cast(ctype.arrow_type())
    if kind == "date":
        return pa.array(values, pa.string()).cast(pa.date32())
    if kind == "bool":
        return pa.array(values, pa.int64()).cast(pa.bool_())
    return pa.array(values, ctype.arrow_type())
