"""SQL on exact values: wide decimals (exact text) and dates (ISO text) filter, sort and index by
value on both engines; expectations come from the emulator's generator."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pyarrow.parquet as pq
import pytest

from sf_assets.config.models import DatasetConfig, ObjectConfig, StagingConfig
from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.sqlite_util import connect
from sf_assets.storage.staging import stage_object
from sf_assets.transform.datasets import build_datasets
from sf_assets.transform.engine_dask import DaskSqlRunner
from sf_assets.transform.engine_sqlite import SqliteRunner
from sf_assets_tests.storage.emulated_chunks import emulator_plan, write_chunks
from sf_assets_tests.transform.conftest import ROWS


def opportunities() -> list[dict]:
    gen = DataGenerator(ROWS)
    table = gen.generate("Opportunity", 0, gen.rows("Opportunity"), ["Id", "Amount", "CloseDate"])
    return table.to_pylist()


def run(sql: str, staging_db, tmp_path, engine: str, client=None) -> list[dict]:
    runner = DaskSqlRunner(client) if engine == "dask_sql" else SqliteRunner()
    report = build_datasets([DatasetConfig(name="q", sql=sql)], staging_db, tmp_path, runner)
    assert report["q"].ok, report["q"].error
    return [row for part in report["q"].result.parts for row in pq.read_table(part).to_pylist()]


def test_sqlite_compares_and_sorts_wide_decimals_by_value(staging_db, tmp_path):
    rows = run(
        "SELECT Id, Amount FROM Opportunity WHERE Amount > 1000 ORDER BY Amount, Id", staging_db, tmp_path, "sqlite"
    )
    expected = sorted((r for r in opportunities() if r["Amount"] is not None and r["Amount"] > 1000),
                      key=lambda r: (r["Amount"], r["Id"]))
    assert [(r["Id"], r["Amount"]) for r in rows] == [(r["Id"], r["Amount"]) for r in expected]
    assert rows[-1]["Amount"] == Decimal("1234567890123456.78")  # the widest value, exact and last
    top = run("SELECT MAX(Amount) AS Top, MIN(Amount) AS Bottom FROM Opportunity", staging_db, tmp_path / "m", "sqlite")
    assert (top[0]["Top"], top[0]["Bottom"]) == ("1234567890123456.78", "-1234567890123456.78")


@pytest.mark.parametrize("engine", ["sqlite", "dask_sql"])
def test_dates_beyond_2262_filter_as_dates_on_both_engines(staging_db, dask_session_client, tmp_path, engine):
    client = dask_session_client if engine == "dask_sql" else None
    rows = run("SELECT Id, CloseDate FROM Opportunity WHERE CloseDate >= '3000-01-01' OR CloseDate < '1800-01-01'",
               staging_db, tmp_path, engine, client)
    expected = {r["Id"]: r["CloseDate"] for r in opportunities()
                if r["CloseDate"] is not None and not dt.date(1800, 1, 1) <= r["CloseDate"] < dt.date(3000, 1, 1)}
    assert {r["Id"]: r["CloseDate"] for r in rows} == expected
    assert set(expected.values()) == {dt.date(1700, 1, 1), dt.date(4000, 12, 31)}


def test_dask_compares_wide_decimals_through_cast(staging_db, dask_session_client, tmp_path):
    rows = run("SELECT Id, Amount FROM Opportunity WHERE CAST(Amount AS DOUBLE) > 1000", staging_db, tmp_path,
               "dask_sql", dask_session_client)
    expected = {r["Id"]: r["Amount"] for r in opportunities() if r["Amount"] is not None and r["Amount"] > 1000}
    assert {r["Id"]: r["Amount"] for r in rows} == expected


def test_index_on_a_wide_decimal_orders_by_value(tmp_path):
    gen = DataGenerator({"Opportunity": 1500})
    plan = emulator_plan("Opportunity")
    files = write_chunks(gen, plan, tmp_path / "chunks", 500)
    db = tmp_path / "staging.db"
    stage_object(db, plan, files, ObjectConfig(name="Opportunity", soql="x", index_fields=["Amount"]), StagingConfig())
    conn = connect(db)
    via_index = [r[0] for r in conn.execute('SELECT Amount FROM "Opportunity" INDEXED BY ix_opportunity_amount '
                                            "WHERE Amount IS NOT NULL ORDER BY Amount")]
    amounts = [a for a in gen.generate("Opportunity", 0, 1500, ["Amount"]).column(0).to_pylist() if a is not None]
    assert [Decimal(v) for v in via_index] == sorted(amounts)  # chunk files hold every generated row
    assert np.all(np.diff([float(v) for v in via_index]) >= 0)


def test_numeric_comparison_on_exact_text_fails_with_a_hint_on_dask(staging_db, dask_session_client, tmp_path):
    report = build_datasets([DatasetConfig(name="q", sql="SELECT Id FROM Opportunity WHERE Amount > 1000")],
                            staging_db, tmp_path, DaskSqlRunner(dask_session_client))
    assert not report["q"].ok
    assert "CAST(column AS DOUBLE)" in report["q"].error and "docs/VALUES.md" in report["q"].error
