"""Preflight against the emulator: API usage thresholds, disk halt, row estimates, directories."""

import re

import pytest

from sf_assets.pipeline.emulator import open_connection
from sf_assets.pipeline.prepare import PreflightError, run_preflight
from sf_assets.storage.refresh_facts import get_fact
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.pipeline_helpers import make_config


def preflight(org, tmp_path, sleeps=None, **sections):
    config = make_config(org, tmp_path, **sections)
    conn = open_state_db(config.paths.state_db)
    sf = open_connection(config.salesforce).client()
    return run_preflight(sf, config, conn, "r1", sleep=(sleeps.append if sleeps is not None else lambda s: None)), conn


@pytest.mark.parametrize(("pct", "throttled", "waits"), [(79.0, False, 0), (80.0, True, 2), (89.0, True, 2)])
def test_api_usage_thresholds(org, tmp_path, pct, throttled, waits):
    org.set_api_used_pct(pct)
    sleeps: list[float] = []
    report, conn = preflight(org, tmp_path, sleeps)
    assert report.throttled is throttled
    assert len(sleeps) == waits and sleeps == sorted(sleeps)  # exponential backoff
    assert report.api_usage.pct >= pct
    assert get_fact(conn, "r1", "throttled") is throttled


def test_halt_at_90_percent_creates_no_job(org, tmp_path, caplog):
    caplog.set_level("INFO", logger="sf_assets")
    org.set_api_used_pct(90.0)
    with pytest.raises(PreflightError, match=r"API calls used \(90\.0 %\) is at or above the halt threshold of 90 %"):
        preflight(org, tmp_path)
    assert not org.counters()["jobs_created"]
    assert re.search(r"90,0\d\d of 100,000 API calls used \(90\.0 %\)", caplog.text)


def test_usage_falling_during_wait_continues_unthrottled(org, tmp_path):
    org.set_api_used_pct(85.0)
    config = make_config(org, tmp_path)
    conn = open_state_db(config.paths.state_db)
    sf = open_connection(config.salesforce).client()
    report = run_preflight(sf, config, conn, "r2", sleep=lambda s: org.set_api_used_pct(10.0))
    assert report.throttled is False


def test_disk_halt_names_free_and_needed(org, tmp_path):
    with pytest.raises(PreflightError, match=r"Not enough disk space: this refresh needs about [\d.]+ [KM]?B on .+ "
                                             r"plus the 10000000 GB minimum; [\d.]+ [KMGT]?B free$"):
        preflight(org, tmp_path, preflight={"min_free_disk_gb": 10**7})


def test_estimates_respect_where_and_query_all(org, tmp_path):
    objects = [
        {"name": "Opportunity", "soql": "SELECT Id, Amount FROM Opportunity WHERE IsWon = true"},
        {"name": "Widget__c", "soql": "SELECT Id, Name FROM Widget__c", "query_all": True},
    ]
    report, conn = preflight(org, tmp_path, objects=objects)
    data = org.data
    won = sum(pc_true(t) for t in [data.generate("Opportunity", 0, data.row_count("Opportunity", include_deleted=True),
                                                 fields=["IsWon", "IsDeleted"])])
    assert report.estimates["Opportunity"] == won
    assert report.estimates["Widget__c"] == data.row_count("Widget__c", include_deleted=True)
    stored = dict(conn.execute("SELECT object, row_count FROM object_estimates WHERE refresh_id = 'r1'").fetchall())
    assert stored == report.estimates


def pc_true(table):
    import pyarrow.compute as pc

    won = pc.and_(table.column("IsWon"), pc.invert(table.column("IsDeleted")))
    return pc.sum(won.cast("int64")).as_py() or 0


def test_directories_created_and_share_warning(org, tmp_path):
    report, _ = preflight(org, tmp_path)
    assert (tmp_path / "work").is_dir() and (tmp_path / "output").is_dir() and (tmp_path / "logs").is_dir()
    assert any("Share" in w and "not reachable" in w for w in report.warnings)


def test_unwritable_directory_is_one_line(org, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(PreflightError, match="is not writable"):
        preflight(org, tmp_path, paths={"work_dir": str(blocker / "work")})
