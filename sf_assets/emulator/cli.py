"""``serve`` sub-command: run an emulated org until Ctrl+C, SIGTERM or (Windows) Ctrl+Break."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .bulkcsv import DEFAULT_EMPTY_RESULT, EMPTY_RESULT_FORMS
from .faults import FaultPlan
from .live import LiveRates
from .objects import DEFAULT_ROWS, OBJECTS
from .org import EmulatorOrg, OrgSettings
from .schema import parse_schema_changes
from .service import PARAMETERS, PROFILES, service_profile


def parse_rows(spec: str) -> dict[str, int]:
    """``Account=2000,Contact=5000`` → counts (unlisted objects keep their defaults)."""
    rows = dict(DEFAULT_ROWS)
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValueError(f"rows {item!r}: expected Object=count")
        if name.strip().lower() not in OBJECTS:
            raise ValueError(f"rows {item!r}: unknown object {name.strip()!r}")
        rows[OBJECTS[name.strip().lower()].name] = int(value)
    return rows


def add_serve_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``serve`` on an argparse sub-parsers object."""
    p = subparsers.add_parser("serve", help="run a local emulated Salesforce org over HTTPS")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--rows", default="", help="rows per object, e.g. Account=2000,Opportunity=10000")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--faults", default="", help="fault spec, e.g. 503:0.05,reset:0.02")
    p.add_argument("--api-used-pct", type=float, default=0.0)
    p.add_argument("--api-max", type=int, default=100_000,
                   help="daily API requests; once used up, every request gets 403 REQUEST_LIMIT_EXCEEDED "
                        "(TotalRequests)")
    p.add_argument("--bulk-jobs-max", type=int, default=10_000, help="Bulk API 2.0 query jobs per 24 hours")
    p.add_argument("--live-changes", default="", metavar="SPEC",
                   help="records change while serving, e.g. inserts=5,updates=5,deletes=5[,every=job|request|manual]"
                        "[,objects=Account;Contact] (per object, on each tick: every Bulk job processed by default)")
    p.add_argument("--schema-changes", default="", metavar="SPEC",
                   help="fields changed in the org, e.g. drop:Opportunity.Description,add:Widget__c.Memo__c:string,"
                        "retype:Widget__c.Ratio__c:int (see docs/EMULATOR.md)")
    p.add_argument("--empty-result", choices=EMPTY_RESULT_FORMS, default=DEFAULT_EMPTY_RESULT,
                   help="what a Bulk query job without records answers for its results: no body, the CSV header "
                        "line, or Bulk 1.0's 'Records not found for this query' (see docs/EMULATOR.md)")
    p.add_argument("--service-profile", choices=sorted(PROFILES), default="local",
                   help="how far away the org answers: local (at CPU speed), wan (80 ms, 8 MB/s per connection, "
                        "jobs 100k rows/s, 2 s minimum) or slow (200 ms, 2 MB/s, 20k rows/s, 5 s): docs/EMULATOR.md")
    p.add_argument("--service", default="", metavar="NAME=VALUE,...",
                   help=f"override parameters of the service profile, e.g. rtt_ms=80,conn_bytes_per_s=500000 "
                        f"({', '.join(PARAMETERS)})")
    p.add_argument("--state-file", type=Path, default=Path("var/org/org.json"),
                   help="where to write URL, token and CA path, owner-only (default: the one "
                        "config/pipeline.yaml reads, from the repo root)")
    p.add_argument(
        "--state-dir", type=Path, default=None, help="where the CA and keys live (default: state file's folder)"
    )
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Start the org, write the state file, serve until interrupted."""
    try:
        settings = OrgSettings(rows=parse_rows(args.rows), seed=args.seed, faults=FaultPlan.parse(args.faults),
                               api_used_pct=args.api_used_pct, api_max=args.api_max, bulk_jobs_max=args.bulk_jobs_max,
                               port=args.port, live=LiveRates.parse(args.live_changes),
                               schema_changes=",".join(map(str, parse_schema_changes(args.schema_changes))),
                               empty_result=args.empty_result,
                               service=service_profile(args.service_profile, args.service),
                               state_dir=args.state_dir or args.state_file.parent)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    stop_signals = [s for s in (signal.SIGTERM, getattr(signal, "SIGBREAK", None)) if s is not None]
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in stop_signals}  # SIGBREAK: Ctrl+Break on Windows
    with EmulatorOrg(settings) as org:
        org.write_state_file(args.state_file)
        print(f"instance_url: {org.instance_url}\nca_path: {org.ca_path}\nservice: {org.service.describe()}\n"
              f"state_file: {args.state_file} (holds the access token; readable by you only)", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m sf_assets.emulator.cli serve ...``."""
    parser = argparse.ArgumentParser(prog="sf-emulator")
    add_serve_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
