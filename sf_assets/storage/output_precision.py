"""Values that lose digits in Power BI: a decimal column Power BI loads as a "Decimal number" (a double, 15
significant digits) holding values of more than 15 significant digits (docs/VALUES.md, "What Power BI shows").

Power BI loads decimal128(19, 4) as a "Fixed decimal number" (exact); any other decimal becomes a double there, so
1234567890123456.78 shows as 1234567890123460. A float64 column is a double in the file and the same double in
the model: nothing is lost on the way in, so it is not counted. Counted per batch as the output is written
(pyarrow compute on the batch's decimal columns only): memory stays bounded by the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sf_assets.storage.output_types import POWERBI_DECIMAL

POWERBI_DOUBLE_DIGITS = 15


@dataclass
class _Column:
    values: int = 0
    example: str | None = None


def loses_digits(field_type: pa.DataType) -> bool:
    """Whether a column of ``field_type`` becomes a Power BI "Decimal number" from an exact decimal that can hold
    more than 15 significant digits."""
    return (bool(pa.types.is_decimal(field_type)) and field_type != POWERBI_DECIMAL
            and field_type.precision > POWERBI_DOUBLE_DIGITS)


def significant_digits(arr: pa.Array) -> pa.Array:
    """The significant digits of each decimal value (leading and trailing zeros left out; 0 for zero)."""
    digits = pc.replace_substring_regex(arr.cast(pa.string()), r"[eE][-+]?\d+$|[-.]", "")  # 1.23E-8 -> 123
    return pc.utf8_length(pc.utf8_trim(digits, "0"))


class PrecisionTally:
    """Per column of ``schema`` that Power BI loads as a double from an exact decimal: how many values have more
    than 15 significant digits, and the first of them (exact text)."""

    def __init__(self, schema: pa.Schema) -> None:
        self.columns = {f.name: _Column() for f in schema if loses_digits(f.type)}

    def observe(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Count the values of ``batch`` (the tally's schema) that lose digits in Power BI."""
        for name, column in self.columns.items():
            arr = batch.column(name)
            smallest = pa.scalar(Decimal(10) ** (POWERBI_DOUBLE_DIGITS - arr.type.scale), arr.type)
            arr = arr.filter(pc.greater_equal(pc.abs(arr), smallest))  # fewer digits below 10^15 units: fast path
            if len(arr) == 0:
                continue
            wide = pc.greater(significant_digits(arr), POWERBI_DOUBLE_DIGITS)
            count = pc.sum(wide).as_py() or 0
            if count:
                column.values += count
                if column.example is None:
                    column.example = str(arr.filter(wide)[0].as_py())

    def observe_file(self, path: Path) -> None:
        """Count the values of the Parquet file at ``path``, reading only the tally's columns."""
        if self.columns:
            with pq.ParquetFile(path) as handle:
                for batch in handle.iter_batches(columns=list(self.columns)):
                    self.observe(batch)

    def found(self) -> dict[str, dict[str, object]]:
        """``{column: {"values": n, "example": text}}`` for the columns with such values (empty: nothing lost)."""
        return {name: {"values": c.values, "example": c.example} for name, c in self.columns.items() if c.values}
