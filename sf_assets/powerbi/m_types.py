"""The Power Query M type each Parquet column is set to: one rule, from the Arrow type (docs/POWERBI.md).

Decimals that Power BI keeps exactly as a Fixed decimal number (at most 4 decimals and 15 integer digits,
its (19, 4)) become `Currency.Type`; any other decimal becomes `type number` (a Decimal number, a double),
which is what Power BI loads such a decimal as anyway (docs/VALUES.md, "What Power BI shows").
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pat

FIXED_DECIMAL_SCALE = 4     # Power BI's Fixed decimal number: 4 digits right of the separator
FIXED_DECIMAL_INTEGERS = 15  # and 19 digits in all


def m_type(column: pa.Field) -> str:
    """The M type expression for `column` (ValueError naming the column when its type has none)."""
    kind = column.type
    if pat.is_string(kind) or pat.is_large_string(kind):
        return "type text"
    if pat.is_boolean(kind):
        return "type logical"
    if pat.is_integer(kind):
        return "Int64.Type"
    if pat.is_floating(kind):
        return "type number"
    if pat.is_decimal(kind):
        fits = kind.scale <= FIXED_DECIMAL_SCALE and kind.precision - kind.scale <= FIXED_DECIMAL_INTEGERS
        return "Currency.Type" if fits else "type number"
    if pat.is_timestamp(kind):
        return "type datetimezone" if kind.tz is not None else "type datetime"
    if pat.is_date(kind):
        return "type date"
    if pat.is_time(kind):
        return "type time"
    if pat.is_binary(kind) or pat.is_large_binary(kind):
        return "type binary"
    raise ValueError(f"column {column.name} has the Parquet type {kind}, which no Power Query type holds")


def is_utc_timestamp(column: pa.Field) -> bool:
    """A timestamp column adjusted to UTC (read as `type datetimezone` at offset +00:00)."""
    return pat.is_timestamp(column.type) and column.type.tz is not None
