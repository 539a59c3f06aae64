"""Staging load speed: stage_object on Opportunity-width chunk files vs plain executemany.

    /tmp/venv/bin/python bench/staging_load.py [--rows 1000000] [--chunk-rows 100000]

The baseline inserts ready-made Python tuples (converted before the clock starts) with the same
batch size, transactions and pragmas through Python's executemany; stage_object reads, converts
and ingests through ADBC, so a ratio above 1 is what bulk ingestion gains over executemany.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # sf_assets_tests helpers

from sf_assets.config.models import ObjectConfig, StagingConfig
from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.chunk_schema import read_conformed
from sf_assets.storage.sqlite_util import connect
from sf_assets.storage.staging import stage_object
from sf_assets.storage.staging_types import create_table_sql, to_sqlite_arrow
from sf_assets_tests.storage.emulated_chunks import emulator_plan, write_chunks


def baseline(db: Path, plan, files: list[Path], batch_rows: int) -> float:
    """Seconds to executemany ready-made tuples (built before timing)."""
    batches = [list(zip(*(c.to_pylist() for c in to_sqlite_arrow(b).columns)))  # the values as bound, as tuples
               for f in files for b in read_conformed(f, plan.arrow_schema(), batch_rows)]
    conn = connect(db)
    conn.execute(create_table_sql(plan, "Baseline"))
    sql = f'INSERT INTO "Baseline" VALUES ({", ".join("?" * len(plan.columns))})'
    started = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    args = parser.parse_args()
    plan = emulator_plan("Opportunity")
    gen = DataGenerator({"Account": 20_000, "Opportunity": args.rows})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_chunks(gen, plan, folder / "chunks", args.chunk_rows)
        cfg = StagingConfig(batch_rows=args.batch_rows)
        result = stage_object(
            folder / "staging.db", plan, files, ObjectConfig(name="Opportunity", soql="x", join_keys=["AccountId"]), cfg
        )
        base_s = baseline(folder / "baseline.db", plan, files, args.batch_rows)
        base_rate = args.rows / base_s
        print(f"columns={len(plan.columns)} rows={result.rows}")
        print(f"stage_object load: {result.rows_per_s:,.0f} rows/s (total with indexes+ANALYZE {result.seconds:.2f} s)")
        for ix in result.indexes:
            print(f"  index {ix.name}: {ix.seconds:.2f} s")
        print(f"baseline executemany of ready tuples: {base_rate:,.0f} rows/s")
        print(f"ratio stage_object/baseline: {result.rows_per_s / base_rate:.2f}")


if __name__ == "__main__":
    main()
