"""Values Power BI keeps with fewer digits: counted once, per column, as a dataset version is written (consolidated
file or, without one, the partitioned files), from real Parquet parts."""

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.config.models import DatasetConfig, OutputConfig
from sf_assets.storage.output import build_version
from sf_assets.storage.output_columns import column_changes

WIDE = [Decimal("1234567890123456.78"), Decimal("-1234567890123456.78"), Decimal("123456789012345.6")]
SCHEMA = pa.schema([("Stage", pa.string()), ("Amount", pa.decimal128(18, 2)), ("Fee", pa.decimal128(19, 4)),
                    ("Tiny", pa.decimal128(38, 30)), ("Ratio", pa.float64())])


def _parts(folder: Path) -> list[Path]:
    rows = 300
    amounts = [WIDE[i // 100] if i % 100 == 7 else Decimal(i) / 100 for i in range(rows)]
    amounts[5] = None
    table = pa.table({
        "Stage": ["Won", "Lost", "Open"] * 100,
        "Amount": pa.array(amounts, pa.decimal128(18, 2)),
        "Fee": pa.array([Decimal("123456789012345.1234")] * rows, pa.decimal128(19, 4)),  # Fixed decimal: exact
        "Tiny": pa.array([Decimal("0.000000001234567890123456789")] + [Decimal("1E-12")] * (rows - 1),
                         pa.decimal128(38, 30)),
        "Ratio": [0.1 + 0.2] * rows,  # a double already: the model holds the same double
    }, schema=SCHEMA)
    folder.mkdir(parents=True)
    parts = [folder / "part-0.parquet", folder / "part-1.parquet"]
    pq.write_table(table.slice(0, 150), parts[0], row_group_size=40)
    pq.write_table(table.slice(150), parts[1], row_group_size=40)
    return parts


@pytest.mark.parametrize("consolidated, partition_cols", [(True, []), (False, ["Stage"])])
def test_values_with_more_than_15_significant_digits_are_counted_once(tmp_path, consolidated, partition_cols):
    cfg = OutputConfig(row_group_rows=50, max_rows_per_file=100, consolidate_for_powerbi=consolidated)
    dataset = DatasetConfig(name="opps", sql="SELECT 1", partition_cols=partition_cols)
    built = build_version(dataset, _parts(tmp_path / "parts"), SCHEMA, 300, tmp_path / "out", cfg, "r1")
    assert built.manifest["precision_loss"] == {
        "Amount": {"values": 3, "example": "1234567890123456.78"},
        "Tiny": {"values": 1, "example": "1.234567890123456789000E-9"},
    }


def test_column_changes_name_what_a_power_bi_model_sees():
    old = [{"name": "Id", "type": "string"}, {"name": "Amount", "type": "decimal128(18, 2)"},
           {"name": "Gone", "type": "string"}]
    assert column_changes(old, old) == {}
    new = [{"name": "Amount", "type": "double"}, {"name": "Id", "type": "string"}, {"name": "New", "type": "bool"}]
    assert column_changes(old, new) == {
        "added": ["New"], "removed": ["Gone"], "reordered": True,
        "retyped": [{"column": "Amount", "from": "decimal128(18, 2)", "to": "double"}]}
    assert column_changes(old, [*old, {"name": "New", "type": "bool"}])["reordered"] is False
