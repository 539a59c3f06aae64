"""Parquet types that Power BI Desktop reads, and casting to them.

============================  ================================  ==========================
source (plan / engine) type   written as                        Power BI type
============================  ================================  ==========================
string, large_string          string (UTF-8)                    Text
bool                          bool                              True/False
any integer                   int64                             Whole number
float16/32/64                 float64                           Decimal number
decimal(p,s), s<=4, p-s<=15   decimal128(19,4)                  Fixed decimal number
other decimal(p,s)            decimal128(p,s) (exact)           Decimal number (a double)
date                          date32                            Date
timestamp (any unit / zone)   timestamp(us, UTC)                Date/Time/Timezone (UTC)
time                          time64(us)                        Time
null (all-null expression)    string                            Text
============================  ================================  ==========================

Why: Power BI's Fixed Decimal is Decimal(19,4); a decimal that does not fit it (e.g. 16 integer
digits) is written with its own precision and scale, so the file holds the exact value (pandas,
DuckDB and Spark read it exactly) and Power BI loads it as a Decimal Number (a double, 15-17
significant digits): we never round in our code. ``decimals_as_float`` writes every decimal as
float64 instead. Timestamps are never nanoseconds or INT96; a naive timestamp is taken as UTC.
Inside the engines dates, times, timestamps and wide decimals are exact text
(``salesforce.field_types``); ``cast_array`` parses that text back into the Arrow type.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

POWERBI_DECIMAL = pa.decimal128(19, 4)
UTC_MICROS = pa.timestamp("us", tz="UTC")


def powerbi_type(source: pa.DataType, decimals_as_float: bool = False) -> pa.DataType:
    """The Parquet type written for a column of ``source`` type (see the module table)."""
    if pa.types.is_dictionary(source):
        return powerbi_type(source.value_type, decimals_as_float)
    if pa.types.is_decimal(source):
        if decimals_as_float:
            return pa.float64()
        fits = source.scale <= 4 and source.precision - source.scale <= 15
        return POWERBI_DECIMAL if fits else source
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


def parse_text(arr: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """Engine text (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, ``HH:MM:SS.ffffff``,
    exact decimals) as ``target``; exact over Salesforce's whole range."""
    arr = arr.cast(pa.string())
    if pa.types.is_timestamp(target):  # naive text is UTC: casting naive -> UTC keeps the wall time
        return arr.cast(pa.timestamp(target.unit)).cast(target)
    if pa.types.is_time(target):
        stamp = pc.binary_join_element_wise("1970-01-01 ", arr, "").cast(pa.timestamp("us"))
        return stamp.cast(pa.int64()).cast(pa.time64("us")).cast(target)
    return arr.cast(target)


def _is_text(source: pa.DataType) -> bool:
    return bool(pa.types.is_string(source) or pa.types.is_large_string(source))


def cast_array(arr: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """``arr`` as ``target``: naive timestamps are UTC, datetimes truncate to dates, engine text is
    parsed, floats become decimals through their shortest text (an inexact one raises)."""
    source = arr.type
    if source == target:
        return arr
    if pa.types.is_dictionary(source):
        arr, source = arr.cast(source.value_type), source.value_type
    if _is_text(source) and (pa.types.is_temporal(target) or pa.types.is_decimal(target)):
        return parse_text(arr, target)
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(target):
        if source.tz is None:
            arr = arr.cast(pa.timestamp(source.unit, tz="UTC"))
        return arr.cast(target)
    if pa.types.is_timestamp(source) and pa.types.is_date(target):
        return arr.cast(pa.timestamp(source.unit)).cast(target)
    if pa.types.is_decimal(source) and pa.types.is_floating(target):
        return decimal_to_float(arr)
    if pa.types.is_decimal(target) and pa.types.is_floating(source):
        return arr.cast(pa.string()).cast(target)  # shortest round-trip text: exact, never rounded
    return arr.cast(target)


def cast_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` (same column order) with exactly ``schema``'s names and types."""
    arrays = [cast_array(col, fld.type) for col, fld in zip(table.columns, schema)]
    return pa.Table.from_arrays(arrays, schema=schema)
