"""Dataset builds: both engines agree row-for-row and type-for-type; failures are isolated and reported."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.config.models import DatasetConfig, ObjectConfig, StagingConfig
from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.staging import stage_object
from sf_assets.transform import dask_input, engine_sqlite
from sf_assets.transform.datasets import build_datasets
from sf_assets.transform.engine_dask import DaskSqlRunner
from sf_assets.transform.engine_sqlite import SqliteRunner
from sf_assets.transform.staged import staged_tables
from sf_assets_tests.storage.emulated_chunks import chunk_table, emulator_plan

JOIN = DatasetConfig(
    name="opportunity_account",
    sql="SELECT o.*, a.Name AS AccountName, a.Industry AS AccountIndustry, a.BillingCountry AS AccountCountry, "
    "a.CreatedDate AS AccountCreated FROM Opportunity o LEFT JOIN Account a ON o.AccountId = a.Id",
)
WIDGET = DatasetConfig(name="widget", sql="SELECT * FROM Widget__c")
BAD = DatasetConfig(name="broken", sql="SELECT NoSuchColumn FROM Opportunity")


def read(result) -> pa.Table:
    table = pa.concat_tables(pq.read_table(p) for p in result.result.parts)
    return table.sort_by([("Id", "ascending")])


@pytest.fixture(scope="module")
def sqlite_report(staging_db, tmp_path_factory):
    return build_datasets([JOIN, BAD, WIDGET], staging_db, tmp_path_factory.mktemp("sqlite"), SqliteRunner())


@pytest.fixture(scope="module")
def dask_report(staging_db, dask_session_client, tmp_path_factory):
    return build_datasets([JOIN, BAD, WIDGET], staging_db, tmp_path_factory.mktemp("dask"),
                          DaskSqlRunner(dask_session_client))


@pytest.mark.parametrize("name", ["opportunity_account", "widget"])
def test_engines_agree_row_for_row_and_type_for_type(sqlite_report, dask_report, name):
    a, b = read(sqlite_report[name]), read(dask_report[name])
    assert a.schema == b.schema
    assert a.num_rows == b.num_rows > 0
    assert a.equals(b)


def test_join_result_types_and_names(sqlite_report):
    schema = sqlite_report["opportunity_account"].result.schema
    assert schema.field("Account_Name").type == pa.string()
    assert schema.field("Amount").type == pa.decimal128(18, 2)  # does not fit Decimal(19,4): kept exact
    assert schema.field("Probability").type == pa.decimal128(19, 4)
    assert schema.field("CloseDate").type == pa.date32()
    assert schema.field("AccountCreated").type == pa.timestamp("us", "UTC")
    assert sqlite_report["opportunity_account"].source_rows == {"Account": 400, "Opportunity": 3000}


def test_failing_dataset_is_reported_and_does_not_stop_the_others(sqlite_report, dask_report):
    for report, engine in ((sqlite_report, "sqlite"), (dask_report, "dask_sql")):
        assert report.failed == ["broken"]
        assert report["broken"].error.startswith(f"Dataset 'broken' failed on {engine}:")
        assert "nosuchcolumn" in report["broken"].error.lower()
        assert report["widget"].ok


def test_sqlite_input_path_gives_the_same_result(staging_db, dask_session_client, dask_report, tmp_path):
    report = build_datasets([JOIN], staging_db, tmp_path, DaskSqlRunner(dask_session_client, source="sqlite"))
    assert read(report["opportunity_account"]).equals(read(dask_report["opportunity_account"]))


def test_transient_errors_are_retried(staging_db, tmp_path, monkeypatch):
    real, calls = engine_sqlite.run_sqlite, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise OSError("file is locked by antivirus")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_sqlite, "run_sqlite", flaky)
    report = build_datasets([WIDGET], staging_db, tmp_path, SqliteRunner(), retry_wait_s=0)
    assert report["widget"].ok and report["widget"].attempts == 3


def test_a_large_chunk_file_spreads_over_partitions_of_its_row_groups(dask_session_client, tmp_path, monkeypatch):
    """A chunk of millions of rows (`chunk_size: auto`) must not become one partition: a worker's memory is bounded
    by PARTITION_ROWS, and the partitions of row groups give the same rows, in order, as the SQLite path."""
    gen = DataGenerator({"Account": 400, "Opportunity": 3000})
    for name in ("Account", "Opportunity"):
        plan = emulator_plan(name)
        path = tmp_path / f"{name}.parquet"
        pq.write_table(chunk_table(gen, plan, 0, gen.rows(name)), path, row_group_size=500)  # 6 groups
        stage_object(tmp_path / "staging.db", plan, [path], ObjectConfig(name=name, soql="x"), StagingConfig())
    monkeypatch.setattr(dask_input, "PARTITION_ROWS", 1000)
    table = staged_tables(tmp_path / "staging.db")["Opportunity"]
    assert dask_input.dask_table(table, tmp_path / "staging.db").npartitions == 3  # 2 row groups each

    by_groups = build_datasets([JOIN], tmp_path / "staging.db", tmp_path / "groups", DaskSqlRunner(dask_session_client))
    by_sqlite = build_datasets([JOIN], tmp_path / "staging.db", tmp_path / "sqlite",
                               DaskSqlRunner(dask_session_client, source="sqlite"))
    groups, sqlite = by_groups["opportunity_account"].result, by_sqlite["opportunity_account"].result
    assert len(groups.parts) == 3
    in_order = pa.concat_tables(pq.read_table(p) for p in groups.parts)
    assert in_order.num_rows == 3000 and in_order.column("Id").to_pylist() == sorted(in_order.column("Id").to_pylist())
    assert in_order.equals(pa.concat_tables(pq.read_table(p) for p in sqlite.parts))
