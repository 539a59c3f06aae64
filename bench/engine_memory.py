"""Peak memory (RSS of the process and its Dask workers) of one dataset build, this checkout vs a
baseline git ref, on both engines, in one command:

    .venv/bin/python bench/engine_memory.py [--rows 500000] [--baseline main] [--engines dask_sql sqlite]

For each code version a child process (PYTHONPATH = that version's code, from ``git archive``)
writes Account and Opportunity chunk files from that version's emulator, stages them, then builds
``SELECT o.*, a.Name AS AccountName FROM Opportunity o LEFT JOIN Account a ...``; a sampler reports
the highest summed RSS of the process tree during the build. The baseline's emulator has no dates
beyond 2262 (its Dask engine could not read them); this checkout's data has them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
JOIN = "SELECT o.*, a.Name AS AccountName FROM Opportunity o LEFT JOIN Account a ON o.AccountId = a.Id"


class PeakRss:
    """Samples the summed RSS of this process and its children every 20 ms."""

    def __init__(self) -> None:
        import psutil

        self._me, self.peak, self.start, self._stop = psutil.Process(), 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for proc in [self._me, *self._me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except Exception:  # a worker that just exited
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._total())

    def __enter__(self) -> PeakRss:
        self.peak = self.start = self._total()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def child(rows: int, engine: str, work: Path) -> dict:
    """Runs inside the version under test (its code first on sys.path)."""
    from sf_assets.config.models import DaskConfig, DatasetConfig, ObjectConfig, StagingConfig
    from sf_assets.emulator.datagen import DataGenerator
    from sf_assets.storage.staging import stage_object
    from sf_assets.transform.cluster import dask_client
    from sf_assets.transform.datasets import build_datasets
    from sf_assets_tests.storage.emulated_chunks import emulator_plan, write_chunks

    gen = DataGenerator({"Account": max(rows // 10, 1), "Opportunity": rows})
    db = work / "staging.db"
    for name in ("Account", "Opportunity"):
        plan = emulator_plan(name)
        files = write_chunks(gen, plan, work / "chunks" / name, 100_000)
        stage_object(db, plan, files, ObjectConfig(name=name, soql="x"), StagingConfig())
    dataset = DatasetConfig(name="opportunity_account", sql=JOIN)
    started = time.perf_counter()
    if engine == "sqlite":
        args, kwargs = _runner(engine)
        with PeakRss() as peak:
            report = build_datasets([dataset], db, work / "parts", *args, **kwargs)
    else:
        with dask_client(DaskConfig(n_workers=2, threads_per_worker=1, memory_limit="4GB"), work) as client:
            args, kwargs = _runner(engine, client)
            started = time.perf_counter()
            with PeakRss() as peak:
                report = build_datasets([dataset], db, work / "parts", *args, **kwargs)
    result = report["opportunity_account"]
    return {"engine": engine, "ok": result.ok, "error": result.error, "rows": result.result.rows if result.ok else 0,
            "seconds": round(time.perf_counter() - started, 2), "start_rss_mb": round(peak.start / 2**20),
            "peak_rss_mb": round(peak.peak / 2**20), "build_rss_mb": round((peak.peak - peak.start) / 2**20)}


def _runner(engine: str, client=None) -> tuple:
    """build_datasets' engine arguments in the version under test: a started engine's runner (issue 21 on), or
    the engine's name and client (before)."""
    import importlib

    module = importlib.import_module(f"sf_assets.transform.engine_{'dask' if engine == 'dask_sql' else engine}")
    if not hasattr(module, "start"):
        return (), {"engine": engine, "client": client}
    return (module.DaskSqlRunner(client) if engine == "dask_sql" else module.SqliteRunner(),), {}


def run_version(code: Path, rows: int, engine: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    with tempfile.TemporaryDirectory() as work:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--code",
                str(code),
                "--rows",
                str(rows),
                "--engines",
                engine,
                "--work",
                work,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"engine": engine, "ok": False, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--engines", nargs="+", default=["dask_sql", "sqlite"])
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--code", type=Path)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(args.code))
        print(json.dumps(child(args.rows, args.engines[0], args.work)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline"
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline], capture_output=True, check=True)
        baseline.mkdir()
        with tarfile.open(fileobj=__import__("io").BytesIO(archive.stdout)) as tar:
            tar.extractall(baseline, filter="data")
        for engine in args.engines:
            before = run_version(baseline, args.rows, engine)
            after = run_version(REPO, args.rows, engine)
            print(f"{engine}: {args.baseline} {before}")
            print(f"{engine}: this checkout {after}")
            if before.get("ok") and after.get("ok"):
                print(
                    f"{engine}: ratios this / {args.baseline}: peak RSS "
                    f"{after['peak_rss_mb'] / before['peak_rss_mb']:.2f}, "
                    f"growth during the build {after['build_rss_mb'] / max(before['build_rss_mb'], 1):.2f}, "
                    f"time {after['seconds'] / before['seconds']:.2f}"
                )


if __name__ == "__main__":
    main()
