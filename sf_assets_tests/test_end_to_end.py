"""A full refresh through Dagster against the emulator: the Power BI file equals the join computed
independently from the emulator's own data; health JSON, share copy, reruns and failures."""

import json

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from sf_assets.config import load_config
from sf_assets.defs.build import build_definitions
from sf_assets.defs.driver import execute_refresh
from sf_assets.emulator import FaultPlan
from sf_assets.storage.sqlite_util import connect
from sf_assets_tests.pipeline_helpers import write_config

OBJECTS = [
    {"name": "Account", "soql": "SELECT Id, Name, Industry, LastModifiedDate FROM Account"},
    {
        "name": "Opportunity",
        "join_keys": ["AccountId"],
        "soql": "SELECT Id, AccountId, Name, StageName, Amount, CloseDate, IsWon, Description, LastModifiedDate FROM "
        "Opportunity",
    },
]
JOIN = ("SELECT o.Id, o.AccountId, o.Name, o.Amount, o.CloseDate, o.IsWon, o.Description, o.LastModifiedDate, "
        "a.Name AS AccountName FROM Opportunity o LEFT JOIN Account a ON o.AccountId = a.Id")


def expected_join(org) -> pa.Table:
    """The join computed from the emulator's generator, not from anything the pipeline wrote."""
    data = org.data

    def live(name, fields):
        table = data.generate(name, 0, data.row_count(name, include_deleted=True), fields=[*fields, "IsDeleted"])
        return table.filter(pc.invert(table.column("IsDeleted"))).drop(["IsDeleted"])

    accounts = live("Account", ["Id", "Name"]).rename_columns(["AccountId", "AccountName"])
    opps = live(
        "Opportunity", ["Id", "AccountId", "Name", "Amount", "CloseDate", "IsWon", "Description", "LastModifiedDate"]
    )
    return opps.join(accounts, "AccountId", join_type="left outer").sort_by("Id")


def refresh(config_path, instance, **kwargs):
    return execute_refresh(load_config(config_path), instance, **kwargs)


@pytest.fixture()
def pipeline(org, tmp_path):
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=[{"name": "opportunities", "sql": JOIN}],
                        transform={"engine": "dask_sql"},
                        dask={"n_workers": 1, "threads_per_worker": 2, "memory_limit": "2GB"},
                        extraction={"chunk_size": 700}, paths={"create_share_dir": True})
    with dg.instance_for_test() as instance:
        yield path, instance


def test_full_refresh_output_equals_independent_join(org, pipeline, tmp_path):
    path, instance = pipeline
    outcome = refresh(path, instance)
    assert outcome.ok, outcome.failures
    stable = tmp_path / "output" / "opportunities" / "opportunities.parquet"
    table = pq.read_table(stable).sort_by("Id")
    expected = expected_join(org)
    assert table.num_rows == expected.num_rows > 2000
    # Documented Power BI types: 18-char Id strings, date32, UTC microsecond timestamps, bool.
    schema = table.schema
    assert schema.field("Id").type == pa.string() and schema.field("CloseDate").type == pa.date32()
    assert schema.field("LastModifiedDate").type == pa.timestamp("us", tz="UTC")
    assert schema.field("IsWon").type == pa.bool_()
    for column in ("Id", "AccountId", "Name", "CloseDate", "IsWon", "Description", "LastModifiedDate", "AccountName"):
        assert table.column(column).to_pylist() == expected.column(column).to_pylist(), column
    # currency(18, 2) has 16 integer digits, more than Power BI's Decimal(19, 4) holds: written exactly as
    # decimal(18, 2).
    assert schema.field("Amount").type == pa.decimal128(18, 2)
    assert table.column("Amount").to_pylist() == expected.column("Amount").to_pylist()
    assert any("\n" in (d or "") for d in table.column("Description").to_pylist())  # CR/LF survived

    assert not (tmp_path / "work" / "chunks" / outcome.refresh_id).exists()  # temporary chunk files removed
    health = json.loads(outcome.health_path.read_text(encoding="utf-8"))
    assert health["status"] == "success" and health["rows_per_object"]["Opportunity"] == org.data.row_count(
        "Opportunity"
    )
    assert org.access_token not in outcome.health_path.read_text(encoding="utf-8")
    copies = health["published"]
    assert len(copies) == 1 and copies[0]["ok"]
    share_file = tmp_path / "share" / copies[0]["path"].rsplit("/", 1)[-1]
    assert share_file.read_bytes() == stable.read_bytes()
    assert (share_file.parent / (share_file.name + "__READY")).is_file()

    # A second refresh replaces the staging table (no duplicates) and the output.
    org.reset_counters()
    second = refresh(path, instance, new_refresh=True)
    assert second.ok and second.refresh_id != outcome.refresh_id
    conn = connect(tmp_path / "state" / "staging.db")
    assert conn.execute('SELECT COUNT(*) FROM "Opportunity"').fetchone()[0] == org.data.row_count("Opportunity")
    assert pq.read_metadata(stable).num_rows == expected.num_rows
    partitions = instance.get_dynamic_partitions("Opportunity_chunks")
    assert partitions == [f"c{i:04d}" for i in range(1, 5)]  # stable keys: the same chunk positions every refresh


def test_failed_dataset_keeps_previous_output_and_writes_failed_health(org, pipeline, tmp_path):
    path, instance = pipeline
    assert refresh(path, instance).ok
    stable = tmp_path / "output" / "opportunities" / "opportunities.parquet"
    before = stable.read_bytes()
    broken = path.read_text(encoding="utf-8").replace("LEFT JOIN Account a", "LEFT JOIN NoSuchTable a")
    path.write_text(broken, encoding="utf-8")
    outcome = refresh(path, instance, new_refresh=True)
    assert not outcome.ok
    assert stable.read_bytes() == before
    health = json.loads(outcome.health_path.read_text(encoding="utf-8"))
    assert health["status"] == "failed" and health["errors"]["count"] >= 1
    assert any("opportunities" in message for message in health["errors"]["last"])
    assert "nosuchtable" in health["outputs"]["failed"]["opportunities"].lower()  # which dataset failed, and why
    assert org.access_token not in outcome.health_path.read_text(encoding="utf-8")


def refresh_with_failed_account_chunk(org, tmp_path, instance):
    """A refresh whose only Account chunk fails (its first Bulk job ends Failed; one attempt allowed); faults off
    after."""
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=[{"name": "opportunities", "sql": JOIN}],
                        extraction={"chunk_size": 500}, retry={"attempts": 1}, paths={"share_dir": None})
    org.set_faults(FaultPlan.parse("job_fail_once:Account"))
    first = refresh(path, instance)
    org.set_faults(FaultPlan())
    org.reset_counters()
    return path, first


def test_failed_chunks_then_resume_extracts_only_what_is_missing(org, tmp_path):
    with dg.instance_for_test() as instance:
        path, first = refresh_with_failed_account_chunk(org, tmp_path, instance)
        assert not first.ok and any(f.startswith("1 chunk of Account failed: Bulk job ") and " ended Failed: " in f
                                    for f in first.failures), first.failures
        health = json.loads(first.health_path.read_text(encoding="utf-8"))
        assert health["status"] == "failed" and health["chunks"]["Account"]["failed"] == 1
        assert health["chunks"]["Opportunity"]["failed"] == 0 and health["chunks"]["Opportunity"]["ok"] >= 4
        for name, expected in (("Account", {"FAILED"}), ("Opportunity", {"MATERIALIZED"})):
            pdef = dg.DynamicPartitionsDefinition(name=f"{name}_chunks")
            statuses = instance.get_status_by_partition(
                dg.AssetKey(["salesforce", name]), instance.get_dynamic_partitions(pdef.name), pdef)
            assert {s.value for s in statuses.values()} == expected  # the UI shows which chunks failed

        second = refresh(path, instance)
        assert second.ok, second.failures
        assert second.refresh_id == first.refresh_id  # the unfinished refresh was resumed
        assert org.counters()["jobs_created"] == {"Account": 1}  # only the failed chunk ran again
        table = pq.read_table(tmp_path / "output" / "opportunities" / "opportunities.parquet")
        assert sorted(table.column("Id").to_pylist()) == expected_join(org).column("Id").to_pylist()


def test_failed_chunk_rematerialized_alone_like_from_the_ui(org, tmp_path):
    with dg.instance_for_test() as instance:
        path, first = refresh_with_failed_account_chunk(org, tmp_path, instance)
        assert not first.ok
        (failed_key,) = instance.get_dynamic_partitions("Account_chunks")
        defs = build_definitions(str(path))
        account = defs.resolve_asset_graph().assets_def_for_key(dg.AssetKey(["salesforce", "Account"]))
        # What the UI's "Materialize" of one failed partition runs: that partition alone, no refresh tag.
        result = dg.materialize([a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.key == account.key],
                                instance=instance, resources=defs.resources, partition_key=failed_key)
        assert result.success
        (event,) = result.asset_materializations_for_node("extract_Account")
        assert event.partition == failed_key
        assert event.metadata["refresh_id"].value == first.refresh_id
        assert event.metadata["id_range"].value == "[-inf, +inf)"
        assert event.metadata["rows"].value == org.data.row_count("Account")
        assert org.counters()["jobs_created"] == {"Account": 1}
        status = instance.get_status_by_partition(account.key, [failed_key], account.partitions_def)
        assert status[failed_key].value == "MATERIALIZED"


def test_versions_pruned_and_dataset_folder_published(org, tmp_path):
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=[{"name": "opportunities", "sql": JOIN}],
                        output={"keep_versions": 1}, publish={"include_dataset_folder": True},
                        paths={"create_share_dir": True})
    with dg.instance_for_test() as instance:
        first, second = refresh(path, instance), refresh(path, instance, new_refresh=True)
    assert first.ok and second.ok
    versions = [p.name for p in (tmp_path / "output" / "opportunities").iterdir() if p.is_dir()]
    assert versions == [f"v{second.refresh_id}"]  # keep_versions: 1
    copies = sorted(p.name for p in (tmp_path / "share").iterdir() if p.is_dir() and p.name.endswith(second.refresh_id))
    assert len(copies) == 1 and copies[0].startswith("opportunities_dataset__")
    assert any((tmp_path / "share" / copies[0]).rglob("*.parquet"))
