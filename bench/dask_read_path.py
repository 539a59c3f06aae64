"""Reading a staged table into Dask: from its Parquet chunk files vs from SQLite (rowid ranges).

    /tmp/venv/bin/python bench/dask_read_path.py [--rows 1000000] [--chunk-rows 100000]

Both paths go through ``dask_input.dask_table`` (same meta and dtypes); each is computed on a
2-worker LocalCluster as a row count plus a column sum, so no table is gathered in one process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # sf_assets_tests helpers

from sf_assets.config.models import DaskConfig, ObjectConfig, StagingConfig
from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.staging import stage_object
from sf_assets.transform.cluster import dask_client
from sf_assets.transform.dask_input import dask_table
from sf_assets.transform.staged import staged_tables
from sf_assets_tests.storage.emulated_chunks import emulator_plan, write_chunks


def timed(frame, client) -> tuple[float, int]:
    started = time.perf_counter()
    rows, _ = client.compute([frame.shape[0], frame["Amount"].sum()], sync=True)
    return time.perf_counter() - started, int(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    args = parser.parse_args()
    plan = emulator_plan("Opportunity")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_chunks(
            DataGenerator({"Account": 20_000, "Opportunity": args.rows}), plan, folder / "chunks", args.chunk_rows
        )
        db = folder / "staging.db"
        stage_object(db, plan, files, ObjectConfig(name="Opportunity", soql="x"), StagingConfig())
        table = staged_tables(db)["Opportunity"]
        with dask_client(DaskConfig(n_workers=2, threads_per_worker=1, memory_limit="3GB"), folder) as client:
            results = {source: timed(dask_table(table, db, source), client) for source in ("parquet", "sqlite")}
    for source, (seconds, rows) in results.items():
        print(f"{source:8s}: {rows} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s")
    ratio = results["sqlite"][0] / results["parquet"][0]
    print(f"ratio: Parquet chunk files are {ratio:.1f}x faster than SQLite")


if __name__ == "__main__":
    main()
