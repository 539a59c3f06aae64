"""A refresh from the UI against one from the terminal (issue 20 point 5), same org, same machine, alternating.

    python bench/ui_vs_cli.py [--rounds 2] [--rows Account=2000,...] [--keep DIR] [--out bench/results]

Starts `sf-assets org serve` (the demo's rows and seed) and one real `dagster dev` (webserver + daemon on
127.0.0.1, a free port, its own DAGSTER_HOME with a copy of the shipped dagster_home/dagster.yaml, nothing
sped up) on a temp copy of config/pipeline.yaml whose paths and state live in the temp folder. Per round, in
alternating order:

- terminal: `sf-assets run --new-refresh` (same config, same DAGSTER_HOME), timed from start to exit;
- UI: "Materialize all" as the lineage page launches it (GraphQL `launchPartitionBackfill`, every materializable
  asset, all partitions) with the run tag sf_assets/new_refresh=true; timed from the click to the backfill's end,
  to the Power BI output promoted (every dataset's current.json names the refresh) and to the publish (the health
  JSON lists the share copies, written by the publish sensor's run).

Prints median and min/max per side, the ratio UI/terminal (to the promoted output), and where the UI's time goes:
each run of the backfill and the publish run from the instance's run records (queued, start, end) and the gaps
between them (backfill daemon ticks, run queue, run worker start-up). Writes `<out>/ui_vs_cli.json`.
Every process it starts is stopped at the end, also on Ctrl+C or an error.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml
from refresh_stages import busy_seconds

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
DEMO_ROWS = "Account=2000,Contact=5000,Opportunity=10000,Widget__c=1000"  # config/pipeline.yaml's org
NEW_REFRESH_TAG = "sf_assets/new_refresh"
REFRESH_TAG = "sf_assets/refresh_id"
STAGE_TAG = "sf_assets/stage"
T = TypeVar("T")

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { id status } }
}"""
ASSET_NODES = "query { assetNodes { assetKey { path } isMaterializable } }"
LOCATION = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 0.2) -> T:
    """Poll `probe` until it returns a truthy value; SystemExit naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def process_group(command: list[str], log_file: Path, env: dict[str, str], cwd: Path | None = None) -> Iterator[
        subprocess.Popen]:
    """A child in its own process group (Ctrl+C does not reach it half-way); the whole group stopped on exit."""
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # dagster dev stops its webserver, daemon and run workers
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group is left (run workers, Dask workers)
            proc.wait()


def write_config(folder: Path, state_file: Path) -> Path:
    """config/pipeline.yaml with the served org, and paths and state in `folder` (the repo's var/ untouched)."""
    config = yaml.safe_load((REPO / "config" / "pipeline.yaml").read_text(encoding="utf-8"))
    config["salesforce"]["auth"] = {"kind": "emulator", "state_file": str(state_file), "autostart": False}
    config["paths"] = {"work_dir": str(folder / "work"), "output_dir": str(folder / "output"),
                       "log_dir": str(folder / "logs"), "state_db": str(folder / "state" / "state.db"),
                       "staging_db": str(folder / "state" / "staging.db"), "share_dir": str(folder / "share"),
                       "create_share_dir": True}
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


class DagsterDev:
    """GraphQL client of the running `dagster dev`: what the UI sends."""

    def __init__(self, url: str) -> None:
        self.url = url

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise SystemExit(f"GraphQL error: {body['errors']}")
        return body["data"]

    def loaded(self) -> bool:
        try:
            entries = self.gql(LOCATION)["workspaceOrError"].get("locationEntries") or []
        except requests.RequestException:
            return False
        for entry in entries:
            error = entry["locationOrLoadError"]
            if error and error["__typename"] == "PythonError":
                raise SystemExit(f"the code location failed to load: {error['message']}")
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    def materialize_all(self, tags: dict[str, str]) -> str:
        """The lineage page's "Materialize all" for assets of several partitions definitions."""
        paths = [n["assetKey"]["path"] for n in self.gql(ASSET_NODES)["assetNodes"] if n["isMaterializable"]]
        params = {"assetSelection": [{"path": p} for p in paths], "allPartitions": True,
                  "tags": [{"key": k, "value": v} for k, v in tags.items()], "runConfigData": "{}"}
        result = self.gql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise SystemExit(f"launchPartitionBackfill: {result}")
        return result["backfillId"]

    def backfill_status(self, backfill_id: str) -> str | None:
        status = self.gql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
        return None if status == "REQUESTED" else status


def promoted(output_dir: Path, refresh_id: str) -> bool:
    """Every dataset's current.json names `refresh_id`."""
    currents = list(output_dir.glob("*/current.json"))
    return bool(currents) and all(json.loads(p.read_text(encoding="utf-8")).get("refresh_id") == refresh_id
                                  for p in currents)


def health(output_dir: Path, refresh_id: str) -> dict:
    path = output_dir / f"health_check_{refresh_id}.json"
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        return json.loads(path.read_text(encoding="utf-8"))
    return {}


def run_terminal(config: Path, env: dict[str, str], folder: Path) -> dict:
    """`sf-assets run --new-refresh`, start to exit."""
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "sf-assets"), "run", "--config", str(config), "--new-refresh"],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"sf-assets run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    refresh_id = next(line.split()[1].rstrip(":") for line in done.stdout.splitlines() if line.startswith("Refresh "))
    report = health(folder / "output", refresh_id)
    return {"wall_s": round(seconds, 2), "refresh_id": refresh_id, "status": report.get("status"),
            "published": sum(1 for p in report.get("published") or [] if p.get("ok"))}


def run_ui(ui: DagsterDev, instance_home: Path, folder: Path) -> dict:
    """"Materialize all" with sf_assets/new_refresh=true: click → backfill end, output promoted, published."""
    output_dir = folder / "output"
    clicked_at = time.time()
    started = time.perf_counter()
    backfill_id = ui.materialize_all({NEW_REFRESH_TAG: "true"})
    seen: dict[str, float] = {}  # first time each was seen, seconds after the click
    refresh_id, status, last_status_check = None, None, 0.0
    while not ("backfill" in seen and "output" in seen
               and ("publish" in seen or now(started) > seen["backfill"] + 180)):
        if now(started) > 1800:
            raise SystemExit(f"backfill {backfill_id}: not done after 30 min ({sorted(seen)} seen)")
        refresh_id = refresh_id or refresh_of_backfill(folder / "state" / "state.db", backfill_id)
        if refresh_id and "output" not in seen and promoted(output_dir, refresh_id):
            seen["output"] = now(started)
        if refresh_id and "publish" not in seen and health(output_dir, refresh_id).get("published"):
            seen["publish"] = now(started)
        if "backfill" not in seen and now(started) - last_status_check >= 1:
            last_status_check = now(started)
            status = ui.backfill_status(backfill_id)
            if status:
                seen["backfill"] = now(started)
                if status != "COMPLETED_SUCCESS":
                    raise SystemExit(f"backfill {backfill_id} ended {status}")
        time.sleep(0.2)
    runs = run_records(instance_home, {"dagster/backfill": backfill_id})
    publish_runs = [r for r in run_records(instance_home, {REFRESH_TAG: refresh_id})
                    if r["tags"].get(STAGE_TAG) == "publish"]
    report = health(output_dir, refresh_id)
    return {"backfill_s": round(seen["backfill"], 2), "output_s": round(seen["output"], 2),
            "publish_s": round(seen["publish"], 2) if "publish" in seen else None,
            "refresh_id": refresh_id, "backfill_id": backfill_id, "status": report.get("status"),
            "published": sum(1 for p in report.get("published") or [] if p.get("ok")),
            "timeline": timeline(clicked_at, runs + publish_runs),
            "backfill_busy_s": round(busy_seconds([((r["start"] or r["created"]) - clicked_at,
                                                    (r["end"] or r["created"]) - clicked_at) for r in runs]), 1)}


def now(started: float) -> float:
    return time.perf_counter() - started


def refresh_of_backfill(state_db: Path, backfill_id: str) -> str | None:
    """The refresh preflight chose for the backfill (sf_assets' state DB), None before its prepare run."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT refresh_id FROM backfill_refreshes WHERE backfill_id = ?",
                               (backfill_id,)).fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def run_records(instance_home: Path, tags: dict[str, str]) -> list[dict]:
    """Runs with these tags from the instance (read in a child process: it holds no lock between rounds)."""
    code = ("import json, sys, dagster as dg\n"
            "inst = dg.DagsterInstance.from_config(sys.argv[1])\n"
            "out = [{'run_id': r.dagster_run.run_id, 'tags': dict(r.dagster_run.tags),"
            " 'assets': sorted('/'.join(k.path) for k in r.dagster_run.asset_selection or ()),"
            " 'status': r.dagster_run.status.value, 'created': r.create_timestamp.timestamp(),"
            " 'start': r.start_time, 'end': r.end_time}"
            " for r in inst.get_run_records(dg.RunsFilter(tags=json.loads(sys.argv[2])))]\n"
            "print(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code, str(instance_home), json.dumps(tags)], capture_output=True,
                          text=True, check=True, env={**os.environ, "DAGSTER_HOME": str(instance_home)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def timeline(clicked_at: float, runs: list[dict]) -> list[dict]:
    """Each run relative to the click: queued (created), start, end, and the gap since the previous run ended."""
    rows, previous_end = [], 0.0
    for run in sorted(runs, key=lambda r: r["created"]):
        created = run["created"] - clicked_at
        start = (run["start"] or run["created"]) - clicked_at
        end = (run["end"] or run["created"]) - clicked_at
        tags = run["tags"]
        first, last = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
        partition = f"{first}..{last}" if first and first != last else first or ""
        what = tags.get(STAGE_TAG) or ",".join(run["assets"])
        rows.append({"run": run["run_id"][:8], "what": what, "partition": partition,
                     "status": run["status"], "created_s": round(created, 1), "queued_s": round(start - created, 1),
                     "start_s": round(start, 1), "run_s": round(end - start, 1), "end_s": round(end, 1),
                     "gap_since_previous_end_s": round(created - previous_end, 1)})
        previous_end = max(previous_end, end)
    return rows


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rows", default=DEMO_ROWS, help=f"rows per object of the served org (default {DEMO_ROWS})")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill also runs the clean-up below
    args.out.mkdir(parents=True, exist_ok=True)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="sf_ui_vs_cli_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        result = bench(folder, args)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    (args.out / "ui_vs_cli.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.out / 'ui_vs_cli.json'}")


def bench(folder: Path, args: argparse.Namespace) -> dict:
    state_file = folder / "org" / "org.json"
    config = write_config(folder, state_file)
    home = folder / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "SF_ASSETS_CONFIG": str(config), "PYTHONUTF8": "1"}
    port = free_port()
    org_cmd = [str(BIN / "sf-assets"), "org", "serve", "--port", "0", "--rows", args.rows, "--seed", str(args.seed),
               "--state-file", str(state_file), "--state-dir", str(folder / "org")]
    dev_cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1",
               "-p", str(port)]
    with process_group(org_cmd, folder / "org.log", env) as org, \
            process_group(dev_cmd, folder / "dagster_dev.log", env, cwd=home) as dev:
        wait_for("the org's state file", lambda: org.poll() is None and state_file.exists() or org.poll() is not None,
                 timeout=120)
        if org.poll() is not None:
            raise SystemExit(f"sf-assets org serve exited: {(folder / 'org.log').read_text()[-2000:]}")
        ui = DagsterDev(f"http://127.0.0.1:{port}")
        up_at = time.perf_counter()
        wait_for("dagster dev's code location", lambda: dev.poll() is None and ui.loaded() or dev.poll() is not None,
                 timeout=300, every=1.0)
        if dev.poll() is not None:
            raise SystemExit(f"dagster dev exited: {(folder / 'dagster_dev.log').read_text()[-3000:]}")
        print(f"dagster dev up on {ui.url} after {time.perf_counter() - up_at:.1f} s; org rows {args.rows}",
              flush=True)
        rounds = []
        for i in range(args.rounds):
            order = ("terminal", "ui") if i % 2 == 0 else ("ui", "terminal")
            this: dict = {}
            for side in order:
                this[side] = run_terminal(config, env, folder) if side == "terminal" else run_ui(ui, home, folder)
                print_side(i + 1, side, this[side])
            rounds.append(this)
    return summarize(rounds, args.rows)


def print_side(i: int, side: str, r: dict) -> None:
    if side == "terminal":
        print(f"round {i}: terminal {r['wall_s']:.1f} s ({r['refresh_id']}, {r['status']}, "
              f"{r['published']} files published)", flush=True)
        return
    print(f"round {i}: UI click → backfill done {r['backfill_s']:.1f} s, → output promoted {r['output_s']:.1f} s, "
          f"→ published {r['publish_s']} s ({r['refresh_id']}, {r['status']}, {r['published']} files published)")
    print(f"         {'run':8} {'assets / stage':40} {'partition':10} {'created':>8} {'queued':>7} {'start':>7} "
          f"{'run':>6} {'end':>7} {'gap':>6}   (seconds after the click; gap = created - previous end)")
    for t in r["timeline"]:
        print(f"         {t['run']:8} {t['what'][:40]:40} {t['partition'][:10]:10} {t['created_s']:8.1f} "
              f"{t['queued_s']:7.1f} {t['start_s']:7.1f} {t['run_s']:6.1f} {t['end_s']:7.1f} "
              f"{t['gap_since_previous_end_s']:6.1f}")
    runs = [t for t in r["timeline"] if t["what"] != "publish"]
    busy = busy_seconds([(t["start_s"], t["end_s"]) for t in runs])
    print(f"         backfill: {len(runs)} runs; some run executing {busy:.1f} s of its {r['backfill_s']:.1f} s, "
          f"none {r['backfill_s'] - busy:.1f} s (daemon ticks, run queue, run worker start-up)", flush=True)


def summarize(rounds: list[dict], rows: str) -> dict:
    terminal = [r["terminal"]["wall_s"] for r in rounds]
    ui_output = [r["ui"]["output_s"] for r in rounds]
    ui_publish = [r["ui"]["publish_s"] for r in rounds if r["ui"]["publish_s"] is not None]
    ratios = [r["ui"]["output_s"] / r["terminal"]["wall_s"] for r in rounds]
    print(f"terminal (sf-assets run --new-refresh, incl. publish): {spread(terminal)}")
    print(f"UI click → output promoted: {spread(ui_output)}")
    if ui_publish:
        print(f"UI click → published:       {spread(ui_publish)}")
    print(f"ratio UI/terminal (to the output): median {statistics.median(ratios):.2f}x "
          f"({', '.join(f'{x:.2f}' for x in ratios)})")
    return {"rows": rows, "rounds": rounds, "ratios": [round(x, 2) for x in ratios],
            "median_ratio": round(statistics.median(ratios), 2), "median_terminal_s": statistics.median(terminal),
            "median_ui_output_s": statistics.median(ui_output),
            "median_ui_publish_s": statistics.median(ui_publish) if ui_publish else None}


if __name__ == "__main__":
    main()
