"""Metadata catalog against the emulator: caching with a TTL, parents, failures."""

from datetime import UTC, datetime, timedelta

import pytest

from sf_assets.emulator import FaultPlan
from sf_assets.pipeline.catalog import build_catalog, load_cached_catalog
from sf_assets.pipeline.emulator import open_connection
from sf_assets.salesforce.catalog import CatalogError, sf_describer
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.pipeline_helpers import make_config


def setup(org, tmp_path):
    config = make_config(org, tmp_path)
    describe = sf_describer(open_connection(config.salesforce).client())
    return config, describe, open_state_db(config.paths.state_db)


def catalog(config, describe, conn, **kwargs):
    kwargs.setdefault("ttl_hours", 24)
    return build_catalog(describe, [config.object("Opportunity")], conn, retry=config.retry, **kwargs)


def test_second_run_uses_cache_until_ttl(org, tmp_path):
    config, describe, conn = setup(org, tmp_path)
    first = catalog(config, describe, conn)
    assert set(first) == {"Opportunity", "Account"}  # Account described as the parent of Account.Name
    assert org.counters()["describes"] == {"Opportunity": 1, "Account": 1}
    org.reset_counters()
    second = catalog(config, describe, conn)
    assert not org.counters()["describes"]  # no describe call at all
    assert second["Opportunity"].field("amount") == first["Opportunity"].field("Amount")
    later = datetime.now(UTC) + timedelta(hours=25)
    catalog(config, describe, conn, now=later)
    assert org.counters()["describes"] == {"Opportunity": 1, "Account": 1}
    org.reset_counters()
    catalog(config, describe, conn, force_refresh=True)
    assert org.counters()["describes"] == {"Opportunity": 1, "Account": 1}


def test_cached_catalog_keeps_every_field_attribute(org, tmp_path):
    config, describe, conn = setup(org, tmp_path)
    catalog(config, describe, conn)
    cached = load_cached_catalog(conn)
    assert set(cached) == {"Opportunity", "Account"}
    amount = cached["Opportunity"].field("Amount")
    assert (amount.type, amount.soap_type, amount.nillable, amount.precision, amount.scale) == (
        "currency", "xsd:double", True, 18, 2)
    assert cached["Opportunity"].field("AccountId").reference_to == ("Account",)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'metadata_catalog'").fetchone() is None


def test_describe_that_keeps_failing_names_object(org, tmp_path):
    config, describe, conn = setup(org, tmp_path)
    org.set_faults(FaultPlan.parse("503:1.0"))
    with pytest.raises(CatalogError, match="describe of Opportunity failed: HTTP 503"):
        catalog(config, describe, conn)
    assert org.counters()["errors"]["503"] == config.retry.attempts


def test_transient_describe_error_is_retried(org, tmp_path, caplog):
    config = make_config(org, tmp_path, retry={"attempts": 8})
    describe = sf_describer(open_connection(config.salesforce).client())
    org.set_faults(FaultPlan.parse("503:0.5"))  # deterministic from the seed
    result = build_catalog(describe, [config.object("Opportunity")], open_state_db(config.paths.state_db),
                           ttl_hours=1, retry=config.retry)
    assert set(result) == {"Opportunity", "Account"}
    assert org.counters()["errors"]["503"] >= 1
    assert "Retrying describe of" in caplog.text and "due to HTTP 503" in caplog.text


def test_unknown_object(org, tmp_path):
    config = make_config(org, tmp_path, objects=[{"name": "Nope__c", "soql": "SELECT Id FROM Nope__c"}])
    describe = sf_describer(open_connection(config.salesforce).client())
    with pytest.raises(CatalogError, match="describe of Nope__c failed: HTTP 404"):
        build_catalog(describe, config.objects, open_state_db(config.paths.state_db), ttl_hours=1, retry=config.retry)
