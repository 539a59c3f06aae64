"""All-or-nothing promotion of a refresh's outputs: in-use files (Windows), rollback, kill recovery, MAX_PATH."""

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sf_assets.config.models import DatasetConfig, OutputConfig
from sf_assets.storage import files as files_module
from sf_assets.storage.output import build_version
from sf_assets.storage.output_cleanup import prune_versions, remove_dead_output_temps
from sf_assets.storage.output_promote import JOURNAL, PromotionError, promote_all, recover_promotion
from sf_assets_tests.storage.test_output import SCHEMA, _parts, _snapshot

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("accounts", "contacts", "opps")
CFG = OutputConfig(row_group_rows=300, max_rows_per_file=200, in_use_wait_s=0.6)


def _build(tmp_path: Path, refresh_id: str, names=NAMES):
    return [
        build_version(
            DatasetConfig(name=n, sql="x", partition_cols=["Stage"]),
            _parts(tmp_path / "parts" / refresh_id / n),
            SCHEMA,
            1000,
            tmp_path / "out",
            CFG,
            refresh_id,
        )
        for n in names
    ]


def _consistent(out: Path, name: str, refresh_id: str) -> None:
    """current.json names `refresh_id`, and the stable file is exactly that version's consolidated file."""
    current = json.loads((out / name / "current.json").read_text())
    assert current["refresh_id"] == refresh_id
    version_file = out / name / current["folder"] / current["consolidated"]
    assert (out / name / f"{name}.parquet").read_bytes() == version_file.read_bytes()


def _in_use(monkeypatch, name: str, released_after: int | None = None) -> dict:
    """Windows semantics: os.replace onto a file another program holds open raises PermissionError."""
    calls = {"n": 0}
    real = os.replace

    def replace(src, dst):
        if Path(dst).name == name:
            calls["n"] += 1
            if released_after is None or calls["n"] <= released_after:
                raise PermissionError(
                    13, "The process cannot access the file because it is being used by another process"
                )
        return real(src, dst)

    monkeypatch.setattr(files_module.os, "replace", replace)
    return calls


def test_a_file_held_open_past_the_wait_leaves_every_dataset_as_it_was(tmp_path, monkeypatch, caplog):
    promote_all(_build(tmp_path, "r1"), tmp_path / "out", CFG.in_use_wait_s)
    before = _snapshot(tmp_path / "out")
    built = _build(tmp_path, "r2")
    _in_use(monkeypatch, "opps.parquet")  # the last dataset: the first two were already promoted, then rolled back
    with (
        caplog.at_level(logging.WARNING),
        pytest.raises(PromotionError, match="opps.parquet is in use by another program"),
    ):
        promote_all(built, tmp_path / "out", CFG.in_use_wait_s)
    assert "is in use by another program (Power BI Desktop?): waiting up to 1 s" in caplog.text
    assert _snapshot(tmp_path / "out") == before
    for name in NAMES:
        _consistent(tmp_path / "out", name, "r1")


def test_a_file_released_during_the_wait_is_replaced(tmp_path, monkeypatch):
    promote_all(_build(tmp_path, "r1"), tmp_path / "out", CFG.in_use_wait_s)
    calls = _in_use(monkeypatch, "contacts.parquet", released_after=2)
    promote_all(_build(tmp_path, "r2"), tmp_path / "out", 30)
    assert calls["n"] == 3
    for name in NAMES:
        _consistent(tmp_path / "out", name, "r2")
    assert not (tmp_path / "out" / JOURNAL).exists()


def test_a_kill_during_promotion_is_completed_by_the_next_run(tmp_path):
    promote_all(_build(tmp_path, "r1"), tmp_path / "out", CFG.in_use_wait_s)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from pathlib import Path\n"
                "from sf_assets.storage import output_promote as p\n"
                "from sf_assets_tests.storage.test_output_promote import _build, CFG\n"
                "real, n = p._promote_one, []\n"
                "def slow(entry, wait):\n"
                "    n.append(1)\n"
                "    if len(n) == 2:\n"
                "        print('PAUSED', flush=True); time.sleep(60)\n"
                "    real(entry, wait)\n"
                "p._promote_one = slow\n"
                "p.promote_all(_build(Path(sys.argv[1]), 'r2'), Path(sys.argv[1]) / 'out', CFG.in_use_wait_s)\n"
            ),
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "PAUSED", child.stderr.read()
    child.kill()
    child.wait(10)
    out = tmp_path / "out"
    assert (out / JOURNAL).exists()
    _consistent(out, "accounts", "r2")  # each file is whole and matches its current.json, even mid-promotion
    _consistent(out, "opps", "r1")
    assert recover_promotion(out, CFG.in_use_wait_s) == list(NAMES)
    for name in NAMES:
        _consistent(out, name, "r2")
    assert not (out / JOURNAL).exists()


def test_temps_of_killed_runs_are_removed_and_a_live_runs_are_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", (
        "from pathlib import Path; import sys\n"
        "from sf_assets.storage.output import build_version\n"
        "from sf_assets_tests.storage.test_output_promote import _build\n"
        "_build(Path(sys.argv[1]), 'r9')\n"
        "from sf_assets.storage.files import temp_path_for\n"
        "temp_path_for(Path(sys.argv[1]) / 'out' / 'opps' / 'opps.parquet').write_text('partial')\n"), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True)  # exits without promoting: its temps stay behind as after a kill
    assert dead.returncode == 0, dead.stderr
    out = tmp_path / "out"
    left = sorted(p.name for p in out.rglob(".*") if p.parent.parent == out)
    assert len(left) == 4 and all(".tmp" in n for n in left)
    legacy = out / "opps" / ".opps__r8.tmp-0123abcd"  # what a kill left with the version before owner tags
    (legacy / "dataset").mkdir(parents=True)
    os.utime(legacy, (time.time() - 7200,) * 2)
    live = _build(tmp_path, "r10")
    removed = remove_dead_output_temps(out, NAMES)
    assert sorted(p.name for p in removed) == sorted([*left, legacy.name])
    assert all(b.tmp.is_dir() for b in live), "a live run's temp folders are never removed"


def test_pruning_never_removes_the_version_current_json_points_at(tmp_path):
    promote_all(_build(tmp_path, "r1", ["opps"]), tmp_path / "out", CFG.in_use_wait_s)
    promote_all(_build(tmp_path, "r2", ["opps"]), tmp_path / "out", CFG.in_use_wait_s)
    root = tmp_path / "out" / "opps"
    (root / "vr1").touch()  # the older version now looks newest (mtime)
    os.utime(root / "vr1")
    assert prune_versions(root, keep=1) == [root / "vr1"]
    _consistent(tmp_path / "out", "opps", "r2")
