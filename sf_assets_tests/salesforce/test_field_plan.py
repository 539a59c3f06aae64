"""Field plans built from small, describe()-shaped catalogs."""

from typing import Any

import pyarrow as pa
import pytest

from sf_assets.salesforce.field_planning import FieldPlanError, build_field_plan
from sf_assets.salesforce.metadata import FieldMeta, ObjectMeta
from sf_assets.salesforce.soql import parse_soql, plan_soql
from sf_assets.schema.field_plan import FieldPlan

_SOAP = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
         "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double",
         "date": "xsd:date", "datetime": "xsd:dateTime", "time": "xsd:time",
         "base64": "xsd:base64Binary", "address": "urn:address", "location": "urn:location",
         "long": "xsd:long"}


def _field(name: str, type_: str, **extra: Any) -> dict[str, Any]:
    """A describe() field entry with the keys Salesforce returns (a realistic subset)."""
    return {
        "name": name, "label": name, "type": type_, "soapType": _SOAP.get(type_, "xsd:string"),
        "nillable": True, "filterable": True, "idLookup": False, "calculated": False,
        "compoundFieldName": None, "deprecatedAndHidden": False, "precision": 0, "scale": 0,
        "length": 255 if type_ in {"string", "picklist", "email", "url"} else 0, "digits": 0,
        "referenceTo": [], "relationshipName": None, "picklistValues": [],
        "createable": True, "updateable": True, "sortable": True, **extra,
    }


def _ref(name: str, target: str, relationship: str, **extra: Any) -> dict[str, Any]:
    return _field(name, "reference", length=18, referenceTo=[target],
                  relationshipName=relationship, **extra)


ACCOUNT = {
    "name": "Account", "label": "Account", "keyPrefix": "001", "queryable": True,
    "fields": [
        _field("Id", "id", nillable=False, idLookup=True, length=18, createable=False,
               updateable=False),
        _field("IsDeleted", "boolean", nillable=False, createable=False, updateable=False),
        _field("Name", "string", nillable=False, idLookup=True),
        _field("Type", "picklist", picklistValues=[
            {"active": True, "defaultValue": False, "label": "Customer", "value": "Customer"},
            {"active": True, "defaultValue": False, "label": "Partner", "value": "Partner"},
        ]),
        _ref("ParentId", "Account", "Parent"),
        _field("BillingStreet", "textarea", compoundFieldName="BillingAddress"),
        _field("BillingCity", "string", length=40, compoundFieldName="BillingAddress"),
        _field("BillingPostalCode", "string", length=20, compoundFieldName="BillingAddress"),
        _field("BillingLatitude", "double", precision=18, scale=15,
               compoundFieldName="BillingAddress"),
        _field("BillingLongitude", "double", precision=18, scale=15,
               compoundFieldName="BillingAddress"),
        _field("BillingAddress", "address", filterable=False, createable=False,
               updateable=False),
        _field("AnnualRevenue", "currency", precision=18, scale=0),
        _field("NumberOfEmployees", "int", digits=8),
        _ref("OwnerId", "User", "Owner", nillable=False),
        _field("Description", "textarea", length=32000, filterable=False),
        _field("Notes__c", "textarea", length=131072, filterable=False),
        _field("Photo__c", "base64", length=32000000, filterable=False),
        _field("Legacy__c", "string", deprecatedAndHidden=True),
        _field("HQ__Latitude__s", "double", precision=9, scale=6, compoundFieldName="HQ__c"),
        _field("HQ__Longitude__s", "double", precision=9, scale=6, compoundFieldName="HQ__c"),
        _field("HQ__c", "location", filterable=False),
        _field("Shape__c", "complexvalue"),
        _field("CreatedDate", "datetime", nillable=False, createable=False, updateable=False),
    ],
}
OPPORTUNITY = {
    "name": "Opportunity", "label": "Opportunity", "keyPrefix": "006",
    "fields": [
        _field("Id", "id", nillable=False, idLookup=True, length=18),
        _ref("AccountId", "Account", "Account"),
        _field("Name", "string", nillable=False, length=120),
        _field("Amount", "currency", precision=18, scale=2),
        _field("Probability", "percent", precision=3, scale=0),
        _field("CloseDate", "date", nillable=False),
        _field("StageName", "picklist", nillable=False, length=255),
        _field("Tags__c", "multipicklist", length=4099),
        _field("IsWon", "boolean", nillable=False),
        _field("ExpectedCount__c", "double", precision=18, scale=0),
        _field("BigNumber__c", "long"),
        _field("Reminder__c", "time"),
        _ref("Campaign__c", "Campaign__c", "Campaign__r"),
        _field("Score__c", "int", calculated=True, filterable=False),
        _field("LastModifiedDate", "datetime", nillable=False),
    ],
}
USER = {
    "name": "User", "fields": [
        _field("Id", "id", nillable=False, length=18),
        _field("Name", "string", nillable=False, length=121),
        _field("Email", "email", nillable=False, length=128),
        _ref("ManagerId", "User", "Manager"),
    ],
}
CONTACT = {  # Name is a name compound: its components carry compoundFieldName "Name"
    "name": "Contact", "fields": [
        _field("Id", "id", nillable=False, length=18),
        _ref("AccountId", "Account", "Account"),
        _field("Salutation", "picklist", compoundFieldName="Name"),
        _field("FirstName", "string", length=40, compoundFieldName="Name"),
        _field("LastName", "string", nillable=False, length=80, compoundFieldName="Name"),
        _field("Name", "string", nillable=False, length=121, idLookup=True),
        _field("MailingStreet", "textarea", compoundFieldName="MailingAddress"),
        _field("MailingCity", "string", compoundFieldName="MailingAddress", deprecatedAndHidden=True),
        _field("MailingAddress", "address", filterable=False),
    ],
}
CATALOG = {d["name"]: ObjectMeta.from_describe(d) for d in (ACCOUNT, OPPORTUNITY, USER, CONTACT)}


def plan(soql: str, critical: tuple[str, ...] = (), **kwargs: Any) -> FieldPlan:
    return build_field_plan(parse_soql(soql), CATALOG, critical, **kwargs)


def names(p: FieldPlan) -> list[str]:
    return [c.name for c in p.columns]


def test_field_meta_from_describe() -> None:
    meta = FieldMeta.from_describe(ACCOUNT["fields"][3])
    assert meta == FieldMeta(
        name="Type", type="picklist", soap_type="xsd:string", nillable=True, filterable=True,
        length=255, picklist_values=("Customer", "Partner"), createable=True, updateable=True,
    )
    owner = CATALOG["Account"].field("ownerid")
    assert owner is not None and owner.name == "OwnerId"
    assert (owner.reference_to, owner.relationship_name, owner.nillable) == (("User",), "Owner", False)
    assert CATALOG["Account"].field("NoSuchField") is None
    assert CATALOG["Account"].relationship("OWNER") == owner
    assert [f.name for f in CATALOG["Account"].components("billingaddress")] == [
        "BillingStreet", "BillingCity", "BillingPostalCode", "BillingLatitude", "BillingLongitude",
    ]


@pytest.mark.parametrize(
    ("soql", "critical", "expected"),
    [
        ("SELECT Name FROM Opportunity", (), ["Id", "Name"]),
        ("select NAME, id, account.NAME from OPPORTUNITY", (), ["Name", "Id", "Account.Name"]),
        ("SELECT Name, Name, name FROM Opportunity", (), ["Id", "Name"]),
        ("SELECT Name FROM Opportunity", ("AccountId", "Account.Name"),
         ["Id", "Name", "AccountId", "Account.Name"]),
        ("SELECT Account.Owner.Manager.Email FROM Opportunity", (),
         ["Id", "Account.Owner.Manager.Email"]),
        ("SELECT Name, BillingAddress FROM Account", (),
         ["Id", "Name", "BillingStreet", "BillingCity", "BillingPostalCode", "BillingLatitude",
          "BillingLongitude"]),
        ("SELECT HQ__c, BillingCity, BillingAddress FROM Account", (),
         ["Id", "HQ__Latitude__s", "HQ__Longitude__s", "BillingCity", "BillingStreet",
          "BillingPostalCode", "BillingLatitude", "BillingLongitude"]),
        ("SELECT Account.BillingAddress FROM Opportunity", (),
         ["Id", "Account.BillingStreet", "Account.BillingCity", "Account.BillingPostalCode",
          "Account.BillingLatitude", "Account.BillingLongitude"]),
        ("SELECT * FROM User", (), ["Id", "Name", "Email", "ManagerId"]),
        ("SELECT * FROM Account", (),
         ["Id", "IsDeleted", "Name", "Type", "ParentId", "BillingStreet", "BillingCity",
          "BillingPostalCode", "BillingLatitude", "BillingLongitude", "AnnualRevenue",
          "NumberOfEmployees", "OwnerId", "Description", "Notes__c", "HQ__Latitude__s",
          "HQ__Longitude__s", "Shape__c", "CreatedDate"]),
    ],
)
def test_columns(soql: str, critical: tuple[str, ...], expected: list[str]) -> None:
    assert names(plan(soql, critical)) == expected


@pytest.mark.parametrize(
    ("soql", "dropped"),
    [
        ("SELECT Name, Bogus__c FROM Account", [("Bogus__c", "no such field")]),
        ("SELECT Legacy__c FROM Account", [("Legacy__c", "deprecated and hidden")]),
        ("SELECT Photo__c FROM Account",
         [("Photo__c", "base64 fields are not supported by Bulk API")]),
        ("SELECT Campaign__r.Name FROM Opportunity",
         [("Campaign__r.Name", "parent object 'Campaign__c' is not in the catalog")]),
        ("SELECT Foo.Name FROM Opportunity", [("Foo.Name", "no relationship 'Foo' on Opportunity")]),
        ("SELECT Account.Nope FROM Opportunity", [("Account.Nope", "no such field on Account")]),
        ("SELECT Account.Photo__c FROM Opportunity",
         [("Account.Photo__c", "base64 fields are not supported by Bulk API")]),
        ("SELECT * FROM Account",
         [("Photo__c", "base64 fields are not supported by Bulk API"),
          ("Legacy__c", "deprecated and hidden")]),
    ],
)
def test_invalid_fields_are_dropped_with_reasons(soql: str, dropped: list[tuple[str, str]]) -> None:
    p = plan(soql)
    assert list(p.dropped) == dropped
    assert not {d[0].lower() for d in dropped} & {n.lower() for n in names(p)}


@pytest.mark.parametrize(
    ("soql", "kwargs", "message"),
    [
        ("SELECT Name FROM Opportunity", {"critical": ("AccountIdx",)},
         "Critical field 'AccountIdx' on Opportunity is invalid: no such field"),
        ("SELECT Legacy__c FROM Account", {"critical": ("Legacy__c",)},
         "Critical field 'Legacy__c' on Account is invalid: deprecated and hidden"),
        ("SELECT Name FROM Opportunity", {"join_keys": ("Campaign__r.Name",)},
         "Critical field 'Campaign__r.Name' on Opportunity is invalid: parent object "
         "'Campaign__c' is not in the catalog"),
        ("SELECT Photo__c FROM Account", {"join_keys": ("photo__c",)},
         "Critical field 'Photo__c' on Account is invalid: base64"),
        ("SELECT Shape__c FROM Account", {"critical": ("Shape__c",)},
         "Critical field 'Shape__c' on Account is invalid: unmapped Salesforce type 'complexvalue'"),
        ("SELECT Name FROM Lead", {}, "Object 'Lead' is not in the catalog"),
        ("SELECT Name FROM Account WHERE Nope__c = 1", {},
         "WHERE field 'Nope__c' on Account is invalid: no such field"),
        ("SELECT Name FROM Account WHERE Description = 'x'", {},
         "WHERE field 'Description' on Account is invalid: not filterable"),
        ("SELECT Name FROM Account WHERE Legacy__c = 'x'", {},
         "WHERE field 'Legacy__c' on Account is invalid: deprecated and hidden"),
        ("SELECT Name FROM Opportunity WHERE Account.Bogus = 'x'", {},
         "WHERE field 'Account.Bogus' on Opportunity is invalid: no such field on Account"),
        ("SELECT Name FROM Account", {"overrides": {"Name": "varchar"}},
         "Type override for 'Name' on Account is invalid: unknown type override 'varchar'"),
    ],
)
def test_plan_errors(soql: str, kwargs: dict[str, Any], message: str) -> None:
    critical = kwargs.pop("critical", ())
    with pytest.raises(FieldPlanError) as info:
        plan(soql, critical, **kwargs)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_where_with_parent_and_date_functions_is_accepted() -> None:
    p = plan("SELECT Name FROM Opportunity WHERE Account.Owner.Name LIKE 'A%' "
             "AND CALENDAR_YEAR(CloseDate) = 2024 AND isWON = true")
    assert p.where == "Account.Owner.Name LIKE 'A%' AND CALENDAR_YEAR(CloseDate) = 2024 AND isWON = true"


@pytest.mark.parametrize(
    ("soql", "kwargs", "column", "expected"),
    [
        ("SELECT Amount FROM Opportunity", {}, "Amount",
         ("decimal", pa.decimal128(18, 2), "DECIMAL_TEXT(18,2)", True)),
        ("SELECT Amount FROM Opportunity", {"decimals_as_float": True}, "Amount",
         ("float64", pa.float64(), "REAL", True)),
        ("SELECT Probability FROM Opportunity", {}, "Probability",
         ("decimal", pa.decimal128(3, 0), "DECIMAL(3,0)", True)),
        ("SELECT Amount FROM Opportunity", {"overrides": {"amount": "decimal(38, 6)"}}, "Amount",
         ("decimal", pa.decimal128(38, 6), "DECIMAL_TEXT(38,6)", True)),
        ("SELECT Amount FROM Opportunity",
         {"overrides": {"Amount": "float64"}, "decimals_as_float": False}, "Amount",
         ("float64", pa.float64(), "REAL", True)),
        ("SELECT ExpectedCount__c FROM Opportunity", {"overrides": {"ExpectedCount__c": "int64"}},
         "ExpectedCount__c", ("int64", pa.int64(), "INTEGER", True)),
        ("SELECT Account.Name FROM Opportunity", {"overrides": {"account.name": "string"}},
         "Account.Name", ("string", pa.string(), "TEXT", True)),
        ("SELECT Shape__c FROM Account", {"overrides": {"Shape__c": "string"}}, "Shape__c",
         ("string", pa.string(), "TEXT", True)),
        ("SELECT CloseDate FROM Opportunity", {}, "CloseDate",
         ("date", pa.date32(), "TEXT", False)),
        ("SELECT IsWon FROM Opportunity", {}, "IsWon", ("bool", pa.bool_(), "INTEGER", False)),
        ("SELECT LastModifiedDate FROM Opportunity", {}, "LastModifiedDate",
         ("timestamp", pa.timestamp("us", tz="UTC"), "TEXT", False)),
        ("SELECT Reminder__c FROM Opportunity", {}, "Reminder__c",
         ("time", pa.time64("us"), "TEXT", True)),
        ("SELECT BigNumber__c FROM Opportunity", {}, "BigNumber__c",
         ("int64", pa.int64(), "INTEGER", True)),
        ("SELECT Account.CreatedDate FROM Opportunity", {}, "Account.CreatedDate",
         ("timestamp", pa.timestamp("us", tz="UTC"), "TEXT", True)),  # parents may be absent
        ("SELECT HQ__c FROM Account", {}, "HQ__Latitude__s",
         ("float64", pa.float64(), "REAL", True)),
        ("SELECT Name FROM Account", {}, "Id", ("string", pa.string(), "TEXT", False)),
    ],
)
def test_column_types(
    soql: str, kwargs: dict[str, Any], column: str, expected: tuple[str, pa.DataType, str, bool]
) -> None:
    col = next(c for c in plan(soql, **kwargs).columns if c.name == column)
    assert (col.kind, col.arrow_type, col.sqlite_type, col.nullable) == expected


def test_unmapped_type_warns_and_reads_as_string() -> None:
    p = plan("SELECT Shape__c FROM Account")
    assert p.columns[1].kind == "string"
    assert p.warnings == (
        "field 'Shape__c' has unmapped Salesforce type 'complexvalue'; read as string",
    )


def test_unused_override_warns() -> None:
    p = plan("SELECT Name FROM Account", overrides={"Amount": "float64"})
    assert p.warnings == ("type override for 'amount' matches no column of Account",)


@pytest.mark.parametrize(
    ("column", "long_text", "critical"),
    [("Notes__c", True, False), ("Description", False, False), ("Name", False, True),
     ("Id", False, True), ("BillingStreet", False, False)],
)
def test_flags(column: str, long_text: bool, critical: bool) -> None:
    p = plan("SELECT Name, Description, Notes__c, BillingAddress FROM Account", ("name",))
    col = next(c for c in p.columns if c.name == column)
    assert (col.long_text, col.critical) == (long_text, critical)


def test_arrow_schema_and_soql() -> None:
    p = plan("SELECT Name, Amount, Account.Name FROM Opportunity WHERE IsWon = true")
    assert p.arrow_schema() == pa.schema([
        pa.field("Id", pa.string(), nullable=False),
        pa.field("Name", pa.string(), nullable=False),
        pa.field("Amount", pa.decimal128(18, 2)),
        pa.field("Account.Name", pa.string()),
    ])
    assert plan_soql(p, "006000000000001", "006000000000009") == (
        "SELECT Id, Name, Amount, Account.Name FROM Opportunity "
        "WHERE (IsWon = true) AND Id >= '006000000000001' AND Id < '006000000000009'"
    )
    assert plan_soql(p) == "SELECT Id, Name, Amount, Account.Name FROM Opportunity WHERE IsWon = true"


def test_json_round_trip() -> None:
    p = plan("SELECT Name, Bogus, Notes__c, HQ__c, AnnualRevenue, Shape__c FROM Account",
             ("Name",), overrides={"AnnualRevenue": "decimal(20,2)"})
    text = p.to_json()
    assert FieldPlan.from_json(text) == p
    assert FieldPlan.from_dict(p.to_dict()) == p
    revenue = p.to_dict()["columns"][5]
    assert revenue["name"] == "AnnualRevenue"
    assert (revenue["arrow_type"], revenue["sqlite_type"], revenue["pandas_dtype"]) == (
        "decimal128(20, 2)", "DECIMAL_TEXT(20,2)", "string[pyarrow]")
    assert p.dropped == (("Bogus", "no such field"),) and p.warnings


def test_json_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unsupported field plan format"):
        FieldPlan.from_dict({"format_version": 99, "object_name": "X", "columns": []})


def test_name_compound_is_selected_as_itself() -> None:
    p = plan("SELECT Name, FirstName, Account.Name FROM Contact")
    assert names(p) == ["Id", "Name", "FirstName", "Account.Name"] and not p.dropped
    name = p.columns[1]
    assert (name.sf_type, name.kind, name.nullable) == ("string", "string", False)
    assert "Name" in plan_soql(p)


def test_star_includes_name_compound_and_records_its_expansion() -> None:
    p = plan("SELECT * FROM Contact")
    assert names(p) == ["Id", "AccountId", "Salutation", "FirstName", "LastName", "Name", "MailingStreet"]
    assert p.star_fields == ("Id", "AccountId", "Salutation", "FirstName", "LastName", "Name", "MailingStreet")
    assert p.dropped == (("MailingCity", "deprecated and hidden"),)
    assert FieldPlan.from_json(p.to_json()) == p
    assert plan("SELECT Name FROM Contact").star_fields == ()


def test_unusable_address_component_is_reported_not_silently_left_out() -> None:
    p = plan("SELECT MailingAddress FROM Contact")
    assert names(p) == ["Id", "MailingStreet"]
    assert p.dropped == (("MailingCity", "component of MailingAddress: deprecated and hidden"),)
