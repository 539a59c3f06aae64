"""`sf-assets` command line: run the refresh, serve the local org emulator, check configuration, print Power BI M."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sf_assets.config import ConfigError, default_config_path, load_config
from sf_assets.observability.redaction import redact
from sf_assets.storage.refresh_lock import RefreshLocked

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"pipeline YAML (default: $SF_ASSETS_CONFIG or {default_config_path()})",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from sf_assets.cli.run import run_refresh

    return run_refresh(args.config or default_config_path(), new_refresh=args.new_refresh,
                       refresh_catalog=args.refresh_catalog, log_level=args.log_level)


def _cmd_status(args: argparse.Namespace) -> int:
    from sf_assets.cli.run import show_status

    return show_status(args.config or default_config_path())


def _cmd_config_check(args: argparse.Namespace) -> int:
    from sf_assets.pipeline.check_offline import check_offline

    config = load_config(args.config or default_config_path())
    summary = f"{len(config.objects)} objects, {len(config.datasets)} datasets, auth {config.salesforce.auth.kind}"
    report = check_offline(config, plans=not args.online)
    if args.online and report.ok:
        from sf_assets.pipeline.check_online import check_online

        check_online(config, report)
    for line in report.checked:
        print(f"  checked:     {line}")
    for line in report.not_checked:
        print(f"  not checked: {line}")
    for line in report.warnings:
        print(f"  warning:     {line}")
    for error in report.errors:
        print(f"sf-assets: configuration error: {error}", file=sys.stderr)
    print(f"{config.source_file}: {'OK' if report.ok else f'{len(report.errors)} error(s)'} ({summary})")
    return EXIT_OK if report.ok else EXIT_USAGE


def _cmd_powerbi(args: argparse.Namespace) -> int:
    from sf_assets.cli.powerbi import print_queries

    return print_queries(args.config or default_config_path(), args.dataset, args.share)


def _cmd_config_doc(args: argparse.Namespace) -> int:
    from sf_assets.config.reference import render_reference

    text = render_reference()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every sub-command."""
    from sf_assets.emulator.cli import add_serve_parser

    parser = argparse.ArgumentParser(
        prog="sf-assets", description="Salesforce -> SQLite -> Dask-SQL -> Power BI Parquet."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run a full refresh (resumes an unfinished one) in the local Dagster instance"
    )
    _add_config_arg(run)
    run.add_argument("--new-refresh", action="store_true", help="start a new refresh even if one can be resumed")
    run.add_argument("--refresh-catalog", action="store_true", help="re-describe every object (ignore the catalog TTL)")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default=None,
                     help="log file verbosity (default: logging.level of the config)")
    run.set_defaults(func=_cmd_run)

    status = commands.add_parser("status", help="show the current/last refresh and its chunks by status")
    _add_config_arg(status)
    status.set_defaults(func=_cmd_status)

    powerbi = commands.add_parser("powerbi", help="print the Power Query M of a dataset (all when none is named)")
    _add_config_arg(powerbi)
    powerbi.add_argument("dataset", nargs="?", default=None, help="a dataset of the configuration")
    powerbi.add_argument("--share", action="store_true",
                         help="the share's query (the newest published copy with its READY marker)")
    powerbi.set_defaults(func=_cmd_powerbi)

    org = commands.add_parser("org", help="the built-in local Salesforce org emulator")
    add_serve_parser(org.add_subparsers(dest="org_command", required=True, metavar="ORG_COMMAND"))

    config = commands.add_parser("config", help="check the configuration or print its reference")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="CONFIG_COMMAND")
    check = config_commands.add_parser(
        "check", help="validate a pipeline YAML (offline; --online also asks Salesforce)"
    )
    _add_config_arg(check)
    check.add_argument("--online", action="store_true",
                       help="also log in, describe the objects, validate every SOQL and read /limits (no Bulk job)")
    check.set_defaults(func=_cmd_config_check)
    doc = config_commands.add_parser("doc", help="print the configuration reference (Markdown)")
    doc.add_argument("--output", type=Path, default=None)
    doc.set_defaults(func=_cmd_config_doc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sf-assets` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(redact(f"sf-assets: configuration error: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except RefreshLocked as exc:
        print(redact(f"sf-assets: {exc}"), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("sf-assets: interrupted; open Bulk jobs were aborted and `sf-assets run` resumes", file=sys.stderr)
        return 130
