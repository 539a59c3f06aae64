"""Parquet types that Power BI Desktop reads, and casting to them.

============================  ================================  ==========================
source (plan / engine) type   written as                        Power BI type
============================  ================================  ==========================
string, large_string          string (UTF-8)                    Text
bool                          bool                              True/False
any integer                   int64                             Whole number
float16/32/64                 float64                           Decimal number
decimal(p,s), s<=4, p-s<=15   decimal128(19,4)                  Fixed decimal number
other decimal(p,s)            float64 (~15 significant digits)  Decimal number
date                          date32                            Date
timestamp (any unit / zone)   timestamp(us, UTC)                Date/Time/Timezone (UTC)
time                          time64(us)                        Time
null (all-null expression)    string                            Text
============================  ================================  ==========================

Why: Power BI's fixed decimal is Decimal(19,4) and it turns every other decimal into a double,
so we write that double ourselves and every reader (pandas, DuckDB) sees the same values.
Timestamps are never nanoseconds or INT96; a naive timestamp is taken as UTC.
``decimals_as_float`` writes every decimal as float64.
"""

from __future__ import annotations

import pyarrow as pa

POWERBI_DECIMAL = pa.decimal128(19, 4)
UTC_MICROS = pa.timestamp("us", tz="UTC")


def powerbi_type(source: pa.DataType, decimals_as_float: bool = False) -> pa.DataType:
    """The Parquet type written for a column of ``source`` type (see the module table)."""
    if pa.types.is_dictionary(source):
        return powerbi_type(source.value_type, decimals_as_float)
    if pa.types.is_decimal(source):
        fits = source.scale <= 4 and source.precision - source.scale <= 15
        return POWERBI_DECIMAL if fits and not decimals_as_float else pa.float64()
    if pa.types.is_timestamp(source):
        return UTC_MICROS
    if pa.types.is_date(source):
        return pa.date32()
    if pa.types.is_time(source):
        return pa.time64("us")
    if pa.types.is_boolean(source):
        return pa.bool_()
    if pa.types.is_integer(source):
        return pa.int64()
    if pa.types.is_floating(source):
        return pa.float64()
    return pa.string()


def decimal_to_float(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Decimals to the nearest float64 (via text: Arrow's direct cast is off by an ulp, 3.01 -> 3.0100000000000002)."""
    return arr.cast(pa.string()).cast(pa.float64())


def cast_array(arr: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """``arr`` as ``target``: naive timestamps are UTC, datetimes truncate to dates, floats round to 4 places."""
    source = arr.type
    if source == target:
        return arr
    if pa.types.is_dictionary(source):
        arr, source = arr.cast(source.value_type), source.value_type
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(target):
        if source.tz is None:
            arr = arr.cast(pa.timestamp(source.unit, tz="UTC"))
        return arr.cast(target)
    if pa.types.is_timestamp(source) and pa.types.is_date(target):
        return arr.cast(pa.timestamp(source.unit)).cast(target)
    if pa.types.is_decimal(source) and pa.types.is_floating(target):
        return decimal_to_float(arr)
    if pa.types.is_decimal(target) and pa.types.is_floating(source):
        return arr.cast(target, safe=False)
    return arr.cast(target)


def cast_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` (same column order) with exactly ``schema``'s names and types."""
    arrays = [cast_array(col, fld.type) for col, fld in zip(table.columns, schema)]
    return pa.Table.from_arrays(arrays, schema=schema)
