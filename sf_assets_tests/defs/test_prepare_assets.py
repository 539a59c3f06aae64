"""Preflight, catalog and field-plan assets materialized on a Dagster test instance against the emulator."""

import dagster as dg
import pytest

from sf_assets.defs.build import build_definitions
from sf_assets.defs.jobs import PREPARE_ASSETS
from sf_assets.defs.tags import REFRESH_TAG
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.pipeline_helpers import write_config

PREPARE = [a.key for a in PREPARE_ASSETS[:3]]


def run(config_path, instance, selection=PREPARE):
    defs = build_definitions(str(config_path))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and set(a.keys) & set(selection)]
    return dg.materialize(assets, instance=instance, resources=defs.resources,
                          tags={REFRESH_TAG: "20261122T000000Z-test"}, raise_on_error=False)


def metadata(result, key):
    return result.asset_materializations_for_node(key)[0].metadata


def test_prepare_assets_materialize_with_metadata(org, tmp_path):
    objects = [{"name": "Opportunity", "join_keys": ["AccountId"],
                "soql": "SELECT Id, AccountId, Account.Name, Amount, CloseDate FROM Opportunity"},
               {"name": "Widget__c", "soql": "SELECT * FROM Widget__c"}]
    path = write_config(org, tmp_path, objects=objects)
    org.set_api_used_pct(42.0)
    with dg.instance_for_test() as instance:
        result = run(path, instance)
    assert result.success
    pre = metadata(result, "preflight")
    assert pre["api_usage_pct"].value >= 42.0 and pre["throttled"].value is False
    assert pre["rows_estimate Opportunity"].value > 0
    plans = metadata(result, "field_plans")
    schema = plans["Opportunity columns"].value
    assert [c.name for c in schema.columns] == ["Id", "AccountId", "Account.Name", "Amount", "CloseDate"]
    assert {d["field"] for d in plans["Widget__c dropped"].value} == {"Legacy__c", "Blob__c"}  # by nature
    widget_columns = {c.name for c in plans["Widget__c columns"].value.columns}
    assert {"Location__Latitude__s", "Location__Longitude__s", "ShipStreet", "ShipCountry"} <= widget_columns
    assert not {"Location__c", "ShipAddress"} & widget_columns  # compounds replaced by their components
    assert "Blob__c" not in widget_columns  # base64 is refused by Bulk
    assert plans["Widget__c long_text_over_32k"].value == ["LongText__c"]  # flagged for Power BI's cell limit
    config_conn = open_state_db(tmp_path / "state" / "state.db")
    assert load_plan(config_conn, "Opportunity").column_names[0] == "Id"
    assert (tmp_path / "work" / "schemas" / "Opportunity.schema.json").is_file()


def test_deprecated_field_is_logged_and_dropped_but_a_typo_fails_with_the_closest_names(org, tmp_path, caplog):
    objects = [{"name": "Widget__c", "soql": "SELECT Id, Name, Legacy__c FROM Widget__c"}]
    with dg.instance_for_test() as instance:
        assert run(write_config(org, tmp_path, objects=objects), instance).success
    assert "Field 'Legacy__c' on Widget__c is invalid or deprecated: dropped (deprecated and hidden)" in caplog.text
    typo = [{"name": "Opportunity", "soql": "SELECT Id, StageNme FROM Opportunity"}]
    with dg.instance_for_test() as instance:
        result = run(write_config(org, tmp_path, objects=typo), instance)
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_failure_data.user_failure_data.description == (
        "field plans: Opportunity: field 'StageNme' does not exist in Salesforce (no such field) and no refresh "
        "ever delivered it (did you mean StageName?)")
    assert not org.counters()["jobs_created"]


def test_invalid_critical_field_fails_with_clear_message(org, tmp_path):
    objects = [{"name": "Opportunity", "critical_fields": ["Nope__c"], "soql": "SELECT Id, Amount FROM Opportunity"}]
    with dg.instance_for_test() as instance:
        result = run(write_config(org, tmp_path, objects=objects), instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert (
        "Critical field 'Nope__c' on Opportunity is invalid" in failure.step_failure_data.user_failure_data.description
    )


@pytest.mark.parametrize("pct", [90.0, 95.0])
def test_preflight_halt_fails_before_any_job(org, tmp_path, pct):
    org.set_api_used_pct(pct)
    with dg.instance_for_test() as instance:
        result = run(write_config(org, tmp_path), instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "halt threshold of 90 %" in failure.step_failure_data.user_failure_data.description
    assert not org.counters()["jobs_created"]
    assert not (tmp_path / "output").exists() or not any((tmp_path / "output").iterdir())
