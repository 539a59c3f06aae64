"""Salesforce field types → Arrow / SQLite / pandas types.

Every column has a logical *kind*; the physical types follow from it. Chunk files (Parquet)
hold the Arrow types. Inside the dataset engines a column holds what the SQLite staging table
stores, so both engines see the same values and the same SQL works on both:

============  ============================  ===================  ==================
kind          Arrow (chunk files)           SQLite (declared)    pandas (Dask-SQL)
============  ============================  ===================  ==================
string        string                        TEXT                 string[pyarrow]
bool          bool                          INTEGER              boolean
int64         int64                         INTEGER              Int64
float64       float64                       REAL                 Float64
decimal p<=15 decimal128(p, s)              DECIMAL(p,s)         Float64
decimal p>15  decimal128(p, s)              DECIMAL_TEXT(p,s)    string[pyarrow]
date          date32                        TEXT ``YYYY-MM-DD``  string[pyarrow]
timestamp     timestamp("us", tz="UTC")     TEXT (ISO, UTC)      string[pyarrow]
time          time64("us")                  TEXT ``HH:MM:SS.f``  string[pyarrow]
============  ============================  ===================  ==================

Why text for dates and times: Salesforce stores 1700-01-01 … 4000-12-31, and pandas/Dask-SQL
timestamps are nanoseconds (1677-09-21 … 2262-04-11; dask-sql 2024.5 casts every TIMESTAMP
column to ``datetime64[ns]`` itself). ISO text (Arrow-backed, not Python objects) is exact over
the whole range, sorts and compares like the dates it spells, and is what SQLite stores anyway.
Why text for wide decimals: a double (SQLite REAL, pandas Float64) keeps 15 significant digits,
so a decimal of at most 15 digits round-trips exactly and stays a number for SQL, while a
currency(18, 2) value such as ``1234567890123456.78`` needs the exact text. The output stage
turns every staged column back into its Arrow type (``storage.output_types``). dask-sql 2024.5
maps only python-backed strings to VARCHAR; ``transform.dask_sql_internals`` registers the
Arrow-backed ones too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

Kind = Literal["string", "bool", "int64", "float64", "decimal", "date", "timestamp", "time"]

LONG_TEXT_LIMIT = 32_000  # Power BI truncates text cells at ~32k characters
MAX_DECIMAL_PRECISION = 38
DEFAULT_DECIMAL_PRECISION = 18
EXACT_FLOAT_DIGITS = 15  # every decimal of at most 15 significant digits round-trips through a double

_STRING_TYPES = (
    "id reference string textarea picklist multipicklist email phone url combobox "
    "encryptedstring anytype"
).split()
SF_TYPE_KINDS: dict[str, Kind] = {
    **{t: "string" for t in _STRING_TYPES},
    "boolean": "bool",
    "int": "int64",
    "long": "int64",
    "double": "float64",
    "currency": "decimal",
    "percent": "decimal",
    "date": "date",
    "datetime": "timestamp",
    "time": "time",
}

_SIMPLE_OVERRIDES: dict[str, Kind] = {
    "string": "string", "int64": "int64", "float64": "float64", "bool": "bool",
    "date": "date", "timestamp": "timestamp", "time": "time",
}
_DECIMAL_OVERRIDE_RE = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


class FieldTypeError(ValueError):
    """A type that cannot be mapped (critical field, bad override)."""


@dataclass(frozen=True)
class ColumnType:
    """A logical column type; ``precision``/``scale`` only for decimals."""

    kind: Kind
    precision: int | None = None
    scale: int | None = None

    def arrow_type(self) -> pa.DataType:
        """The Parquet/Arrow type."""
        if self.kind == "decimal":
            return pa.decimal128(self.precision or DEFAULT_DECIMAL_PRECISION, self.scale or 0)
        return _ARROW[self.kind]

    @property
    def decimal_as_text(self) -> bool:
        """True for a decimal that a double cannot hold exactly (engines keep it as exact text)."""
        return self.kind == "decimal" and (self.precision or DEFAULT_DECIMAL_PRECISION) > EXACT_FLOAT_DIGITS

    def sqlite_type(self) -> str:
        """The SQLite column type used in DDL (``DECIMAL_TEXT`` has TEXT affinity: exact)."""
        if self.kind == "decimal":
            name = "DECIMAL_TEXT" if self.decimal_as_text else "DECIMAL"
            return f"{name}({self.precision},{self.scale})"
        return _SQLITE[self.kind]

    def pandas_dtype(self) -> str:
        """The pandas dtype (a string pandas accepts) of the column inside Dask-SQL."""
        if self.kind == "decimal":
            return "string[pyarrow]" if self.decimal_as_text else "Float64"
        return _PANDAS[self.kind]


_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bool": pa.bool_(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "time": pa.time64("us"),
}
_SQLITE = {
    "string": "TEXT", "bool": "INTEGER", "int64": "INTEGER", "float64": "REAL",
    "date": "TEXT", "timestamp": "TEXT", "time": "TEXT",
}
_PANDAS = {
    "string": "string[pyarrow]", "bool": "boolean", "int64": "Int64", "float64": "Float64",
    "date": "string[pyarrow]", "timestamp": "string[pyarrow]", "time": "string[pyarrow]",
}


def decimal_type(precision: int, scale: int) -> ColumnType:
    """decimal(p, s) from describe: p clamped to 38, p == 0 means 18, s clamped to p."""
    p = min(precision, MAX_DECIMAL_PRECISION) if precision > 0 else DEFAULT_DECIMAL_PRECISION
    return ColumnType("decimal", p, max(0, min(scale, p)))


def parse_override(text: str) -> ColumnType:
    """Parse an override: string, int64, float64, bool, date, timestamp, time or decimal(p,s)."""
    key = text.strip().lower()
    if key in _SIMPLE_OVERRIDES:
        return ColumnType(_SIMPLE_OVERRIDES[key])
    m = _DECIMAL_OVERRIDE_RE.match(key)
    if m:
        p, s = int(m.group(1)), int(m.group(2))
        if not 1 <= p <= MAX_DECIMAL_PRECISION or s > p:
            raise FieldTypeError(f"override {text!r}: need 1 <= p <= 38 and s <= p")
        return ColumnType("decimal", p, s)
    raise FieldTypeError(
        f"unknown type override {text!r} (use string, int64, float64, bool, date, "
        "timestamp, time or decimal(p,s))"
    )


def map_sf_type(
    sf_type: str,
    precision: int = 0,
    scale: int = 0,
    *,
    name: str = "",
    critical: bool = False,
    decimals_as_float: bool = False,
    override: str | None = None,
) -> tuple[ColumnType, str | None]:
    """The column type of a Salesforce field and a warning (or None).

    An override wins over everything; an unmapped type becomes a string with a warning,
    except for a critical field, which raises FieldTypeError.
    """
    if override is not None:
        return parse_override(override), None
    kind = SF_TYPE_KINDS.get(sf_type.lower())
    if kind is None:
        message = f"field {name!r} has unmapped Salesforce type {sf_type!r}"
        if critical:
            raise FieldTypeError(f"Critical {message}")
        return ColumnType("string"), f"{message}; read as string"
    if kind == "decimal":
        if decimals_as_float:
            return ColumnType("float64"), None
        return decimal_type(precision, scale), None
    return ColumnType(kind), None


def holds_losslessly(source: ColumnType, target: ColumnType) -> bool:
    """True when every value of type ``source`` is kept exactly by a column of type ``target``.

    What a retyped field may keep: the Bulk CSV text of the new type parses into the old column type.
    Any type fits a string (the CSV text is kept); an integer fits a double (exact up to 2^53: Salesforce
    ``int`` fields have 9 digits) and a decimal with 19 integer digits; a decimal fits a wider decimal and,
    up to 15 digits, a double.
    """
    if source == target or target.kind == "string":
        return True
    if source.kind == "int64":
        return target.kind == "float64" or (
            target.kind == "decimal" and (target.precision or 0) - (target.scale or 0) >= 19)
    if source.kind == "decimal":
        p, s = source.precision or DEFAULT_DECIMAL_PRECISION, source.scale or 0
        if target.kind == "float64":
            return p <= EXACT_FLOAT_DIGITS
        if target.kind == "decimal":
            tp, ts = target.precision or DEFAULT_DECIMAL_PRECISION, target.scale or 0
            return ts >= s and tp - ts >= p - s
    return False
