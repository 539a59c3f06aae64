"""Every failure a user can meet, through the real `sf-assets` CLI (in-process `main`, for speed) on the emulator
over HTTPS: the one line it gives and the exit code. For `sf-assets run` the line is the same in the console,
in the run's failure in the Dagster instance (what the UI shows) and in the health JSON.

In a line, `…` stands for what changes from run to run (refresh id, dates, free space), `{url}` for the org's.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from sf_assets.cli import main
from sf_assets.emulator import FaultPlan
from sf_assets.health.causes import explain, failed_chunks_line
from sf_assets_tests.pipeline_helpers import write_config

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = [{"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"}]
DATASETS = [{"name": "accounts", "sql": "SELECT Id, Name FROM Account"}]
TOKEN_ENV = "SF_FAILURE_LINES_TOKEN"
BAD_TOKEN = "00D000000000001!not-a-live-session"
RUN, CHECK, ONLINE = "run", "check", "online"
RESUMES = "then `sf-assets run` resumes"
TOKEN_LINE = ("Salesforce refused the session: INVALID_SESSION_ID (the access token is expired or invalid): set a new "
              "one, then `sf-assets run` resumes")
NO_ACCONT = ("Salesforce has no object Accont visible to this user: fix the object name in the pipeline YAML (custom "
             "objects end in __c) or give the user access")
NME = ("Account: field 'Nme' does not exist in Salesforce (no such field) and no refresh ever delivered it (did you "
       "mean Name?)")
TLS = ("TLS certificate of {url} not trusted (unable to get local issuer certificate): set salesforce.ca_bundle to the "
       "CA that signs it (a corporate proxy's CA, or the emulator's)")


@dataclass(frozen=True)
class Case:
    """One input: config changes, environment, faults, and per command the exit code and the line."""

    objects: list = field(default_factory=lambda: ACCOUNT)
    datasets: list = field(default_factory=lambda: DATASETS)
    sections: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    faults: str = ""
    commands: tuple[tuple[str, int, str], ...] = ()


def _token_auth(url: str, ca: str | None) -> dict:
    return {"salesforce": {"auth": {"kind": "access_token", "instance_url": url, "access_token_env": TOKEN_ENV},
                           "ca_bundle": ca}}


CASES = {
    "unknown object": Case(
        objects=[{"name": "Accont", "soql": "SELECT Id, Name FROM Accont"}],
        datasets=[{"name": "accounts", "sql": "SELECT Id FROM Accont"}],
        commands=((RUN, 2, f"preflight: {NO_ACCONT}"), (ONLINE, 2, NO_ACCONT))),
    "unknown field": Case(  # the run caches the catalog: the offline check then knows the typo too
        objects=[{"name": "Account", "soql": "SELECT Id, Nme FROM Account"}],
        commands=((RUN, 2, f"field plans: {NME}"),
                  (CHECK, 2, f"objects.Account: {NME} (per the cached metadata catalog; `sf-assets config check "
                             "--online` asks Salesforce)"),
                  (ONLINE, 2, f"objects.Account: {NME}"))),
    "SOQL syntax": Case(
        objects=[{"name": "Account", "soql": "SELECT Id, Name FROM Account WHERE Name = "}],
        commands=((RUN, 2, "preflight: a SOQL in the pipeline YAML does not parse (WHERE ends early: expected a "
                           "value): fix it (`sf-assets config check` names the object)"),
                  (CHECK, 2, "objects.Account.soql: WHERE ends early: expected a value"))),
    "wrong token": Case(
        sections={"token": True}, env={TOKEN_ENV: BAD_TOKEN},
        commands=((RUN, 2, "preflight: Salesforce refused the session: INVALID_SESSION_ID (the access token is expired "
                           "or invalid): set a new one, then `sf-assets run` resumes refresh … until … UTC "
                           "(extraction.resume_window_hours after its start), later it starts a new refresh."),
                  (ONLINE, 2, f"login failed: {TOKEN_LINE}"))),
    "TLS": Case(
        sections={"token": True, "ca": None}, env={TOKEN_ENV: BAD_TOKEN},
        commands=((RUN, 2, f"preflight: {TLS}"), (ONLINE, 2, f"login failed: {TLS}"))),
    "refused connection": Case(
        sections={"token": True, "url": "https://127.0.0.1:9"}, env={TOKEN_ENV: BAD_TOKEN},
        commands=((RUN, 1, "preflight: cannot reach Salesforce at https://127.0.0.1:9: connection refused: check the "
                           f"instance or login URL and the network, {RESUMES}"),)),
    "proxy": Case(
        sections={"token": True}, env={TOKEN_ENV: BAD_TOKEN, "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""},
        commands=((RUN, 1, "preflight: cannot reach Salesforce through the proxy 127.0.0.1:9: the proxy refused or "
                           "dropped the connection: check HTTPS_PROXY / NO_PROXY and that the proxy runs, "
                           f"{RESUMES}"),)),
    "API limit": Case(
        faults="daily_limit_after:2",
        commands=((RUN, 1, "…: Salesforce's daily API request limit (TotalRequests) is reached "
                           "(REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.); Salesforce resets it within 24 "
                           "hours. `sf-assets run` "
                           "resumes refresh … until … UTC (extraction.resume_window_hours after its start), later it "
                           "starts a new refresh."),)),
    "disk": Case(
        sections={"preflight": {"min_free_disk_gb": 100000}},
        commands=((RUN, 1, "preflight: Not enough disk space: this refresh needs about … on … (work …, staging …, "
                           "output …) plus the 100000 GB minimum; … free: free space there (or move paths.work_dir, "
                           f"staging_db or output_dir), {RESUMES}"),)),
    "chunk failures": Case(
        faults="reset:1",
        commands=((RUN, 1, "1 chunk of Account failed: connection reset by Salesforce while downloading results (3 "
                           "attempts). Finished chunks are kept: `sf-assets run` (or the Partitions tab, \"Failed\") "
                           "extracts the failed ones again"),)),
    "share, and a field left out": Case(
        objects=[{"name": "Widget__c", "soql": "SELECT Id, Name, Blob__c FROM Widget__c"}],
        datasets=[{"name": "widgets", "sql": "SELECT Id, Name FROM Widget__c"}],
        sections={"paths": {"share_dir": "../no_share/powerbi"}, "publish": {"retries": 0}},
        commands=((RUN, 1, "publish: widgets.parquet: the share copy failed (No such file or directory): check that "
                           "paths.share_dir is reachable and writable, then run `sf-assets run` again (the local Power "
                           "BI files are intact)"),)),
}


def _pattern(line: str, url: str) -> re.Pattern:
    return re.compile(".+?".join(re.escape(part.replace("{url}", url)) for part in line.split("…")))


def _config(org, tmp_path: Path, case: Case) -> Path:
    sections = {k: v for k, v in case.sections.items() if k not in ("token", "ca", "url")}
    if case.sections.get("token"):
        ca = case.sections.get("ca", str(org.ca_path))
        sections.update(_token_auth(case.sections.get("url", org.instance_url), ca))
    sections["paths"] = {"share_dir": None, **sections.get("paths", {})}
    return write_config(org, tmp_path, objects=case.objects, datasets=case.datasets, **sections)


def _run_failures(home: Path) -> list[str]:
    """The step failure descriptions the Dagster UI shows for the runs in `home`."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return [event.dagster_event.step_failure_data.user_failure_data.description
                for run in instance.get_runs()
                for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)]


def _fields_check(home: Path) -> dg.AssetCheckEvaluation:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(["salesforce", "Widget__c"]), "fields_delivered"), limit=1)
    return record.evaluation


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One Dagster instance for every case (each has its own state DB): a new instance costs seconds."""
    path = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", path / "dagster.yaml")
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_each_failure_is_one_line_with_its_exit_code(org, home, tmp_path, monkeypatch, capsys, name):
    case = CASES[name]
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "https_proxy", "no_proxy", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    for var, value in case.env.items():
        monkeypatch.setenv(var, value)
    path = _config(org, tmp_path, case)
    org.set_faults(FaultPlan.parse(case.faults))
    for command, code, line in case.commands:
        argv = {RUN: ["run"], CHECK: ["config", "check"], ONLINE: ["config", "check", "--online"]}[command]
        assert main([*argv, "--config", str(path)]) == code, (command, capsys.readouterr())
        out, err = capsys.readouterr()
        said = out + err
        for wrong in ("Traceback", "Response content", "DagsterExecution", "errorCode", "Error(", BAD_TOKEN):
            assert wrong not in said, (command, wrong, said)
        if code == 2:
            assert "again to resume" not in said
        expected = _pattern(line, org.instance_url)
        if command != RUN:
            errors = [e.removeprefix("sf-assets: configuration error: ") for e in err.splitlines()
                      if e.startswith("sf-assets: configuration error: ")]
            assert len(errors) == 1 and expected.fullmatch(errors[0]), (command, err)
            continue
        failures = [f.removeprefix("  Failure: ") for f in err.splitlines() if f.startswith("  Failure: ")]
        assert len(failures) == 1 and expected.fullmatch(failures[0]), err
        assert failures[0] in _run_failures(home)  # the run's failure in the UI reads the same
        health = (tmp_path / "output").glob("health_check_*.json")
        text = "\n".join(p.read_text(encoding="utf-8") for p in health)
        assert json.dumps(failures[0])[1:-1] in text and BAD_TOKEN not in text
        if name == "chunk failures":  # one "Attempt n of N" sequence for the chunk, as many lines as retries
            retries = [e for e in err.splitlines() if "Retrying" in e]
            assert retries == [f"WARNING Account/c0001: Retrying Bulk API extraction of Account chunk c0001 (page 1). "
                               f"Attempt {n} of 3 (connection reset by Salesforce while downloading results)"
                               for n in (2, 3)], err
        if name == "share, and a field left out":
            left_out = "Blob__c left out (base64 fields are not supported by Bulk API)"
            assert f"      fields not delivered: {left_out}" in out.splitlines(), out
            check = _fields_check(home)
            assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
            assert check.description == f"Widget__c: {left_out}"
            assert ("Widget__c.Blob__c is named in the SOQL but left out: base64 fields are not supported by Bulk "
                    "API") in text  # the health JSON's warnings


def test_chunk_failures_are_counted_per_cause():
    """What the asset's failure says when chunks fail for different causes (the counting itself, without a run)."""
    reset = "connection reset by Salesforce while downloading results (3 attempts)"
    failures = {"c0001": reset, "c0002": reset, "c0003": "HTTP 500 UNKNOWN_EXCEPTION (1 attempt)", "c0004": reset}
    assert failed_chunks_line("Opportunity", failures) == (
        "4 chunks of Opportunity failed: 3 with connection reset by Salesforce while downloading results (3 attempts "
        "each); 1 with HTTP 500 UNKNOWN_EXCEPTION (1 attempt). Finished chunks are kept: `sf-assets run` (or the "
        "Partitions tab, \"Failed\") extracts the failed ones again")


def test_a_locked_database_is_named_with_its_fix(tmp_path):
    """A real SQLite file held by another connection (the CLI would wait out the 30 s busy timeout first)."""
    holder = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError) as raised:
            sqlite3.connect(tmp_path / "state.db", timeout=0).execute("SELECT * FROM t")
    finally:
        holder.close()
    cause = explain(raised.value)
    assert cause.line == ("a SQLite database (the state or staging DB) is locked by another program: close it (a DB "
                          "browser, a backup or antivirus tool), then `sf-assets run` resumes") and not cause.fix_first
