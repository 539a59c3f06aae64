"""Benchmark: publish_file (hash + fsync + verify re-read + rename + READY) against shutil.copyfile.

    python bench/publish_copy.py [--size-mb 1024] [--dir DIR]

Generates a random file of --size-mb MiB in a temp folder under --dir, copies it to another
local folder both ways (plus shutil.copyfile followed by fsync, the fair durable baseline),
prints MB/s (decimal) and the ratios, then deletes everything it wrote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from sf_assets.config.models import PublishConfig, RetryConfig
from sf_assets.publish import publish_file


def generate(path: Path, size_mb: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for i in range(size_mb):
            handle.write(block[i % 256:] + block[: i % 256])  # distinct blocks: no dedup/compression shortcuts
        os.fsync(handle.fileno())


def timed(fn) -> float:
    """Seconds `fn` takes, after flushing earlier dirty pages so that one run's writeback does not slow the next."""
    if hasattr(os, "sync"):
        os.sync()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def copy_and_fsync(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with open(dst, "rb+") as handle:
        os.fsync(handle.fileno())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="File size in MiB (default 1024).")
    parser.add_argument("--dir", type=Path, default=None, help="Where to create the temp folders.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        src = root / "output" / "bench.parquet"
        src.parent.mkdir()
        generate(src, args.size_mb)
        size = src.stat().st_size
        for name in ("copyfile", "copyfile_fsync", "share"):
            (root / name).mkdir()
        results = {
            "shutil.copyfile": timed(lambda: shutil.copyfile(src, root / "copyfile" / src.name)),
            "shutil.copyfile + fsync": timed(lambda: copy_and_fsync(src, root / "copyfile_fsync" / src.name)),
            "publish_file": timed(
                lambda: publish_file(src, root / "share", "bench", PublishConfig(retries=0), RetryConfig())
            ),
        }
        print(f"{size / 1e6:,.0f} MB, {os.cpu_count()} CPUs")
        for label, seconds in results.items():
            print(f"{label:<25} {seconds:7.2f} s  {size / 1e6 / seconds:8.0f} MB/s")
        base = results["publish_file"]
        for label in ("shutil.copyfile", "shutil.copyfile + fsync"):
            print(f"publish_file / {label}: {base / results[label]:.2f}x the time")


if __name__ == "__main__":
    main()
