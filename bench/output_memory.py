"""Peak RSS of the output stage's steps (partitioned write, consolidation, the whole publish) by result size.

    python bench/output_memory.py SOURCE.parquet [--rows 1000000 2000000 4000000] [--part-rows 100000]
                                  [--partition-col StageName]

SOURCE is a dataset result (e.g. a consolidated file kept by `refresh_vs_baseline.py --keep DIR`).
For each row count, its rows are repeated and cut into engine-like part files of --part-rows rows;
then each step runs in a fresh child process (nothing else in it) and reports its peak RSS
(VmHWM, Linux) above the RSS after imports, and its seconds.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

STEPS = ("partitioned", "consolidate", "publish")


def make_parts(source: Path, rows: int, part_rows: int, folder: Path) -> list[Path]:
    """`rows` rows of `source` (repeated as needed) in part files of `part_rows` rows."""
    table = pq.read_table(source)
    parts, written, i = [], 0, 0
    while written < rows:
        n = min(part_rows, rows - written)
        start = written % table.num_rows
        piece = table.slice(start, min(n, table.num_rows - start))
        path = folder / f"part-{i:05d}.parquet"
        pq.write_table(piece, path)
        parts.append(path)
        written, i = written + piece.num_rows, i + 1
    return parts


def child(step: str, folder: Path, partition_cols: list[str]) -> None:
    """Run one step over the parts in `folder`; print its figures as JSON."""
    from process_tree_rss import own_peak_mb

    from sf_assets.config.models import DatasetConfig, OutputConfig
    from sf_assets.storage import output
    from sf_assets.storage.output_consolidate import consolidate
    from sf_assets.storage.output_partitioned import PartitionedWriteLimits, write_partitioned

    parts = sorted(folder.glob("part-*.parquet"))
    schema = pq.read_schema(parts[0])
    rows = sum(pq.read_metadata(p).num_rows for p in parts)
    cfg = OutputConfig()
    before = own_peak_mb()
    started = time.perf_counter()
    out = Path(tempfile.mkdtemp(dir=folder))
    if step == "partitioned":
        limits = PartitionedWriteLimits(cfg.max_rows_per_file, cfg.row_group_rows, cfg.row_group_rows)
        write_partitioned(parts, schema, out / "dataset", partition_cols, limits, cfg.compression)
    elif step == "consolidate":
        consolidate(parts, out / "v.parquet", schema, cfg.row_group_rows, cfg.compression)
    else:
        dataset = DatasetConfig(name="d", sql="SELECT 1", partition_cols=partition_cols)
        output.build_version(dataset, parts, schema, rows, out, cfg, "r")
    print(json.dumps({"step": step, "rows": rows, "seconds": round(time.perf_counter() - started, 2),
                      "rss_after_imports_mb": round(before, 1), "peak_rss_mb": round(own_peak_mb(), 1)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path, nargs="?")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 2_000_000, 4_000_000])
    parser.add_argument("--part-rows", type=int, default=100_000)
    parser.add_argument("--partition-col", action="append", default=[], help="Hive partition column (repeatable)")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.partition_col)
        return
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="sf_outmem_") as tmp:
            make_parts(args.source, rows, args.part_rows, Path(tmp))
            for step in STEPS:
                flags = [f"--partition-col={c}" for c in args.partition_col]
                done = subprocess.run([sys.executable, __file__, "--child", step, tmp, *flags],
                                      capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(done.stderr[-2000:])
                r = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{r['rows']:>10,} rows  {step:<12} {r['seconds']:6.1f} s  peak RSS {r['peak_rss_mb']:7.0f} MB "
                      f"({r['peak_rss_mb'] - r['rss_after_imports_mb']:+.0f} MB over the imports)", flush=True)


if __name__ == "__main__":
    main()
