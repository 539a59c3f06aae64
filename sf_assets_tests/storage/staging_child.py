"""Child process of the staging kill tests: stage Opportunity chunk files into a staging DB.

``--pause-in load`` (during ADBC's ingestion into the loading file) or ``--pause-in swap`` (inside
the staging DB transaction that swaps the table in) prints ``PAUSED`` and sleeps there, so the
parent can kill the process at that point; the product code itself is unchanged.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sf_assets.storage import staging, staging_loading
from sf_assets_tests.storage.test_staging import CFG, OBJ, PLAN


def _pause_after(fn, calls: int):
    count = {"n": 0}

    def wrapped(*args, **kwargs):
        count["n"] += 1
        if count["n"] == calls:
            print("PAUSED", flush=True)
            time.sleep(60)
        return fn(*args, **kwargs)

    return wrapped


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--chunks", type=Path, nargs="+", required=True)
    parser.add_argument("--pause-in", choices=["load", "swap"], default=None)
    args = parser.parse_args(argv)
    if args.pause_in == "load":
        staging_loading.to_sqlite_arrow = _pause_after(staging_loading.to_sqlite_arrow, 3)
    elif args.pause_in == "swap":
        staging._record = _pause_after(staging._record, 1)
    result = staging.stage_object(args.db, PLAN, args.chunks, OBJ, CFG)
    print(f"STAGED {result.rows}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
