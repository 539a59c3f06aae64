"""Rebuild `sf_assets_tests/fixtures/upgrade/previous_release.tar.xz`: an install made by an older release.

    .venv/bin/python scripts/make_upgrade_fixture.py [--commit 901067e]

The release's code is checked out into a temporary `git worktree` and run with this venv
(`PYTHONPATH=<worktree>`), against a local org emulator with the test suite's small rows (seed 7):
refresh 1 runs to the end (promoted, published to the share), then refresh 2 (`--new-refresh`) is
killed (SIGKILL) once two Opportunity chunks are done and more are pending. The install's folders
(config, Dagster instance, state DB, work, output, share; logs and the emulator's state file left
out) are packed from `ROOT`, the fixed folder they were made in; the test moves them elsewhere.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ROOT = Path("/tmp/sf-assets-upgrade-fixture")  # where the install is made (recorded in its absolute paths)
ARCHIVE = REPO / "sf_assets_tests" / "fixtures" / "upgrade" / "previous_release.tar.xz"
DEFAULT_COMMIT = "901067e"  # the last commit before issue 21 (the release upgraded from)
ROWS = {"Account": 300, "Contact": 500, "Opportunity": 2500, "Widget__c": 200}  # conftest.SMALL_ROWS, seed 7
PACKED = ("config", "dagster_home", "state", "work", "output", "share")
CONFIG = {
    "salesforce": {"auth": {"kind": "emulator", "state_file": "../org/org.json", "autostart": False}},
    "objects": [
        {"name": "Account", "soql": "SELECT Id, Name, Industry, BillingAddress FROM Account"},
        {"name": "Opportunity", "join_keys": ["AccountId"],
         "soql": "SELECT Id, AccountId, Name, Amount FROM Opportunity"},
    ],
    "extraction": {"chunk_size": 500, "max_concurrent_jobs": 1, "poll_initial_s": 0.05, "poll_max_s": 0.2,
                   "resume_window_hours": 876000},  # 100 years: the refresh it left stays resumable in any test run
    "retry": {"attempts": 3, "backoff_base_s": 0.01, "backoff_max_s": 0.05, "jitter_s": 0.01},
    "api_usage": {"wait_initial_s": 0.01, "wait_attempts": 2},
    "preflight": {"min_free_disk_gb": 0.01},
    "paths": {"work_dir": "../work", "output_dir": "../output", "log_dir": "../logs", "state_db": "../state/state.db",
              "staging_db": "../state/staging.db", "share_dir": "../share", "create_share_dir": True},
    "dask": {"engine": "sqlite"},  # the release's key for the dataset engine
    "datasets": [{"name": "opportunity_account", "sql":
                  "SELECT o.Id, o.Amount, a.Name AS AccountName, a.BillingCity FROM Opportunity o "
                  "LEFT JOIN Account a ON o.AccountId = a.Id"}],
    "output": {"cleanup_after_hours": 876000},
}


def _run(worktree: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(worktree), "DAGSTER_HOME": str(ROOT / "dagster_home"),
           "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "sf_assets.cli", "run", "--config",
                             str(ROOT / "config" / "pipeline.yaml"), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _done_chunks(refresh_index: int) -> tuple[str | None, int, int]:
    """(refresh id, Opportunity chunks done, planned) of the n-th refresh (0-based) once it exists."""
    db = ROOT / "state" / "state.db"
    if not db.exists():
        return None, 0, 0
    conn = sqlite3.connect(db, timeout=5)
    try:
        rows = conn.execute("SELECT refresh_id FROM refreshes ORDER BY started_at").fetchall()
        if len(rows) <= refresh_index:
            return None, 0, 0
        rid = rows[refresh_index][0]
        done, planned = conn.execute("SELECT COALESCE(SUM(status = 'success'), 0), COUNT(*) FROM chunks "
                                     "WHERE refresh_id = ? AND object = 'Opportunity'", (rid,)).fetchone()
        return rid, done, planned
    except sqlite3.Error:
        return None, 0, 0
    finally:
        conn.close()


def build(worktree: Path) -> None:
    from sf_assets.emulator import EmulatorOrg, FaultPlan, OrgSettings

    shutil.rmtree(ROOT, ignore_errors=True)
    (ROOT / "config").mkdir(parents=True)
    (ROOT / "dagster_home").mkdir()
    shutil.copy(worktree / "dagster_home" / "dagster.yaml", ROOT / "dagster_home" / "dagster.yaml")
    (ROOT / "config" / "pipeline.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False), encoding="utf-8")
    with tempfile.TemporaryDirectory() as ca_dir, \
            EmulatorOrg(OrgSettings(rows=dict(ROWS), state_dir=Path(ca_dir))) as org:
        org.write_state_file(ROOT / "org" / "org.json")
        first = _run(worktree)
        out, _ = first.communicate(timeout=600)
        assert first.returncode == 0, out[-3000:]
        org.set_faults(FaultPlan.parse("slow_jobs:3"))  # every job polls 3 more times: time to kill
        second = _run(worktree, "--new-refresh")
        deadline = time.monotonic() + 300
        while True:
            rid, done, planned = _done_chunks(1)
            if done >= 2 and planned > done:
                second.kill()
                second.wait(30)
                break
            assert second.poll() is None, f"refresh 2 ended before the kill point: {second.stdout.read()[-3000:]}"
            assert time.monotonic() < deadline, "kill point never reached"
            time.sleep(0.005)
    print(f"refresh 2 ({rid}) killed with {done} of {planned} Opportunity chunks done")


def pack() -> None:
    ARCHIVE.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(ARCHIVE, "w:xz", preset=9) as tar:
        for name in PACKED:
            tar.add(ROOT / name, arcname=name)
    print(f"{ARCHIVE}: {ARCHIVE.stat().st_size:,} bytes")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default=DEFAULT_COMMIT, help="the release to make the install with")
    args = parser.parse_args()
    worktree = Path(tempfile.mkdtemp(prefix="sf-assets-release-")) / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(worktree), args.commit], check=True)
    try:
        build(worktree)
        pack()
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(worktree)], check=True)
        shutil.rmtree(worktree.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
