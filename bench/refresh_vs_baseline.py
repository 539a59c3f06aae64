"""`sf-assets run` against the straight-line script (issue 12), on the same emulated org, alternating.

    python bench/refresh_vs_baseline.py [--profile small|large|1m|10m] [--rounds 2] [--engine dask_sql|sqlite]
                                        [--service-profile local|wan|slow] [--service rtt_ms=80,...]
                                        [--set section.key=value ...] [--tag NAME] [--keep DIR]
                                        [--out bench/results] [--py-spy] [--no-baseline]

Starts our emulator in THIS process (so its RSS is measured apart: the `emulator` figure is this
process), writes a pipeline config (Account + Opportunity, the LEFT JOIN dataset, defaults
otherwise, no share), then per round runs `bench/baseline_script.py` and `sf-assets run
--new-refresh` as child processes (alternating which goes first), sampling the RSS of each child's
process tree (main, Dask workers) with psutil. Prints per-stage wall seconds, rows/s, peak RSS per
process, API calls per million rows (the emulator's request counter) and the median ratio; writes
`<out>/refresh_vs_baseline_<profile>_<engine>[_<service profile>][_<tag>].json` and `.png` (stage bars, RSS
over time). --service-profile makes the org far away for both (docs/EMULATOR.md "A far-away org"); cap
`--service conn_bytes_per_s=...` low enough that the emulator's CPU (~10 MB/s of CSV on 2 cores) is not measured.
--no-baseline runs only the refresh (memory at sizes where the script would not fit; no ratio).
After each refresh every Parquet file in the output folder is checked against `output.parquet_profile`
(`storage/parquet_profile.py`): the files outside it are printed and kept in the JSON, and the bench exits 1.
With --py-spy the refresh runs under `py-spy record` (collapsed stacks beside the result, summarized by
bench/pyspy_summary.py; the RSS figures of such a run describe py-spy, not the refresh).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from process_tree_rss import TreeSampler, own_peak_mb

from sf_assets.emulator.service import PROFILES as SERVICE_PROFILES
from sf_assets.emulator.service import service_profile

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ROWS_LINE = re.compile(r"^\s+\w+\s+([\d,]+) rows")  # `sf-assets run`'s summary: "  Account   196,000 rows (...)"
PROFILES = {
    "small": {"Account": 5_000, "Opportunity": 50_000},
    "large": {"Account": 200_000, "Opportunity": 2_000_000},
    "1m": {"Account": 200_000, "Opportunity": 1_000_000},
    "10m": {"Account": 200_000, "Opportunity": 10_000_000},
    "50m": {"Account": 200_000, "Opportunity": 50_000_000},  # ~37 GB of peak disk: preflight says if it fits
}


def _apply(config: dict, assignments: list[str]) -> None:
    """`section.key=value` overrides (value parsed as YAML), e.g. extraction.max_concurrent_jobs=2."""
    for item in assignments:
        dotted, _, value = item.partition("=")
        *parents, key = dotted.split(".")
        node = config
        for name in parents:
            node = node.setdefault(name, {})
        node[key] = yaml.safe_load(value)


def write_config(folder: Path, state_file: Path, engine: str, overrides: list[str]) -> Path:
    """A pipeline config for the bench org: the demo's Account/Opportunity SOQL, one LEFT JOIN dataset."""
    demo = yaml.safe_load((HERE.parent / "config" / "pipeline.yaml").read_text())
    objects = [o for o in demo["objects"] if o["name"] in ("Account", "Opportunity")]
    config = {
        "salesforce": {"auth": {"kind": "emulator", "state_file": str(state_file), "autostart": False}},
        "objects": objects,
        "preflight": {"min_free_disk_gb": 1},  # a shared developer machine
        "paths": {"work_dir": "work", "output_dir": "output", "log_dir": "logs", "state_db": "state/state.db",
                  "staging_db": "state/staging.db"},
        "transform": {"engine": engine},
        "datasets": [d for d in demo["datasets"] if d["name"] == "opportunity_account"],
        "logging": {"level": "INFO", "format": "json"},
    }
    _apply(config, overrides)
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _run_sampled(
    command: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, float, float, TreeSampler]:
    launched_at = time.time()
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with TreeSampler(proc.pid) as sampler:
        out, err = proc.communicate()
        sampler.sample_once()
    seconds = time.perf_counter() - started
    done = subprocess.CompletedProcess(command, proc.returncode, out, err)
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({done.returncode}):\n{out[-3000:]}\n{err[-3000:]}")
    return done, seconds, launched_at, sampler


def run_baseline(org, state_file: Path, folder: Path) -> dict:
    """The straight-line script in a child process."""
    out = folder / "baseline"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    requests_before = org.counters()["requests"]
    done, seconds, _, sampler = _run_sampled(
        [sys.executable, str(HERE / "baseline_script.py"), str(state_file), str(out)], dict(os.environ)
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"kind": "baseline", "wall_s": round(seconds, 2), **result,
            "api_requests": org.counters()["requests"] - requests_before, "peak_rss_mb": sampler.peak_by_label(),
            "processes": sampler.processes(), "rss_series": sampler.samples}


def run_refresh(org, config: Path, folder: Path, py_spy: Path | None) -> dict:
    """`sf-assets run --new-refresh` in a child process, on a Dagster instance configured as shipped (the copied
    `dagster_home/dagster.yaml`: the instance class that lets the objects' runs share the process, as users run it);
    stages from its Dagster records and log."""
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE.parent / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    command = [str(BIN / "sf-assets"), "run", "--config", str(config), "--new-refresh"]
    if py_spy is not None:
        command = [str(BIN / "py-spy"), "record", "--subprocesses", "--format", "raw", "--rate", "50",
                   "-o", str(py_spy), "--", *command]
    counters_before = org.counters()
    done, seconds, launched_at, sampler = _run_sampled(command, env)
    ended_at = launched_at + seconds
    calls = api_breakdown(counters_before, org.counters())
    requests = calls["requests"]
    refresh_id = next(line.split()[1].rstrip(":") for line in done.stdout.splitlines() if line.startswith("Refresh "))
    stages = json.loads(subprocess.run(
        [sys.executable, str(HERE / "refresh_stages.py"), str(folder / "dagster_home"), refresh_id,
         str(folder / "logs"), str(launched_at)], capture_output=True, text=True, check=True, env=env,
    ).stdout)
    stages["stages"]["shutdown"] = round(ended_at - stages.pop("last_run_end"), 2)
    stages["main_peak_rss_mb_by_stage"] = {
        name: max((mb for t, _, label, mb in sampler.samples if label == "main" and start <= t <= end), default=None)
        for name, (start, end) in stages["windows"].items()}
    rows = sum(int(m.group(1).replace(",", "")) for m in map(ROWS_LINE.match, done.stdout.splitlines()) if m)
    return {"kind": "sf_assets", "wall_s": round(seconds, 2), "refresh_id": refresh_id, "rows": rows, **stages,
            "profile_violations": profile_check(config, folder / "output"),
            "api_requests": requests, "api_breakdown": calls, "peak_rss_mb": sampler.peak_by_label(),
            "processes": sampler.processes(), "rss_series": sampler.samples}


def profile_check(config: Path, output: Path) -> dict[str, list[str]]:
    """Every Parquet file the refresh left in ``output`` checked against the configured profile: {file: violations}."""
    from sf_assets.storage.parquet_profile import profile_violations

    profile = (yaml.safe_load(config.read_text(encoding="utf-8")).get("output") or {}).get("parquet_profile", "gateway")
    files = sorted(output.rglob("*.parquet"))
    print(f"         Parquet profile {profile}: {len(files)} files checked", flush=True)
    return {str(f.relative_to(output)): found for f in files if (found := profile_violations(f, profile))}


def api_breakdown(before: dict, after: dict) -> dict:
    """What the emulator served between two counter snapshots: requests, pages, polls, logins, jobs, describes…"""
    out: dict = {}
    for key, value in after.items():
        if isinstance(value, dict):
            diff = {k: v - before.get(key, {}).get(k, 0) for k, v in value.items() if v - before.get(key, {}).get(k, 0)}
            if diff:
                out[key] = diff
        elif value - before.get(key, 0):
            out[key] = value - before.get(key, 0)
    out.setdefault("requests", 0)
    return out


def summarize(rounds: list[dict]) -> dict:
    """Median figures and the ratio (per round: refresh wall / baseline wall of the same round)."""
    rows = rounds[0]["sf_assets"]["rows"]  # what the org serves (the generator deletes some rows)
    if "baseline" not in rounds[0]:
        wall = statistics.median(r["sf_assets"]["wall_s"] for r in rounds)
        return {"rows": rows, "median_wall_s": {"sf_assets": wall}, "rows_per_s": {"sf_assets": round(rows / wall)},
                "api_calls_per_million_rows": {"sf_assets": round(
                    statistics.median(r["sf_assets"]["api_requests"] for r in rounds) / rows * 1e6, 1)}}
    ratios = [r["sf_assets"]["wall_s"] / r["baseline"]["wall_s"] for r in rounds]
    median = {kind: statistics.median(r[kind]["wall_s"] for r in rounds) for kind in ("baseline", "sf_assets")}
    extract = statistics.median(r["sf_assets"]["stages"]["extract"] for r in rounds)
    base_extract = statistics.median(r["baseline"]["extract_s"] for r in rounds)
    return {
        "ratios": [round(x, 2) for x in ratios], "median_ratio": round(statistics.median(ratios), 2),
        "median_wall_s": median, "rows": rows,
        "rows_per_s": {k: round(rows / v) for k, v in median.items()},
        "extract_ratio": round(extract / base_extract, 2),
        "extract_rows_per_s": round(rows / extract),
        "api_calls_per_million_rows": {k: round(statistics.median(r[k]["api_requests"] for r in rounds) / rows * 1e6, 1)
                                       for k in ("baseline", "sf_assets")},
    }


def print_round(i: int, r: dict) -> None:
    b, s = r.get("baseline"), r["sf_assets"]
    if b:
        print(f"round {i}: baseline {b['wall_s']:.1f} s (start-up {b['start_up_s']}, extract {b['extract_s']}, "
              f"join {b['join_s']}; {b['api_requests']} requests; peak RSS {b['peak_rss_mb']})")
    ratio = f" = {s['wall_s'] / b['wall_s']:.2f}x" if b else ""
    print(f"round {i}: sf-assets run {s['wall_s']:.1f} s{ratio}; {s['rows']:,} rows; "
          f"{s['api_requests']} requests; peak RSS {s['peak_rss_mb']}")
    print(f"         API calls: {s['api_breakdown']}")
    print(f"         files outside the Parquet profile: {s['profile_violations'] or 'none'}")
    print("         stages: " + ", ".join(f"{k} {v:.1f}" for k, v in s["stages"].items()))
    print(
        "         main RSS peak by stage (MB): "
        + ", ".join(f"{k} {v}" for k, v in s["main_peak_rss_mb_by_stage"].items()),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="small")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engine", choices=("dask_sql", "sqlite"), default="dask_sql")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config key of the refresh, e.g. extraction.max_concurrent_jobs=2")
    parser.add_argument("--tag", default="", help="suffix of the result files, e.g. concurrent2")
    parser.add_argument("--no-baseline", action="store_true",
                        help="only `sf-assets run` (memory at sizes where the script would not fit): no ratios")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    parser.add_argument("--py-spy", action="store_true", help="profile the refresh with py-spy (slower)")
    parser.add_argument("--service-profile", choices=sorted(SERVICE_PROFILES), default="local",
                        help="how far away the emulated org answers (both the refresh and the script)")
    parser.add_argument("--service", default="", metavar="NAME=VALUE,...",
                        help="override the service profile's parameters, e.g. conn_bytes_per_s=500000")
    args = parser.parse_args()
    from sf_assets.emulator import EmulatorOrg, OrgSettings

    try:
        service = service_profile(args.service_profile, args.service)
    except ValueError as exc:
        parser.error(str(exc))

    counts = {"Contact": 10, "Widget__c": 10, **PROFILES[args.profile]}
    args.out.mkdir(parents=True, exist_ok=True)
    far = "" if service.is_local else f"_{args.service_profile}"
    stem = args.out / f"refresh_vs_baseline_{args.profile}_{args.engine}{far}{'_' + args.tag if args.tag else ''}"
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="sf_bench_") as tmp,
        EmulatorOrg(OrgSettings(rows=counts, state_dir=Path(tmp) / "org", service=service)) as org,
    ):
        folder = Path(tmp)
        state_file = org.write_state_file(folder / "org.json")
        config = write_config(folder, state_file, args.engine, args.set)
        rounds = []
        for i in range(1, args.rounds + 1):
            spy = stem.with_name(f"{stem.name}_round{i}.pyspy.txt") if args.py_spy else None
            order = ["baseline", "sf_assets"] if i % 2 else ["sf_assets", "baseline"]
            order = [k for k in order if k != "baseline" or not args.no_baseline]
            result = {}
            for kind in order:
                result[kind] = run_baseline(org, state_file, folder) if kind == "baseline" else \
                    run_refresh(org, config, folder, spy)
            result["order"] = order
            rounds.append(result)
            print_round(i, result)
        emulator_peak = own_peak_mb()
    summary = {"profile": args.profile, "engine": args.engine, "counts": PROFILES[args.profile], "overrides": args.set,
               "command": " ".join(sys.argv), "service": service.describe(),
               "emulator_peak_rss_mb": round(emulator_peak, 1), "load_average_at_end": os.getloadavg(),
               **summarize(rounds), "rounds": rounds}
    stem.with_name(stem.name + ".json").write_text(json.dumps(summary, indent=1))
    from refresh_chart import draw

    draw(summary, stem.with_name(stem.name + ".png"))
    if "median_ratio" in summary:
        print(f"median ratio {summary['median_ratio']} (rounds {summary['ratios']}); extraction "
              f"{summary['extract_ratio']}x the script's download+parse ({summary['extract_rows_per_s']} rows/s)")
    print(f"rows/s {summary['rows_per_s']}; API calls per million rows {summary['api_calls_per_million_rows']}; "
          f"emulator peak RSS {emulator_peak:.0f} MB")
    print(f"wrote {stem.with_name(stem.name + '.json')} and {stem.with_name(stem.name + '.png')}")
    if any(r["sf_assets"]["profile_violations"] for r in rounds if "sf_assets" in r):
        sys.exit("Parquet files outside the profile (listed above and in the JSON): the bench fails")


if __name__ == "__main__":
    main()
