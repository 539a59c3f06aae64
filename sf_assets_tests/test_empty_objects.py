"""Empty objects are normal: a real refresh (emulator over HTTPS, SQLite engine) where one object has no rows in
the org and another's SOQL matches nothing, for each form a 0-record Bulk job may answer with."""

import json

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.output_types import powerbi_type
from sf_assets.storage.sqlite_util import connect
from sf_assets.storage.state_db import state_session
from sf_assets_tests.pipeline_helpers import write_config

WIDGET_FIELDS = "Id, Name, Flag__c, Count__c, Ratio__c, Amount__c, Day__c, Stamp__c, Clock__c, Tags__c, Account__c"
OBJECTS = [
    # (no AnnualRevenue: its 18-digit values would raise the precision warning, tested in test_schema_drift)
    {"name": "Account", "soql": "SELECT Id, Name, LastModifiedDate FROM Account"},
    {"name": "Widget__c", "soql": f"SELECT {WIDGET_FIELDS} FROM Widget__c"},  # no rows in the org
    {"name": "Contact", "soql": "SELECT Id, LastName, AccountId FROM Contact WHERE LastName = 'Nobody at all'"},
]
DATASETS = [
    {"name": "accounts", "sql": "SELECT * FROM Account"},
    {"name": "widgets", "sql": "SELECT * FROM Widget__c"},
    {"name": "account_contacts",
     "sql": "SELECT a.Id, a.Name, c.LastName FROM Account a LEFT JOIN Contact c ON c.AccountId = a.Id"},
    {"name": "no_account", "sql": "SELECT Id, Name FROM Account WHERE Name = 'no such account'"},
]
ACCOUNTS = 40


@pytest.mark.parametrize("form", ["empty", "header", "not_found"])
def test_a_refresh_with_empty_objects_succeeds_and_publishes_typed_empty_files(make_org, tmp_path, form):
    org = make_org(rows={"Account": ACCOUNTS, "Contact": 30, "Opportunity": 0, "Widget__c": 0})
    org.set_empty_result(form)
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=DATASETS, paths={"create_share_dir": True})
    config = load_config(path)
    with dg.instance_for_test() as instance:
        outcome = execute_refresh(config, instance)
    assert outcome.ok, outcome.failures
    assert org.counters()["jobs_created"] == {"Account": 1, "Widget__c": 1, "Contact": 1}  # one chunk each, no retry

    def output(name: str) -> pa.Table:
        return pq.read_table(tmp_path / "output" / name / f"{name}.parquet")

    with state_session(config.paths.state_db) as conn:
        widget_plan = load_plan(conn, "Widget__c")
    widgets = output("widgets")
    assert widgets.num_rows == 0 and widgets.schema.names == [c.strip() for c in WIDGET_FIELDS.split(",")]
    assert {f.name: f.type for f in widgets.schema} == {
        f.name: powerbi_type(f.type) for f in widget_plan.arrow_schema()}  # every planned column, typed
    assert widgets.schema.field("Day__c").type == pa.date32() and widgets.schema.field("Flag__c").type == pa.bool_()
    assert widgets.schema.field("Stamp__c").type == pa.timestamp("us", tz="UTC")
    assert widgets.schema.field("Count__c").type == pa.int64()

    live_accounts = org.data.row_count("Account")  # without the deleted ones
    accounts = output("accounts")  # the other objects' outputs are unaffected
    assert accounts.num_rows == live_accounts > 0 and accounts.schema.field("Id").type == pa.string()
    joined = output("account_contacts")  # a join with an empty table
    assert joined.num_rows == live_accounts and joined.column("LastName").null_count == live_accounts
    assert joined.schema.field("LastName").type == pa.string()
    nothing = output("no_account")  # SQL that returns no rows: a 0-row file with its columns
    assert nothing.num_rows == 0 and nothing.schema.names == ["Id", "Name"]
    assert nothing.schema.field("Name").type == pa.string()

    staging = connect(config.paths.staging_db)
    try:
        assert staging.execute('SELECT COUNT(*) FROM "Widget__c"').fetchone() == (0,)
        assert staging.execute('SELECT COUNT(*) FROM "Contact"').fetchone() == (0,)
    finally:
        staging.close()

    health = json.loads(outcome.health_path.read_text(encoding="utf-8"))
    assert health["status"] == "success" and health["published"] and all(p["ok"] for p in health["published"])
    assert set(health["empty_objects"]) == {"Widget__c", "Contact"}
    assert health["warnings"]["count"] == 0, health["warnings"]  # informative, not a warning
    assert health["objects"]["Widget__c"] == {"expected": 0, "extracted": 0}
    assert health["objects"]["Account"] == {"expected": live_accounts, "extracted": live_accounts}
