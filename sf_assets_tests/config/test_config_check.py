"""`sf-assets config check` (offline) and `--online`: bad input caught before any extraction, one line, exit 2."""

import time

import pytest

from sf_assets.cli import main
from sf_assets.config.models import RetryConfig
from sf_assets.pipeline.catalog import build_catalog
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.pipeline_helpers import OBJECTS, make_config, write_config

JOIN = "SELECT o.Id, o.Amount, a.Name AS AccountName FROM Opportunity o LEFT JOIN Account a ON o.AccountId = a.Id"
MISSING = "SELECT o.Id, o.NoSuchColumn FROM Opportunity o"


def check(path, capsys, *extra):
    code = main(["config", "check", "--config", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _cache_catalog(org, tmp_path, objects=None):
    """The catalog a refresh leaves in the state DB (described from the emulator over HTTPS)."""
    config = make_config(org, tmp_path, objects)
    from sf_assets.pipeline.emulator import open_connection
    from sf_assets.salesforce.catalog import sf_describer

    connection = open_connection(config.salesforce)
    conn = open_state_db(config.paths.state_db)
    try:
        build_catalog(sf_describer(connection.client()), config.objects, conn, ttl_hours=24, retry=RetryConfig())
    finally:
        conn.close()
        connection.close()


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {"schedule": {"cron": "0 25 * * *"}},
            "schedule.cron: Value error, cron '0 25 * * *': hour value '25' is outside 0-23",
        ),
        ({"schedule": {"cron": "0 2 * *"}}, "must have 5 fields"),
        ({"schedule": {"timezone": "Europe/Pariss"}}, "timezone 'Europe/Pariss' is not an IANA timezone"),
    ],
)
def test_a_broken_schedule_is_a_configuration_error(org, tmp_path, capsys, section, expected):
    code, _, err = check(write_config(org, tmp_path, **section), capsys)
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1


def test_a_soql_syntax_error_is_caught_offline(org, tmp_path, capsys):
    objects = [OBJECTS[0], {**OBJECTS[1], "soql": "SELECT Id, Name Opportunity"}]
    code, _, err = check(write_config(org, tmp_path, objects=objects), capsys)
    assert code == 2 and "objects.Opportunity.soql:" in err


def test_a_dataset_naming_a_missing_column_is_caught_on_both_engines_without_a_catalog(org, tmp_path, capsys):
    path = write_config(org, tmp_path, datasets=[{"name": "ok", "sql": JOIN}, {"name": "broken", "sql": MISSING}])
    started = time.perf_counter()
    code, out, err = check(path, capsys)
    assert code == 2
    assert "datasets.broken: Dataset 'broken' failed on sqlite: OperationalError: no such column: o.NoSuchColumn" in err
    assert "datasets.broken: Dataset 'broken' failed on dask_sql:" in err
    assert "datasets.ok" not in err
    assert "not checked: field names and types against Salesforce: no cached catalog" in out
    assert "not checked: column types in dataset SQL" in out
    assert time.perf_counter() - started < 30
    assert not org.counters()["jobs_created"]


def test_with_a_cached_catalog_fields_and_dataset_sql_are_checked_against_the_planned_schema(org, tmp_path, capsys):
    blob = {"name": "Widget__c", "soql": "SELECT Id, Name, Blob__c FROM Widget__c"}  # base64: Bulk cannot deliver it
    _cache_catalog(org, tmp_path, [*OBJECTS, blob])
    ok = write_config(org, tmp_path, datasets=[{"name": "ok", "sql": JOIN}])
    code, out, err = check(ok, capsys)
    assert code == 0, err
    assert "checked:     fields of every SOQL against the cached metadata catalog" in out
    assert "not checked" not in out
    bogus = {**OBJECTS[1], "soql": OBJECTS[1]["soql"].replace("Amount,", "Amount, Bogus__c,")}
    typo = write_config(org, tmp_path, objects=[OBJECTS[0], bogus], datasets=[{"name": "ok", "sql": JOIN}])
    code, out, err = check(typo, capsys)
    assert code == 2 and ("objects.Opportunity: Opportunity: field 'Bogus__c' does not exist in Salesforce (no such "
                          "field) and no refresh ever delivered it") in err  # a typo, per the cached catalog
    critical = {**bogus, "critical_fields": ["Amount", "Bogus__c"]}
    code, _, err = check(write_config(org, tmp_path, objects=[OBJECTS[0], critical], datasets=[]), capsys)
    assert code == 2 and "objects.Opportunity:" in err and "Bogus__c" in err
    uses_blob = write_config(org, tmp_path, objects=[OBJECTS[0], blob],
                             datasets=[{"name": "b", "sql": "SELECT Blob__c FROM Widget__c"}])
    code, out, err = check(uses_blob, capsys)  # the dropped field is not in the planned table
    assert "warning:     objects.Widget__c: field Blob__c will not be extracted" in out
    assert code == 2 and "datasets.b: Dataset 'b' failed on sqlite" in err and "Blob__c" in err


def test_an_unset_secret_variable_is_exit_2_offline_and_online(org, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SF_TEST_UNSET_PASSWORD", raising=False)
    salesforce = {"auth": {"kind": "password", "username": "u@example.com", "password_env": "SF_TEST_UNSET_PASSWORD",
                           "security_token_env": None}, "login_url": org.login_url, "ca_bundle": str(org.ca_path)}
    path = write_config(org, tmp_path, salesforce=salesforce)
    for extra in ((), ("--online",)):
        code, _, err = check(path, capsys, *extra)
        assert code == 2
        assert ("environment variable SF_TEST_UNSET_PASSWORD (salesforce.auth.password_env) is not set") in err
    assert not org.counters()["logins"]


def test_online_check_validates_objects_soql_and_limits_in_seconds_without_a_bulk_job(org, tmp_path, capsys):
    path = write_config(org, tmp_path, datasets=[{"name": "ok", "sql": JOIN}])
    started = time.perf_counter()
    code, out, err = check(path, capsys, "--online")
    assert code == 0, err
    assert time.perf_counter() - started < 30
    assert "describe of" in out and "every SOQL and field validated by Salesforce (2 of 2)" in out and "/limits:" in out
    assert "SQL of 1 dataset(s) on empty planned tables with sqlite and dask_sql" in out
    assert "not checked" not in out  # the fresh describes leave nothing unchecked
    assert not org.counters()["jobs_created"]


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        (
            [{"name": "Nope__c", "soql": "SELECT Id FROM Nope__c"}],
            "configuration error: Salesforce has no object Nope__c "
            "visible to this user: fix the object name in the pipeline YAML (custom objects end in __c) or give the "
            "user "
            "access\n",
        ),
        (
            [{"name": "Account", "soql": "SELECT Id, Bogus__c FROM Account", "critical_fields": ["Bogus__c"]}],
            "Bogus__c",
        ),
        (
            [{"name": "Account", "soql": "SELECT Id FROM Account WHERE AnnualRevenue = 'abc'"}],
            "objects.Account.soql rejected by Salesforce: HTTP 400 INVALID_FIELD: value of filter criterion for field "
            "'AnnualRevenue'",
        ),
    ],
)
def test_online_check_catches_what_only_salesforce_knows(org, tmp_path, capsys, objects, expected):
    path = write_config(org, tmp_path, objects=objects, datasets=[])
    code, _, err = check(path, capsys, "--online")
    assert code == 2 and expected in err, err
    assert not org.counters()["jobs_created"]
