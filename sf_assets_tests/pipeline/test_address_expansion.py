"""One address expansion (`schema/address.py`): the emulated org (which models Salesforce's addresses on its own)
describes and renders a compound address as that table names it, and the offline check's plan without a catalog
expands it the same way."""

from sf_assets.pipeline.check_offline import check_offline
from sf_assets.schema.address import address_components
from sf_assets_tests.emulator.helpers import sf
from sf_assets_tests.pipeline_helpers import make_config

ACCOUNT = [{"name": "Account", "soql": "SELECT Id, BillingAddress FROM Account"}]


def test_org_and_offline_check_expand_addresses_alike(org, tmp_path):
    client = sf(org)
    org_parts = address_components("BillingAddress", picklists=False)  # the emulated org has no state picklists
    described = [f["name"] for f in client.Account.describe()["fields"] if f["compoundFieldName"] == "BillingAddress"]
    assert described == [p for p in org_parts if p != "BillingGeocodeAccuracy"]  # not geocoded: no such field
    value = client.query("SELECT BillingAddress FROM Account LIMIT 1")["records"][0]["BillingAddress"]
    # the REST keys of an Address (compound-fields-address.html), without the picklist-only codes
    assert list(value) == ["street", "city", "state", "postalCode", "country", "latitude", "longitude",
                           "geocodeAccuracy"]

    sql = "SELECT Id, BillingStreet, BillingStateCode, BillingGeocodeAccuracy FROM Account"  # any org's components
    config = make_config(org, tmp_path, objects=ACCOUNT, datasets=[{"name": "accounts", "sql": sql}])
    report = check_offline(config, engines=("sqlite",))  # no catalog cached yet: columns from the SOQL's text
    assert report.errors == [] and any("SOQL as text" in line for line in report.not_checked)
    typo = make_config(org, tmp_path / "typo", objects=ACCOUNT,
                       datasets=[{"name": "accounts", "sql": "SELECT BillingStreetName FROM Account"}])
    assert any("BillingStreetName" in e for e in check_offline(typo, engines=("sqlite",)).errors)
