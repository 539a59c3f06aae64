"""An install upgraded in place keeps working: today's code takes over what the previous release left.

The fixture `fixtures/upgrade/previous_release.tar.xz` is an install made by commit 901067e (the last
commit before issue 21) with `scripts/make_upgrade_fixture.py`, which also rebuilds it: the release's
`sf-assets run` against the emulator (small rows, seed 7; the `org` fixture serves the same data) ran
refresh 1 to the end (promoted, published to the share), then refresh 2 (`--new-refresh`) was killed with
SIGKILL after 2 of its 5 Opportunity chunks. It holds that release's Dagster instance (runs left STARTED,
the chunk keys c0001…c0005), state DB (facts in the release's shapes), work folder (chunk files), output
(a health JSON with the release's keys) and share, and its pipeline.yaml (`dask.engine`, since renamed).
The install was made in `MADE_IN`; its absolute paths are moved to the test's folder first (an upgrade in
place keeps its folders), and nothing else is changed. After a rebuild, set FINISHED and INTERRUPTED to its two
refresh ids (the script prints the second).
"""

import json
import logging
import sqlite3
import tarfile
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.defs.partitions import chunk_keys
from sf_assets.health import read_health
from sf_assets.pipeline.health import write_refresh_health

FIXTURE = Path(__file__).parent / "fixtures" / "upgrade" / "previous_release.tar.xz"
MADE_IN = "/tmp/sf-assets-upgrade-fixture"
FINISHED, INTERRUPTED = "20261203T103022Z-d7c6", "20261203T103029Z-5907"


def _unpack(root: Path) -> Path:
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(root, filter="data")
    conn = sqlite3.connect(root / "state" / "state.db")
    with conn:
        conn.execute("UPDATE chunks SET file_path = replace(file_path, ?, ?)", (MADE_IN, str(root)))
        conn.execute("UPDATE refresh_facts SET value_json = replace(value_json, ?, ?)", (MADE_IN, str(root)))
    conn.close()
    return root


def _chunks(root: Path, refresh_id: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    conn = sqlite3.connect(root / "state" / "state.db")
    try:
        return {(o, c): (s, j) for o, c, s, j in conn.execute(
            "SELECT object, chunk_id, status, job_id FROM chunks WHERE refresh_id = ?", (refresh_id,))}
    finally:
        conn.close()


def _live_ids(org, name: str) -> set[str]:
    data = org.data
    table = data.generate(name, 0, data.row_count(name, include_deleted=True), fields=["Id", "IsDeleted"])
    return set(table.filter(pc.invert(table.column("IsDeleted"))).column("Id").to_pylist())


def test_previous_release_install_resumes_its_refresh(org, tmp_path, monkeypatch, caplog):
    root = _unpack(tmp_path / "install")
    org.write_state_file(root / "org" / "org.json")
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    before = _chunks(root, INTERRUPTED)
    caplog.set_level(logging.INFO)

    config = load_config(root / "config" / "pipeline.yaml")  # the release's keys, read with a warning
    assert config.transform.engine == "sqlite"
    assert any("dask.engine" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)

    with dg.DagsterInstance.get() as instance:
        stale = [r.run_id for r in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))]
        assert stale  # the killed release left its runs started
        assert chunk_keys(instance, "Opportunity") == ["c0001", "c0002", "c0003", "c0004", "c0005"]
        outcome = execute_refresh(config, instance)
        assert outcome.ok, outcome.failures
        assert outcome.refresh_id == INTERRUPTED  # resumed, not started over
        assert all(instance.get_run_by_id(r).status == dg.DagsterRunStatus.FAILURE for r in stale)
        assert chunk_keys(instance, "Opportunity") == ["c0001", "c0002", "c0003", "c0004", "c0005"]

    after = _chunks(root, INTERRUPTED)
    assert set(after) == set(before) and all(status == "success" for status, _ in after.values())
    done_before = {k: job for k, (status, job) in before.items() if status == "success"}
    assert len(done_before) == 3 and all(after[k][1] == job for k, job in done_before.items())  # not extracted again

    table = pq.read_table(root / "output" / "opportunity_account" / "opportunity_account.parquet")
    assert set(table.column("Id").to_pylist()) == _live_ids(org, "Opportunity")
    assert json.loads((root / "output" / "opportunity_account" / "current.json").read_text())["refresh_id"] \
        == INTERRUPTED

    health = read_health(root / "output", INTERRUPTED)
    assert health["status"] == "success" and health["published"] and health["published"][0]["ok"]
    assert health["outputs"]["promoted_datasets"]["opportunity_account"]["refresh_id"] == INTERRUPTED
    assert set(health["api_usage_start"]) == {"used", "max", "pct", "at"}  # one shape: what, and when reported

    caplog.clear()
    old = read_health(root / "output", FINISHED)  # written by the release: its local promotion as "published"
    assert old["outputs"]["promoted_datasets"]["opportunity_account"]["rows"] == 2440
    assert any("outputs.published" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    write_refresh_health(config, FINISHED)  # today's writer renders the release's facts (its usage shape)
    rewritten = read_health(root / "output", FINISHED)
    assert rewritten["api_usage_start"] == {"used": 1, "max": 100_000, "pct": 0.0, "at": None}
    assert rewritten["outputs"]["promoted_datasets"]["opportunity_account"]["rows"] == 2440
    assert "published" not in rewritten["outputs"] and rewritten["status"] == "success"
