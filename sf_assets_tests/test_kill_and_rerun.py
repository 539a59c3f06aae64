"""SIGKILL of `sf-assets run` at every stage, then a rerun: value-exact, nothing re-extracted, no partial file seen.

Each test runs the real CLI as a child process against the emulator and kills it with
``Popen.kill()`` (SIGKILL on POSIX, TerminateProcess on Windows) the moment the stage under test
leaves its first trace on disk (a log line, the staging loading file, the engine's part folder,
the promotion journal, the share's temp file). A watcher thread reads every final path — each
``<dataset>.parquet``, ``current.json`` and published share file — every few milliseconds during
the kill and records anything partial. The rerun (`sf-assets run`, which resumes the refresh)
must end exact: every dataset holds exactly the emulator's rows, all of the same refresh, and no
chunk finished before the kill was extracted again. Small data keeps each test to seconds.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from sf_assets_tests.pipeline_helpers import write_config

REPO = Path(__file__).resolve().parents[1]
OBJECTS = [
    {"name": "Account", "soql": "SELECT Id, Name, Industry FROM Account"},
    {"name": "Opportunity", "join_keys": ["AccountId"], "soql": "SELECT Id, AccountId, Name, Amount FROM Opportunity"},
]
DATASETS = [
    {"name": "accounts", "sql": "SELECT Id, Name, Industry FROM Account"},
    {
        "name": "opportunity_account",
        "sql": "SELECT o.Id, o.Amount, a.Name AS AccountName FROM Opportunity o LEFT JOIN Account a ON o.AccountId = "
        "a.Id",
    },
]


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "DAGSTER_HOME": str(root / "dagster_home"), "PYTHONUNBUFFERED": "1"}


def _run(root: Path, *extra: str, slow_output_replace: bool = False) -> subprocess.Popen:
    env = _env(root)
    if slow_output_replace:  # sf_assets_tests/slow_replace/sitecustomize.py: promotion takes long enough to be hit
        env.update(PYTHONPATH=os.pathsep.join([str(Path(__file__).parent / "slow_replace"), env.get("PYTHONPATH", "")]),
                   SF_TEST_SLOW_REPLACE_UNDER=str(root / "output"))
    return subprocess.Popen(
        [sys.executable, "-m", "sf_assets.cli", "run", "--config", str(root / "config" / "pipeline.yaml"), *extra],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def refreshed(_session_org, tmp_path_factory):
    """One good refresh, done once; each test gets a copy of its folders."""
    root = tmp_path_factory.mktemp("refreshed")
    write_config(_session_org, root, objects=OBJECTS, datasets=DATASETS, paths={"create_share_dir": True},
                 extraction={"chunk_size": 1000, "max_concurrent_jobs": 1})
    (root / "dagster_home").mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    proc = _run(root)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return root


@pytest.fixture()
def pipeline(refreshed, org, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(refreshed, root)
    (root / "config" / "pipeline.yaml").write_text(
        (root / "config" / "pipeline.yaml").read_text().replace(str(refreshed), str(root)))
    return root


class FinalPathWatcher(threading.Thread):
    """Reads every final path continuously; records any that is present but not a whole, valid file."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root, self.stop, self.problems, self.reads = root, threading.Event(), [], 0

    def run(self) -> None:
        while not self.stop.is_set():
            for ds in DATASETS:
                folder = self.root / "output" / ds["name"]
                self._check(folder / f"{ds['name']}.parquet", parquet=True)
                self._check(folder / "current.json", parquet=False)
            share = self.root / "share"
            for path in share.iterdir() if share.is_dir() else ():
                if path.suffix == ".parquet":
                    self._check(path, parquet=True)
            time.sleep(0.002)

    def _check(self, path: Path, parquet: bool) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        self.reads += 1
        try:
            pq.read_table(pa.BufferReader(data)) if parquet else json.loads(data)
        except Exception as exc:  # anything unreadable at a final path is a defect
            self.problems.append(f"{path}: {type(exc).__name__}: {exc}")


def _kill_when(proc: subprocess.Popen, seen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not seen():
        if proc.poll() is not None:
            raise AssertionError(
                f"the run ended (rc {proc.returncode}) before the kill point: {proc.stderr.read()[-3000:]}"
            )
        assert time.monotonic() < deadline, "kill point never reached"
        time.sleep(0.001)
    proc.kill()
    proc.wait(30)


def _log_has(root: Path, text: str):
    """True once `text` is in a log line written after this call (any process's log file, in any refresh's folder)."""
    logs = root / "logs"
    sizes = {p: p.stat().st_size for p in logs.rglob("*.log")} if logs.is_dir() else {}

    def seen() -> bool:
        return logs.is_dir() and any(text in p.read_text(encoding="utf-8", errors="replace")[sizes.get(p, 0):]
                                     for p in logs.rglob("*.log"))

    return seen


def _appears(folder: Path, match=lambda p: True):
    return lambda: folder.is_dir() and any(match(p) for p in folder.iterdir())


def _chunk_counts(root: Path) -> tuple[int, int, int]:
    """(chunks planned, chunks finished, unfinished chunks whose Bulk job was created) of the latest refresh."""
    conn = sqlite3.connect(root / "state" / "state.db")
    try:
        rid = conn.execute("SELECT refresh_id FROM refreshes ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        return conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'success'), 0), "
            "COALESCE(SUM(status != 'success' AND job_id IS NOT NULL), 0) FROM chunks WHERE refresh_id = ?",
            (rid,)).fetchone()
    finally:
        conn.close()


def _consistent(root: Path) -> None:
    """Each stable file is exactly the version its current.json names."""
    for ds in DATASETS:
        folder = root / "output" / ds["name"]
        current = json.loads((folder / "current.json").read_text())
        version = folder / current["folder"] / (current.get("consolidated") or current["folder"] + ".parquet")
        assert (folder / f"{ds['name']}.parquet").read_bytes() == version.read_bytes(), ds["name"]


def _expected(org) -> dict[str, set[str]]:
    def live_ids(name):
        data = org.data
        table = data.generate(name, 0, data.row_count(name, include_deleted=True), fields=["Id", "IsDeleted"])
        return set(table.filter(pc.invert(table.column("IsDeleted"))).column("Id").to_pylist())

    return {"accounts": live_ids("Account"), "opportunity_account": live_ids("Opportunity")}


def _assert_exact(root: Path, org) -> str:
    """Every dataset holds exactly the emulator's rows, all from one refresh; no temps left; returns the refresh id."""
    refreshes = set()
    for name, ids in _expected(org).items():
        folder = root / "output" / name
        current = json.loads((folder / "current.json").read_text())
        refreshes.add(current["refresh_id"])
        table = pq.read_table(folder / f"{name}.parquet")
        assert table.num_rows == len(ids) and set(table.column("Id").to_pylist()) == ids, name
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], "temp left in the output folder"
    assert len(refreshes) == 1, f"the Power BI files mix refreshes: {refreshes}"
    assert not (root / "output" / "_promotion.json").exists()
    loading = root / "state" / "staging.db.loading"
    assert not loading.exists() or not list(loading.iterdir())
    datasets_work = root / "work" / "datasets"
    assert not datasets_work.exists() or not list(datasets_work.iterdir())
    conn = sqlite3.connect(root / "state" / "staging.db")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    return refreshes.pop()


STAGES = {
    "planning": lambda root: _log_has(root, "Planned 3 columns of Account"),
    "extraction": lambda root: _log_has(root, "Extracted Opportunity chunk"),
    "staging": lambda root: _appears(root / "state" / "staging.db.loading"),
    "dataset_build": lambda root: _appears(root / "work" / "datasets", lambda p: ".p" in p.name),
    "output_promotion": lambda root: _appears(root / "output", lambda p: p.name == "_promotion.json"),
    "publish": lambda root: _appears(root / "share", lambda p: p.name.endswith(".tmp")),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_sigkill_then_rerun_ends_exact(pipeline, org, stage):
    root = pipeline
    before = {ds["name"]: (root / "output" / ds["name"] / f"{ds['name']}.parquet").read_bytes() for ds in DATASETS}
    watcher = FinalPathWatcher(root)
    watcher.start()
    try:
        proc = _run(root, "--new-refresh", slow_output_replace=stage == "output_promotion")
        _kill_when(proc, STAGES[stage](root))
        time.sleep(0.05)
    finally:
        watcher.stop.set()
        watcher.join(5)
    assert watcher.reads > 0 and not watcher.problems, watcher.problems[:5]
    after_kill = {ds["name"]: (root / "output" / ds["name"] / f"{ds['name']}.parquet").read_bytes() for ds in DATASETS}
    if stage not in ("output_promotion", "publish"):  # nothing promoted yet: the previous files, byte for byte
        assert after_kill == before
    _consistent(root)
    planned, finished, with_job = _chunk_counts(root)
    if stage == "extraction":
        assert 0 < finished < planned, (finished, planned)
    org.reset_counters()

    rerun = _run(root)
    try:
        out, err = rerun.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        rerun.kill()
        out, err = rerun.communicate()
        log = max((root / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime).read_text()[-4000:]
        raise AssertionError(f"the rerun hung: {out[-1500:]} {err[-1500:]} {log}") from None
    assert rerun.returncode == 0, (out[-2000:], err[-3000:])
    refresh_id = _assert_exact(root, org)
    assert f"Refresh {refresh_id}: SUCCESS" in out
    _consistent(root)
    # chunks finished before the kill are not extracted again, and a job created before it is adopted (killed, it
    # was never aborted); a kill during the share copy leaves a finished, unpublished refresh: the rerun only
    # publishes it (no Bulk job at all)
    if stage != "planning":
        assert sum(org.counters()["jobs_created"].values()) == planned - finished - with_job, (
            org.counters()["jobs_created"], planned, finished, with_job)
    published = [p for p in (root / "share").iterdir() if p.name.endswith(f"{refresh_id}.parquet")]
    assert len(published) == len(DATASETS)
    for path in published:  # every copy at a final name is whole (a killed copy's .tmp stays until retention)
        assert pq.read_table(path).num_rows == len(_expected(org)[path.name.split("__")[0]])


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and not p.name.startswith("health_check_")}


def test_a_refresh_with_one_failing_dataset_changes_no_file_the_user_or_the_share_sees(pipeline, org):
    root = pipeline
    config = root / "config" / "pipeline.yaml"
    text = config.read_text()
    assert " sql: SELECT Id, Name, Industry FROM Account" in text
    config.write_text(
        text.replace(" sql: SELECT Id, Name, Industry FROM Account", " sql: SELECT Id, NoSuchColumn FROM Account")
    )
    before_output, before_share = _tree(root / "output"), _tree(root / "share")
    proc = _run(root, "--new-refresh")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-3000:]
    assert _tree(root / "output") == before_output  # opportunity_account built fine but is held back; nothing pruned
    assert _tree(root / "share") == before_share
    health = json.loads(sorted((root / "output").glob("health_check_*.json"))[-1].read_text())
    assert health["status"] == "failed"
    assert any("accounts" in e and "NoSuchColumn" in e for e in health["errors"]["last"]), health["errors"]
    assert "Failure: " in err and "accounts" in err
    conn = sqlite3.connect(root / "state" / "state.db")  # what the health JSON's writer gets: which dataset and why
    (fact,) = conn.execute("SELECT value_json FROM refresh_facts WHERE name = 'outputs' ORDER BY rowid DESC").fetchone()
    conn.close()
    outputs = json.loads(fact)
    assert outputs["promoted"] is False and list(outputs["failed"]) == ["accounts"]
    assert "NoSuchColumn" in outputs["failed"]["accounts"] and outputs["held_back"] == ["opportunity_account"]
