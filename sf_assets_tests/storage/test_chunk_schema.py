"""Schema check across chunk files: null-filled nillable columns, invalid chunks, the invalid threshold."""

import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.chunk_schema import TooManyInvalidChunks, check_chunks
from sf_assets_tests.storage.emulated_chunks import chunk_table, emulator_plan

PLAN = emulator_plan("Opportunity", critical=("Amount",), join_keys=("AccountId",))
GEN = DataGenerator({"Account": 50, "Opportunity": 400})


def _chunks(tmp_path: Path, drop: dict[int, list[str]]) -> list[Path]:
    files = []
    for i in range(4):
        table = chunk_table(GEN, PLAN, i * 100, (i + 1) * 100)
        table = table.drop_columns(drop.get(i, []))
        files.append(tmp_path / f"c{i}.parquet")
        pq.write_table(table, files[-1])
    return files


def test_missing_nillable_column_is_added_as_nulls(tmp_path, caplog):
    files = _chunks(tmp_path, {1: ["LeadSource"]})
    with caplog.at_level(logging.DEBUG, logger="sf_assets.storage.chunk_schema"):
        check = check_chunks(PLAN, files, 30)
    assert check.counts() == {"ok": 3, "fixed": 1, "invalid": 0}
    assert check.chunks[1].added == ("LeadSource",)
    assert "Validated 4 chunks: 3 OK, 1 fixed, 0 skipped" in caplog.text
    assert "added LeadSource as null" in caplog.text
    batch = next(check.batches(check.chunks[1]))
    assert batch.schema == PLAN.arrow_schema()
    assert batch.column("LeadSource").null_count == batch.num_rows


@pytest.mark.parametrize("column", ["Id", "Amount", "AccountId", "CloseDate"])
def test_missing_critical_or_required_column_makes_the_chunk_invalid(tmp_path, column):
    check = check_chunks(PLAN, _chunks(tmp_path, {2: [column]}), 30)
    assert [c.path.name for c in check.invalid] == ["c2.parquet"]
    assert column in check.invalid[0].reason
    assert len(check.valid) == 3


def test_unreadable_chunk_is_invalid(tmp_path):
    files = _chunks(tmp_path, {})
    files[0].write_bytes(b"not parquet")
    assert check_chunks(PLAN, files, 30).invalid[0].reason.startswith("unreadable")


def test_too_many_invalid_chunks_raise_a_clear_error(tmp_path):
    files = _chunks(tmp_path, {0: ["Id"], 1: ["Amount"]})
    with pytest.raises(
        TooManyInvalidChunks, match=r"2 of 4 chunks \(50.0%\) are invalid, above max_invalid_chunk_pct=30"
    ):
        check_chunks(PLAN, files, 30)
