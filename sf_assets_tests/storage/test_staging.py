"""SQLite staging: DDL, exact round trip of typed values, rerun safety, rollback, indexes, stats."""

import logging
import sqlite3
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.config.models import ObjectConfig, StagingConfig
from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage import staging_loading
from sf_assets.storage.staging import stage_object, staging_stats
from sf_assets.storage.staging_types import create_table_sql
from sf_assets_tests.storage.emulated_chunks import chunk_table, emulator_plan, write_chunks

PLAN = emulator_plan("Opportunity", join_keys=("AccountId",))
OBJ = ObjectConfig(name="Opportunity", soql="x", join_keys=["AccountId"], index_fields=["CloseDate", "Gone__c"])
CFG = StagingConfig(batch_rows=700)


@pytest.fixture()
def chunks(tmp_path):
    return write_chunks(DataGenerator({"Account": 100, "Opportunity": 2500}), PLAN, tmp_path / "chunks", 1000)


def _rows(db, sql):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_ddl_types_and_not_null():
    ddl = create_table_sql(PLAN, "Opportunity")
    assert '"Id" TEXT NOT NULL' in ddl
    assert '"Account_Name" TEXT,' in ddl
    assert '"Amount" DECIMAL_TEXT(18,2) COLLATE SF_DECIMAL,' in ddl  # TEXT affinity: exact; compared as numbers
    assert '"CloseDate" DATE NOT NULL' in ddl
    assert '"IsWon" BOOLEAN NOT NULL' in ddl
    assert '"CreatedDate" TIMESTAMP' in ddl


def test_round_trip_of_typed_values(tmp_path):
    plan = emulator_plan("Opportunity", "SELECT Id, Amount, CloseDate, IsWon, CreatedDate FROM Opportunity")
    table = pa.table({
        "Id": ["0061", "0062", "0063"],
        "Amount": pa.array([Decimal("1234.56"), None, Decimal("-1234567890123456.78")], pa.decimal128(18, 2)),
        "CloseDate": pa.array([19000, 0, 741807], pa.date32()), "IsWon": [True, False, True],
        "CreatedDate": pa.array([1_700_000_000_123_456, None, -8_520_336_000_000_000], pa.timestamp("us", "UTC")),
    }, schema=plan.arrow_schema())
    pq.write_table(table, tmp_path / "c.parquet")
    stage_object(tmp_path / "s.db", plan, [tmp_path / "c.parquet"], ObjectConfig(name="Opportunity", soql="x"), CFG)
    rows = _rows(
        tmp_path / "s.db",
        'SELECT Id, Amount, CloseDate, IsWon, CreatedDate, typeof(Amount) FROM "Opportunity" ORDER BY Id',
    )
    assert rows == [
        ("0061", "1234.56", "2022-01-08", 1, "2023-11-14 22:13:20.123456", "text"),
        ("0062", None, "1970-01-01", 0, None, "null"),
        ("0063", "-1234567890123456.78", "4000-12-31", 1, "1700-01-01 00:00:00.000000", "text"),
    ]
    with pytest.raises(sqlite3.IntegrityError):
        conn = sqlite3.connect(tmp_path / "s.db")
        conn.execute('INSERT INTO "Opportunity" (Id) VALUES (NULL)')


def test_rerun_replaces_rows_and_builds_indexes(tmp_path, chunks, caplog):
    db = tmp_path / "s.db"
    with caplog.at_level(logging.INFO, logger="sf_assets.storage.staging"):
        first = stage_object(db, PLAN, chunks, OBJ, CFG)
        second = stage_object(db, PLAN, chunks, OBJ, CFG)
    assert first.rows == second.rows == 2500
    assert _rows(db, 'SELECT count(*), count(DISTINCT Id) FROM "Opportunity"') == [(2500, 2500)]
    assert [ix.name for ix in second.indexes] == [
        "ix_opportunity_id",
        "ix_opportunity_accountid",
        "ix_opportunity_closedate",
    ]
    assert "Created index ix_opportunity_accountid on Opportunity(AccountId) in" in caplog.text
    stats = staging_stats(db)
    assert stats["tables"]["Opportunity"]["rows"] == 2500
    assert "ix_opportunity_closedate" in stats["tables"]["Opportunity"]["indexes"]
    assert stats["bytes"] > 0
    assert not _rows(db, "SELECT name FROM sqlite_master WHERE name LIKE '%__loading'")


def test_failed_load_rolls_back_and_keeps_the_previous_table(tmp_path, chunks, monkeypatch):
    db = tmp_path / "s.db"
    stage_object(db, PLAN, chunks, OBJ, CFG)
    before = _rows(db, 'SELECT * FROM "Opportunity" ORDER BY Id')
    calls = {"n": 0}
    real = staging_loading.to_sqlite_arrow

    def failing(batch):  # stands in for a disk failure on the third batch, after two committed batches
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real(batch)

    monkeypatch.setattr(staging_loading, "to_sqlite_arrow", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        stage_object(db, PLAN, chunks + chunks, OBJ, CFG)
    assert _rows(db, 'SELECT * FROM "Opportunity" ORDER BY Id') == before
    assert not _rows(db, "SELECT name FROM sqlite_master WHERE name LIKE '%__loading'")


def test_invalid_chunks_are_skipped_and_reported(tmp_path, chunks):
    bad = tmp_path / "bad.parquet"
    pq.write_table(chunk_table(DataGenerator({"Opportunity": 10}), PLAN, 0, 10).drop_columns(["Id"]), bad)
    result = stage_object(tmp_path / "s.db", PLAN, [*chunks, bad], OBJ, CFG)
    assert result.invalid_chunks == [bad]
    assert result.rows == 2500
