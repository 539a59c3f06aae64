"""Summarize a `py-spy record --format raw` profile (collapsed stacks) of `sf-assets run`.

    python bench/pyspy_summary.py PROFILE.txt [--top 15]

py-spy samples only threads that are running (not idle), so a figure is CPU-busy seconds of
Python threads (GIL-releasing C code included), not wall time. Prints, per process, the seconds
spent under each pipeline function of interest (inclusive) and the top leaf functions (self).
"""
from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

RATE_HZ = 50  # bench/refresh_vs_baseline.py records at --rate 50
MARKERS = {  # inclusive: a sample counts for the first marker found from the top of its stack
    "imports (start-up)": "_find_and_load",
    "build_definitions": "build_definitions",
    "plan_chunks": "plan_chunks",
    "extract: cast (cast_csv_table)": "cast_csv_table",
    "extract: HTTP read + CSV parse (page_batches)": "page_batches",
    "extract: write Parquet part (write_page)": "write_page",
    "extract: merge parts into the chunk file": "merge_parts",
    "extract: job create/poll (open_query_job, wait)": "wait",
    "extract_chunk (other)": "extract_chunk",
    "staging: schema check": "check_chunks",
    "staging: load (ADBC)": "_load",
    "staging: indexes": "_swap",
    "staging: ANALYZE": "stage_object",
    "datasets: Dask-SQL plan": "run_dask_sql",
    "datasets: worker partitions": "write_part",
    "output: partitioned write": "_write_partitioned",
    "output: consolidate": "consolidate",
    "output: verify/manifest": "publish_dataset",
    "health JSON": "finish_refresh_with_health",
    "Dagster run machinery": "execute_in_process",
}
PROCESS = re.compile(r"^process (\d+):\"([^\"]*)")  # a command line may hold ";" (spawn_main)


def parse(path: Path) -> dict[str, list[tuple[list[str], int]]]:
    """Stacks per process: (frames root→leaf as 'function (file:line)', samples)."""
    out: dict[str, list[tuple[list[str], int]]] = defaultdict(list)
    for raw in path.read_text(errors="replace").splitlines():
        stack, _, count = raw.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        process = "?"
        starts = [i for i, f in enumerate(frames) if PROCESS.match(f)]  # a child's stack follows its parents' names
        if starts:
            m = PROCESS.match(frames[starts[-1]])
            process = f"{m.group(1)} {m.group(2)[:70]}"
            frames = frames[starts[-1] + 1:]
        frames = [f for f in frames if not f.startswith("thread ") and "(" in f]  # drop a command line's pieces
        out[process].append((frames, int(count)))
    return out


def summarize(stacks: list[tuple[list[str], int]], top: int) -> tuple[Counter, Counter, Counter]:
    """(seconds per marker, per leaf function, and per deepest sf_assets frame of the unmarked samples)."""
    markers: Counter = Counter()
    leaves: Counter = Counter()
    unmarked: Counter = Counter()
    for frames, count in stacks:
        names = [f.split(" (")[0] for f in frames]
        label = next((m for m, fn in MARKERS.items() if fn in names), "other")
        markers[label] += count / RATE_HZ
        if frames:
            leaves[frames[-1]] += count / RATE_HZ
        if label == "other":
            ours = [f for f in frames if "sf_assets/" in f]
            unmarked[(ours[-1] if ours else frames[0] if frames else "?")] += count / RATE_HZ
    return markers, Counter(dict(leaves.most_common(top))), Counter(dict(unmarked.most_common(top)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    for process, stacks in sorted(parse(args.profile).items(), key=lambda kv: -sum(c for _, c in kv[1])):
        total = sum(c for _, c in stacks) / RATE_HZ
        if total < 1:
            continue
        markers, leaves, unmarked = summarize(stacks, args.top)
        print(f"\n== process {process}: {total:.1f} busy s")
        for label, seconds in markers.most_common():
            print(f"  {seconds:7.1f} s  {label}")
        for title, counter in (("top leaf functions", leaves), ("'other' by deepest sf_assets frame", unmarked)):
            print(f"  {title}:")
            for frame, seconds in counter.most_common():
                print(f"  {seconds:7.1f} s  {frame[:140]}")


if __name__ == "__main__":
    main()
