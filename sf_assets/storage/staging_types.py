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
decimal     DECIMAL(p,s)     p <= 15: NUMERIC affinity, a number (exact: 15 digits fit a double)
            DECIMAL_TEXT     p > 15: TEXT affinity, the exact text (``1234567890123456.78``),
                             COLLATE SF_DECIMAL: compared and sorted as numbers
date        DATE             ``YYYY-MM-DD``
timestamp   TIMESTAMP        ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC; sortable text)
time        TIME             ``HH:MM:SS.ffffff``
==========  ===============  ===================================================

A wide decimal's text compares with a number literal as text in SQLite (``'500' > '1000'``), so
its column carries the collation SF_DECIMAL, which compares two texts as decimal numbers:
``Amount > 1000``, ``ORDER BY Amount``, MIN/MAX and indexes order by value. Every connection
that compares such a column registers it (``register_decimal_collation``; ``sqlite_util.connect``
and the engines do); elsewhere SQLite refuses the comparison ("no such collation sequence")
instead of answering wrongly. Arithmetic (``SUM(Amount)``) converts the text to a double.

Conversions run column by column with pyarrow.compute casts before any value reaches Python.
``engine_arrow`` gives the Dask-SQL engine the same values SQLite holds (numbers where SQLite has
numbers), so both engines run the same SQL on the same values.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from sf_assets.schema.column_types import EXACT_FLOAT_DIGITS, ColumnType
from sf_assets.schema.field_plan import FieldPlan, PlannedColumn
from sf_assets.storage.output_types import decimal_to_float, parse_text

_DECLARED = {
    "string": "TEXT", "bool": "BOOLEAN", "int64": "INTEGER", "float64": "REAL",
    "date": "DATE", "timestamp": "TIMESTAMP", "time": "TIME",
}
_KIND_OF_DECL = {v: k for k, v in _DECLARED.items()}
DECIMAL_COLLATION = "SF_DECIMAL"
_DECIMAL_DECL = re.compile(r"^DECIMAL(?:_TEXT)?\((\d+),(\d+)\)$")


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
        ctype = column.column_type
        return ctype.sqlite_type() + (f" COLLATE {DECIMAL_COLLATION}" if ctype.decimal_as_text else "")
    return _DECLARED[column.kind]



def create_table_sql(plan: FieldPlan, table: str) -> str:
    """CREATE TABLE from the field plan: declared types, NOT NULL for non-nullable columns."""
    cols = [
        f"{quote(name)} {declared_type(col)}{'' if col.nullable else ' NOT NULL'}"
        for name, col in zip(sql_names(plan), plan.columns)
    ]
    return f"CREATE TABLE {quote(table)} (\n    " + ",\n    ".join(cols) + "\n)"

def _compare_decimal_text(a: str, b: str) -> int:
    try:
        x, y = Decimal(a), Decimal(b)
        return (x > y) - (x < y)
    except (InvalidOperation, ValueError):  # not a number (e.g. NaN): plain text order
        return (a > b) - (a < b)


def register_decimal_collation(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Let ``conn`` compare wide decimal columns (their SF_DECIMAL collation); returns ``conn``."""
    conn.create_collation(DECIMAL_COLLATION, _compare_decimal_text)
    return conn


def type_from_declared(decl: str | None) -> ColumnType | None:
    """The logical type behind a declared type of a staged column; None if unknown."""
    text = (decl or "").strip().upper().replace(" ", "")
    match = _DECIMAL_DECL.match(text)
    if match:
        return ColumnType("decimal", int(match.group(1)), int(match.group(2)))
    kind = _KIND_OF_DECL.get(text)
    return ColumnType(kind) if kind else None  # type: ignore[arg-type]


def _as_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Temporal and decimal values as the ISO / exact text SQLite stores; others unchanged."""
    if pa.types.is_timestamp(arr.type):  # UTC values: dropping the zone skips a slow tz conversion
        return arr.cast(pa.timestamp(arr.type.unit)).cast(pa.string())
    if pa.types.is_date(arr.type) or pa.types.is_time(arr.type) or pa.types.is_decimal(arr.type):
        return arr.cast(pa.string())
    return arr


def to_sqlite_arrow(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch as bound for SQLite (same values as `to_sqlite_column`), still in Arrow, with SQL names."""
    return pa.record_batch([_as_text(a) for a in batch.columns], names=[sql_name(n) for n in batch.schema.names])


def engine_column(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """One typed column as both engines hold it: what SQLite stores (see the module table)."""
    if pa.types.is_decimal(arr.type) and arr.type.precision <= EXACT_FLOAT_DIGITS:
        return decimal_to_float(arr)
    return _as_text(arr)


def engine_arrow(table: pa.Table) -> pa.Table:
    """A typed table (plan column names) as the engines hold it, with SQL names."""
    return pa.Table.from_arrays([engine_column(c) for c in table.columns],
                                names=[sql_name(n) for n in table.column_names])


def _python_values(values: Sequence[Any], ctype: ColumnType | None) -> pa.Array:
    """Python values fetched from SQLite as an Arrow array of the storage type their kind needs."""
    if ctype is None:
        return pa.array(values)
    if ctype.kind == "decimal":
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # text mixed with numbers: an expression's result
            return pa.array([None if v is None else str(v) for v in values], pa.string())
    if ctype.kind in ("time", "timestamp", "date"):
        return pa.array(values, pa.string())
    return pa.array(values, pa.int64() if ctype.kind == "bool" else ctype.arrow_type())


def from_sqlite_column(values: Sequence[Any], ctype: ColumnType | None) -> pa.Array:
    """Arrow array of one column read from SQLite as Python values, typed by its staged ``ctype``."""
    return from_sqlite_arrow(_python_values(values, ctype), ctype)


def from_sqlite_arrow(arr: pa.Array, ctype: ColumnType | None) -> pa.Array:
    """One column read from SQLite (Arrow as the driver typed it: text, int64, double or null), typed by its
    staged ``ctype``.

    ``ctype`` None keeps the driver's type (all-null -> string); every staged kind comes back as its plan
    Arrow type, exactly (decimals from their exact text or from numbers of at most 15 digits, whose
    shortest text is exact).
    """
    if ctype is None:
        return arr.cast(pa.string()) if pa.types.is_null(arr.type) else arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), ctype.arrow_type())
    kind = ctype.kind
    if kind == "decimal":
        return arr.cast(pa.string()).cast(ctype.arrow_type())  # integers and a double's shortest text: exact
    if kind in ("time", "timestamp", "date"):
        return parse_text(arr.cast(pa.string()), ctype.arrow_type())
    if kind == "bool":
        return arr.cast(pa.int64()).cast(pa.bool_())
    return arr.cast(ctype.arrow_type())
