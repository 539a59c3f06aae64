"""Bulk CSV casting reads every column as a string (nothing passes through a float), then casts
with pyarrow.compute: Arrow's decimal parser is exact and understands exponents (``2.5E7``).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sf_assets.schema.column_types import MAX_DECIMAL_PRECISION
from sf_assets.schema.field_plan import FieldPlan, PlannedColumn


class CsvCastError(ValueError):
    """A Bulk CSV value that does not parse as its column's type."""


def arrow_convert_options(plan: FieldPlan) -> pacsv.ConvertOptions:
    """Read every column asked of Salesforce as a string (empty field → null), in plan order."""
    names = list(plan.query_column_names)
    return pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        include_columns=names,
    )


def arrow_parse_options() -> pacsv.ParseOptions:
    """Bulk CSV: comma-separated, double-quoted, CR/LF allowed inside quoted values."""
    return pacsv.ParseOptions(newlines_in_values=True)


Caster = Callable[[pa.ChunkedArray], pa.ChunkedArray]


def _to_int64(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    try:
        return arr.cast(pa.int64())
    except pa.ArrowInvalid:  # "23.0" or "2.5E7": exact via decimal, rejects fractions
        return arr.cast(pa.decimal128(MAX_DECIMAL_PRECISION, 0)).cast(pa.int64())


def _to_bool(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    is_true = pc.equal(arr, "true")
    bad = pc.and_(pc.invert(is_true), pc.not_equal(arr, "false"))
    if pc.any(bad).as_py():
        raise pa.ArrowInvalid("expected 'true' or 'false'")
    return is_true


def _to_time(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    clock = pc.replace_substring_regex(arr, r"Z$", "")
    stamp = pc.binary_join_element_wise("1970-01-01T", clock, "").cast(pa.timestamp("us"))
    return stamp.cast(pa.int64()).cast(pa.time64("us"))


def _caster(column: PlannedColumn) -> Caster:
    kind = column.kind
    if kind == "bool":
        return _to_bool
    if kind == "int64":
        return _to_int64
    if kind == "time":
        return _to_time
    target = column.arrow_type
    return lambda arr: arr.cast(target)


def _first_bad_value(arr: pa.ChunkedArray, cast: Caster) -> str | None:
    """Bisect to the first value that does not cast (only runs after a failure)."""
    lo, n = 0, len(arr)
    while n > 1:
        half = n // 2
        try:
            cast(arr.slice(lo, half))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            n = half
        else:
            lo, n = lo + half, n - half
    return arr[lo].as_py() if n == 1 else None


def _strip_nul(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    if pc.any(pc.match_substring(arr, "\x00")).as_py():
        return pc.replace_substring(arr, "\x00", "")
    return arr


def cast_column(
    arr: pa.ChunkedArray | pa.Array, column: PlannedColumn, where: str = ""
) -> pa.ChunkedArray:
    """Cast one Bulk CSV string column to its planned Arrow type (empty string → null)."""
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    if arr.type != pa.string():
        arr = arr.cast(pa.string())
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    if column.kind == "string":
        out = _strip_nul(arr)
    else:
        cast = _caster(column)
        try:
            out = cast(arr)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            bad = _first_bad_value(arr, cast)
            raise CsvCastError(
                f"{where}column {column.name!r} ({column.sf_type} -> {column.arrow_type}): "
                f"cannot parse value {bad!r}: {str(exc).splitlines()[0]}"
            ) from None
    if not column.nullable and out.null_count:
        raise CsvCastError(
            f"{where}column {column.name!r} is not nullable but has {out.null_count} empty value(s)"
        )
    return out


def cast_csv_table(table: pa.Table, plan: FieldPlan) -> pa.Table:
    """Cast a table of Bulk CSV strings to ``plan.arrow_schema()`` (columns in plan order; absent ones all null)."""
    expected = list(plan.query_column_names)
    missing = [n for n in expected if n not in table.column_names]
    extra = [n for n in table.column_names if n not in expected]
    if missing or extra:
        raise CsvCastError(
            f"{plan.object_name}: CSV columns do not match the field plan "
            f"(missing {missing}, unexpected {extra})"
        )
    where = f"{plan.object_name}: "
    arrays = [pa.nulls(table.num_rows, c.arrow_type) if c.absent else cast_column(table.column(c.name), c, where)
              for c in plan.columns]
    return pa.Table.from_arrays(arrays, schema=plan.arrow_schema())
