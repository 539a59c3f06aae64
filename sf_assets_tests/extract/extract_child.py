"""Child process of the resume test: plan and extract objects against the org named by a state file.

Resumes the unfinished refresh of its state DB (or starts one) and prints JSON lines: the refresh,
then one per finished chunk. ``--page-delay`` slows the run down (a pause after each
recorded page) so that the parent can kill it mid-chunk; the product code itself is unchanged.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from sf_assets.config.models import EmulatorAuth, SalesforceConfig
from sf_assets.extract.refresh import current_or_new_refresh, finish_refresh
from sf_assets.pipeline.emulator import open_connection
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.extract.helpers import FAST_EXTRACTION, extract_all, field_plan, make_context


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="state DB and work dir")
    parser.add_argument("--objects", nargs="+", required=True)
    parser.add_argument("--chunk-size", type=int, required=True)
    parser.add_argument("--page-records", type=int, required=True)
    parser.add_argument("--page-delay", type=float, default=0.0)
    parser.add_argument("--api-version", default="62.0", help="below 58.0: pages by locator, one after another")
    args = parser.parse_args(argv)

    connection = open_connection(SalesforceConfig(api_version=args.api_version, auth=EmulatorAuth(
        kind="emulator", state_file=args.state_file, autostart=False)))
    extraction = FAST_EXTRACTION.model_copy(
        update={"max_records_per_page": args.page_records, "max_concurrent_jobs": 1}
    )
    refresh = current_or_new_refresh(open_state_db(args.dir / "state.db"), window_hours=1)
    print(json.dumps({"refresh": refresh.refresh_id, "resumed": refresh.resumed}), flush=True)
    ctx = make_context(connection, args.dir, refresh.refresh_id, extraction=extraction)
    if args.page_delay:
        record = ctx.tracker.page_done

        def slow_page_done(*a: object, **kw: object) -> None:
            record(*a, **kw)
            time.sleep(args.page_delay)

        ctx.tracker.page_done = slow_page_done  # type: ignore[method-assign]
    for name in args.objects:
        outcome = extract_all(ctx, field_plan(connection, name), args.chunk_size)
        for chunk_id, result in outcome.results.items():
            print(json.dumps({"object": name, "chunk": chunk_id, "rows": result.rows, "skipped": result.skipped}),
                  flush=True)
        if outcome.failures:
            print(json.dumps({"object": name, "failures": outcome.failures}), flush=True)
            finish_refresh(ctx.tracker.conn, refresh.refresh_id, "failed", outcome.failures)
            return 1
    finish_refresh(ctx.tracker.conn, refresh.refresh_id, "success")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
