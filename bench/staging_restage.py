"""Staging an object that is already staged (every nightly refresh): this checkout vs a baseline git ref.

    .venv/bin/python bench/staging_restage.py [--rows 1000000] [--baseline main] [--rounds 2]

For each code version (the baseline from `git archive`, and this checkout), a child process writes
the same emulated Opportunity chunk files, stages them once into a fresh staging DB (the first
load), then again (the re-load, which replaces the previous table in one transaction), and reports
both `stage_object` times. Versions alternate, `--rounds` times.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(rows: int, work: Path) -> dict:
    """Runs inside the version under test (its code first on sys.path)."""
    from sf_assets.config.models import ObjectConfig, StagingConfig
    from sf_assets.emulator.datagen import DataGenerator
    from sf_assets.storage.staging import stage_object
    from sf_assets_tests.storage.emulated_chunks import emulator_plan, write_chunks

    plan = emulator_plan("Opportunity")
    files = write_chunks(DataGenerator({"Opportunity": rows}), plan, work / "chunks", 100_000)
    db, obj = work / "staging.db", ObjectConfig(name="Opportunity", soql="x", join_keys=["AccountId"])
    out = {}
    for load in ("first_load_s", "reload_s"):
        started = time.perf_counter()
        result = stage_object(db, plan, files, obj, StagingConfig())
        out[load] = round(time.perf_counter() - started, 2)
    return {**out, "rows": result.rows}


def run_version(code: Path, rows: int) -> dict:
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run([sys.executable, __file__, "--child", "--code", str(code), "--rows", str(rows),
                               "--work", work], env={**os.environ, "PYTHONPATH": str(code)}, capture_output=True,
                              text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--code", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(args.code))
        print(json.dumps(child(args.rows, args.work)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline"
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline], capture_output=True, check=True)
        baseline.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(baseline, filter="data")
        for i in range(1, args.rounds + 1):
            versions = [(args.baseline, baseline), ("this checkout", REPO)]
            for name, code in versions if i % 2 else versions[::-1]:
                print(f"round {i}: {name:<14} {run_version(code, args.rows)}", flush=True)


if __name__ == "__main__":
    main()
