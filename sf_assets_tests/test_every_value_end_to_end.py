"""The full Salesforce value domain through a real refresh, once per engine: every column of every
dataset equals what the emulator's generator says, value for value (dates 1700-4000, millisecond
datetimes, times, 18-digit currency, doubles 1e-15..9.9e17, Contact.Name, awkward text). Every output and share
file is inside the gateway Parquet profile and DuckDB's reader returns the same values as pyarrow's.

Expected values and types come from the emulator's own field definitions and generator, never
from anything the pipeline wrote; the Power BI types are the documented mapping
(docs/ARCHITECTURE.md, "Values and types").
"""

import datetime as dt
from decimal import Decimal

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.storage.parquet_profile import profile_violations
from sf_assets_tests.pipeline_helpers import write_config

OBJECTS = [
    {
        "name": "Account",
        "soql": "SELECT Id, Name, Type, Industry, AnnualRevenue, NumberOfEmployees, Phone, Description, "
        "BillingAddress, SLAExpirationDate__c, LastReviewed__c, CreditScore__c, CreatedDate, LastModifiedDate FROM "
        "Account",
    },
    {
        "name": "Contact",
        "join_keys": ["AccountId"],
        "soql": "SELECT Id, AccountId, Name, FirstName, LastName, Email, "
        "Birthdate, LastCURequestDate, Weight__c, MailingAddress FROM Contact",
    },
    {
        "name": "Opportunity",
        "join_keys": ["AccountId"],
        "soql": "SELECT Id, AccountId, Account.Name, Name, StageName, "
        "Amount, Probability, CloseDate, TotalOpportunityQuantity, IsWon, ExpectedRevenue, Description, "
        "LastModifiedDate "
        "FROM Opportunity",
    },
    {"name": "Widget__c", "soql": "SELECT * FROM Widget__c", "query_all": True, "join_keys": ["Account__c"]},
]
OWN = {"account": "Account", "contact": "Contact", "opportunity": "Opportunity", "widget": "Widget__c"}
JOINS = {
    "opportunity_account": (
        "SELECT o.*, a.Name AS AccountName, a.BillingCountry AS AccountCountry, "
        "a.SLAExpirationDate__c AS AccountSLA FROM Opportunity o LEFT JOIN Account a ON o.AccountId = a.Id"
    ),
    "contact_account": (
        "SELECT c.Id, c.Name, c.Birthdate, c.LastCURequestDate, a.LastReviewed__c AS AccountReviewed, "
        "a.AnnualRevenue AS AccountRevenue FROM Contact c LEFT JOIN Account a ON c.AccountId = a.Id"
    ),
}
STRINGISH = {"id", "reference", "string", "textarea", "picklist", "multipicklist", "email", "phone", "url"}
SCALARS = {"boolean": pa.bool_(), "int": pa.int64(), "double": pa.float64(), "date": pa.date32(),
           "datetime": pa.timestamp("us", tz="UTC"), "time": pa.time64("us")}


def powerbi_type(field) -> pa.DataType:
    """The documented Power BI Parquet type of an emulated field."""
    if field.type in STRINGISH:
        return pa.string()
    if field.type in ("currency", "percent"):
        p, s = field.precision or 18, field.scale
        return pa.decimal128(19, 4) if s <= 4 and p - s <= 15 else pa.decimal128(p, s)
    return SCALARS[field.type]


def selected_fields(org, obj: dict) -> list[str]:
    """The field paths a SOQL selects, compounds expanded like Bulk requires (from the emulator's schema)."""
    sobject = org.data.sobject(obj["name"])
    listed = obj["soql"].split("SELECT ", 1)[1].split(" FROM ")[0].split(", ")
    if listed == ["*"]:
        listed = [
            f.name for f in sobject.fields if f.type not in ("address", "location", "base64") and not f.deprecated
        ]
    out = []
    for path in listed:
        field = sobject.get(path)
        out.extend(field.components if field is not None and field.type in ("address", "location") else [path])
    return out


def field_of(org, obj_name: str, path: str):
    *rels, name = path.split(".")
    sobject = org.data.sobject(obj_name)
    for rel in rels:
        sobject = org.data.sobject(sobject.relationship(rel).reference_to[0])
    return sobject.get(name)


def expected_object(org, obj: dict) -> tuple[pa.Table, dict[str, pa.DataType]]:
    """(rows the org serves, by Id, with SQL column names; their Power BI types)."""
    data, name = org.data, obj["name"]
    paths = selected_fields(org, obj)
    table = data.generate(name, 0, data.rows(name), paths)
    if not obj.get("query_all"):
        table = table.filter(pc.invert(data.generate(name, 0, data.rows(name), ["IsDeleted"]).column(0)))
    table = table.rename_columns([p.replace(".", "_") for p in paths])
    return table, {p.replace(".", "_"): powerbi_type(field_of(org, name, p)) for p in paths}


def as_values(column: pa.ChunkedArray, target: pa.DataType) -> list:
    """Python values of a generated column as the Power BI type shows them (percent floats are decimals)."""
    values = column.to_pylist()
    if pa.types.is_decimal(target) and pa.types.is_floating(column.type):
        return [None if v is None else Decimal(repr(v)) for v in values]
    return values


def assert_equal_tables(name: str, got: pa.Table, expected: pa.Table, types: dict[str, pa.DataType]) -> None:
    assert got.column_names == expected.column_names, name  # the SQL's order (SELECT *: the field plan's)
    assert got.num_rows == expected.num_rows > 0, name
    got, expected = got.sort_by("Id"), expected.sort_by("Id")
    for column in expected.column_names:
        assert got.schema.field(column).type == types[column], (name, column)
        want = as_values(expected.column(column), types[column])
        assert got.column(column).to_pylist() == want, (name, column)


def assert_duckdb_reads_the_same(file) -> None:
    """DuckDB's own Parquet reader (not Arrow's C++ one) returns every value pyarrow returns, in the same order."""
    arrow = pq.read_table(file)
    second = duckdb.connect().sql(f"SELECT * FROM read_parquet('{file.as_posix()}')").fetch_arrow_table()
    assert second.column_names == arrow.column_names, file
    for name in arrow.column_names:
        assert second.column(name).to_pylist() == arrow.column(name).to_pylist(), (file, name)


def expected_join(sql_name: str, tables: dict, types: dict) -> tuple[pa.Table, dict[str, pa.DataType]]:
    account, account_types = tables["Account"], types["Account"]
    if sql_name == "opportunity_account":
        left, left_types, key = tables["Opportunity"], types["Opportunity"], "AccountId"
        right = {"AccountName": "Name", "AccountCountry": "BillingCountry", "AccountSLA": "SLAExpirationDate__c"}
    else:
        left = tables["Contact"].select(["Id", "AccountId", "Name", "Birthdate", "LastCURequestDate"])
        left_types, key = types["Contact"], "AccountId"
        right = {"AccountReviewed": "LastReviewed__c", "AccountRevenue": "AnnualRevenue"}
    parents = account.select(["Id", *right.values()]).rename_columns([key, *right])
    joined = left.join(parents, key, join_type="left outer")
    if sql_name == "contact_account":
        joined = joined.drop([key])
    all_types = {**left_types, **{alias: account_types[col] for alias, col in right.items()}}
    return joined, {c: all_types[c] for c in joined.column_names}


@pytest.mark.parametrize("engine", ["dask_sql", "sqlite"])
def test_every_value_reaches_power_bi_exactly(org, tmp_path, engine):
    datasets = [{"name": n, "sql": f"SELECT * FROM {o}"} for n, o in OWN.items()]
    datasets += [{"name": n, "sql": sql} for n, sql in JOINS.items()]
    # worker processes although the data is small: every value crosses a process boundary as on a large refresh
    dask = {"n_workers": 1, "threads_per_worker": 2, "memory_limit": "2GB", "in_process_below_rows": 0}
    path = write_config(org, tmp_path, objects=OBJECTS, datasets=datasets, transform={"engine": engine}, dask=dask,
                        extraction={"chunk_size": 700}, paths={"create_share_dir": True},
                        publish={"include_dataset_folder": True})
    with dg.instance_for_test() as instance:
        outcome = execute_refresh(load_config(path), instance)
    assert outcome.ok, outcome.failures
    files = sorted((tmp_path / "output").rglob("*.parquet")) + sorted((tmp_path / "share").rglob("*.parquet"))
    assert len([f for f in files if f.is_relative_to(tmp_path / "share")]) >= 2 * len(datasets)  # file + folder
    for file in files:  # every published file: inside the gateway profile, and a second reader sees the same values
        assert profile_violations(file) == [], file
        assert_duckdb_reads_the_same(file)

    def output(name: str) -> pa.Table:
        return pq.read_table(tmp_path / "output" / name / f"{name}.parquet")

    tables, types = {}, {}
    for obj in OBJECTS:
        tables[obj["name"]], types[obj["name"]] = expected_object(org, obj)
    for dataset, obj_name in OWN.items():
        assert_equal_tables(dataset, output(dataset), tables[obj_name], types[obj_name])
    for dataset in JOINS:
        assert_equal_tables(dataset, output(dataset), *expected_join(dataset, tables, types))

    # The hard cases were really there (so the comparisons above covered them).
    widget, contact, opportunity = output("widget"), output("contact"), output("opportunity")
    days = set(widget.column("Day__c").to_pylist()) | set(contact.column("Birthdate").to_pylist())
    assert {dt.date(1700, 1, 1), dt.date(4000, 12, 31), dt.date(1900, 1, 1)} <= days
    stamps = [s for s in widget.column("Stamp__c").to_pylist() if s]
    assert max(stamps).year == 4000 and min(stamps).year == 1700 and any(s.microsecond for s in stamps)
    amounts = opportunity.column("Amount").to_pylist()
    assert {Decimal("1234567890123456.78"), Decimal("-1234567890123456.78"), Decimal(0)} <= set(amounts)
    ratios = [abs(r) for r in widget.column("Ratio__c").to_pylist() if r]
    assert min(ratios) == 1e-15 and max(ratios) == 9.9e17


def test_contact_name_compound_is_a_column(org, tmp_path):
    """Contact.Name (FirstName/LastName carry compoundFieldName "Name") is selected as itself."""
    objects = [{"name": "Contact", "soql": "SELECT Id, Name FROM Contact"}]
    path = write_config(org, tmp_path, objects=objects, datasets=[{"name": "contacts", "sql": "SELECT * FROM Contact"}],
                        paths={"share_dir": None})
    describe = {f.name: f.describe() for f in org.data.sobject("Contact").fields}
    assert describe["FirstName"]["compoundFieldName"] == describe["LastName"]["compoundFieldName"] == "Name"
    with dg.instance_for_test() as instance:
        outcome = execute_refresh(load_config(path), instance)
    assert outcome.ok, outcome.failures
    table = pq.read_table(tmp_path / "output" / "contacts" / "contacts.parquet").sort_by("Id")
    assert table.column_names == ["Id", "Name"] and table.schema.field("Name").type == pa.string()
    data = org.data
    parts = data.generate("Contact", 0, data.rows("Contact"), ["FirstName", "LastName", "IsDeleted"]).to_pylist()
    assert table.column("Name").to_pylist() == [
        " ".join(p for p in (row["FirstName"], row["LastName"]) if p) for row in parts if not row["IsDeleted"]]
