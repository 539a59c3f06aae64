"""REST endpoints through simple-salesforce over real HTTPS."""
from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from sf_assets.emulator import EmulatorOrg

from .helpers import api, session, sf


def _usage(header: str) -> int:
    return int(header.split("api-usage=")[1].split("/")[0])


def test_limits_and_usage_header_grow(org: EmulatorOrg) -> None:
    s = session(org)
    first = s.get(api(org, "/limits"))
    second = s.get(api(org, "/limits"))
    assert first.status_code == 200
    assert _usage(second.headers["Sforce-Limit-Info"]) == _usage(first.headers["Sforce-Limit-Info"]) + 1
    body = second.json()
    assert body["DailyApiRequests"]["Max"] - body["DailyApiRequests"]["Remaining"] == _usage(
        second.headers["Sforce-Limit-Info"]
    )
    assert body["DailyBulkV2QueryJobs"]["Max"] == 10000
    assert body["DailyBulkV2QueryFileStorageMB"]["Max"] == 976562  # 1,000,000,000 KB, as Salesforce reports it
    org.set_api_used_pct(85.0)
    assert _usage(s.get(api(org, "/limits")).headers["Sforce-Limit-Info"]) == 85_001
    assert org.counters()["limits_calls"] == 3


def test_versions_listing(org: EmulatorOrg) -> None:
    versions = session(org).get(f"{org.instance_url}/services/data/").json()
    assert {"version": "62.0", "label": "v62.0", "url": "/services/data/v62.0"} in versions


def test_describe_metadata(org: EmulatorOrg) -> None:
    client = sf(org)
    fields = {f["name"]: f for f in client.Account.describe()["fields"]}
    assert fields["BillingCity"]["compoundFieldName"] == "BillingAddress"
    assert fields["BillingAddress"]["type"] == "address"
    assert fields["AnnualRevenue"]["type"] == "currency" and fields["AnnualRevenue"]["precision"] == 18
    assert fields["ParentId"]["referenceTo"] == ["Account"]
    assert {"value", "label", "active", "defaultValue"} <= set(fields["Industry"]["picklistValues"][0])
    widget = {f["name"]: f for f in client.Widget__c.describe()["fields"]}
    assert widget["Account__c"]["relationshipName"] == "Account__r"
    assert widget["Score__c"]["calculated"] is True and widget["Legacy__c"]["deprecatedAndHidden"] is True
    assert widget["Location__Latitude__s"]["compoundFieldName"] == "Location__c"
    types = {f["type"] for f in widget.values()}
    assert types >= {"id", "string", "textarea", "boolean", "int", "double", "currency", "percent", "date", "datetime",
                     "time", "picklist", "multipicklist", "reference", "email", "phone", "url", "address", "location",
                     "base64"}
    assert org.counters()["describes"] == {"Account": 1, "Widget__c": 1}
    assert {o["name"] for o in client.describe()["sobjects"]} >= {"Account", "Contact", "Opportunity", "Widget__c"}
    with pytest.raises(SalesforceResourceNotFound):
        client.Foo__c.describe()


def test_count_and_paging(org: EmulatorOrg) -> None:
    client = sf(org)
    expected = org.data.row_count("Opportunity")
    assert client.query("SELECT COUNT() FROM Opportunity")["totalSize"] == expected
    with_deleted = client.query("SELECT COUNT() FROM Opportunity", include_deleted=True)  # the queryAll endpoint
    assert with_deleted["totalSize"] == org.data.row_count("Opportunity", include_deleted=True)
    first = client.query("SELECT Id, Name, Account.Name FROM Opportunity")
    assert len(first["records"]) == 2000 and first["nextRecordsUrl"].endswith("-2000")
    every = client.query_all("SELECT Id, Name, Account.Name FROM Opportunity")["records"]
    assert len(every) == expected
    ids = [r["Id"] for r in every]
    assert ids == sorted(ids) and every[0]["attributes"]["type"] == "Opportunity"
    with_account = next(r for r in every if r["Account"] is not None)
    assert isinstance(with_account["Account"]["Name"], str)


def test_where_clause(org: EmulatorOrg) -> None:
    client = sf(org)
    rows = client.query_all("SELECT Id, Amount, StageName, CloseDate FROM Opportunity WHERE (Amount > 1000000 OR "
                            "StageName IN ('Closed Won')) AND NOT CloseDate < 2020-01-01 AND Name LIKE '%e%' LIMIT 50")
    assert 0 < rows["totalSize"] <= 50
    for r in rows["records"]:
        assert (r["Amount"] or 0) > 1_000_000 or r["StageName"] == "Closed Won"
        assert r["CloseDate"] >= "2020-01-01"
    lo, hi = org.data.id_for("Account", 10), org.data.id_for("Account", 20)
    ids = [r["Id"] for r in client.query_all(f"SELECT Id FROM Account WHERE Id >= '{lo}' AND Id < '{hi}'")["records"]]
    expected = org.data.generate("Account", 10, 20, ["Id", "IsDeleted"]).to_pylist()
    assert ids == [e["Id"] for e in expected if not e["IsDeleted"]]


def test_query_errors(org: EmulatorOrg) -> None:
    client = sf(org)
    with pytest.raises(SalesforceMalformedRequest) as bad_field:
        client.query("SELECT Id, Foo__c FROM Account")
    assert bad_field.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Foo__c' on entity 'Account'" in bad_field.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as syntax:
        client.query("SELECT Id FROM Account WHERE")
    assert syntax.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_invalid_session(org: EmulatorOrg) -> None:
    response = session(org, token="not-a-token").get(api(org, "/limits"))
    assert response.status_code == 401
    assert response.json() == [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    assert session(org).get(api(org, "/limits"), headers={"Authorization": ""}).status_code == 401


def test_expire_sessions(make_org) -> None:
    org = make_org()
    client = sf(org)
    client.query("SELECT COUNT() FROM Account")
    org.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        client.query("SELECT COUNT() FROM Account")
