"""``serve`` sub-command: run an emulated org until Ctrl+C, SIGTERM or (Windows) Ctrl+Break."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .faults import FaultPlan
from .objects import DEFAULT_ROWS, OBJECTS
from .org import EmulatorOrg, OrgSettings


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
    p.add_argument("--state-file", type=Path, default=Path("var/org/org.json"),
                   help="where to write URL, token and CA path, owner-only (default: the one "
                        "config/pipeline.yaml reads, from the repo root)")
    p.add_argument("--state-dir", type=Path, default=None, help="where the CA and keys live (default: state file's folder)")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Start the org, write the state file, serve until interrupted."""
    try:
        settings = OrgSettings(rows=parse_rows(args.rows), seed=args.seed, faults=FaultPlan.parse(args.faults),
                               api_used_pct=args.api_used_pct, port=args.port,
                               state_dir=args.state_dir or args.state_file.parent)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    stop_signals = [s for s in (signal.SIGTERM, getattr(signal, "SIGBREAK", None)) if s is not None]
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in stop_signals}  # SIGBREAK: Ctrl+Break on Windows
    with EmulatorOrg(settings) as org:
        org.write_state_file(args.state_file)
        print(f"instance_url: {org.instance_url}\nca_path: {org.ca_path}\n"
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
