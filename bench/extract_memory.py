"""Peak memory of chunk extraction does not grow with the rows extracted.

    python bench/extract_memory.py [--rows 200000 2000000] [--chunk-size 100000] [--page-records 100000]

For each row count: starts a local org (in this process) with that many Opportunity rows, then runs
the SAME extraction command in a child process (plan chunks, extract every chunk with
max_concurrent_jobs=2 into typed Parquet) and reports the child's rows/s and peak RSS (VmHWM on
Linux, peak working set on Windows), plus its peak before extracting (imports, login, describe). The emulator's CPU
is shared with the child on this machine, so rows/s is end to end, emulator included.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOQL = ("SELECT Id, AccountId, Account.Name, Name, StageName, Amount, Probability, CloseDate, Type, LeadSource, "
        "IsClosed, IsWon, ForecastCategory, ExpectedRevenue, Description, CreatedDate, LastModifiedDate "
        "FROM Opportunity")


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux: VmHWM, since ru_maxrss after fork+exec starts at the PARENT's RSS."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    if sys.platform == "win32":
        import psutil

        return psutil.Process().memory_info().peak_wset / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # bytes on macOS


def child(state_file: Path, folder: Path, chunk_size: int, page_records: int) -> None:
    """Plan and extract Opportunity; print one JSON line of figures."""
    from sf_assets.config.models import ApiUsageConfig, EmulatorAuth, ExtractionConfig, RetryConfig, SalesforceConfig
    from sf_assets.extract.chunk_extract import ExtractContext
    from sf_assets.extract.chunk_planner import plan_chunks
    from sf_assets.extract.object_extract import extract_object
    from sf_assets.extract.tracker import ChunkTracker
    from sf_assets.pipeline.emulator import open_connection
    from sf_assets.salesforce.bulk2 import BulkClient
    from sf_assets.salesforce.field_planning import build_field_plan
    from sf_assets.salesforce.governor import ApiGovernor
    from sf_assets.salesforce.metadata import ObjectMeta
    from sf_assets.salesforce.soql import parse_soql
    from sf_assets.storage.state_db import open_state_db

    connection = open_connection(SalesforceConfig(auth=EmulatorAuth(kind="emulator", state_file=state_file,
                                                                         autostart=False)))
    sf = connection.client()
    catalog = {name: ObjectMeta.from_describe(getattr(sf, name).describe()) for name in ("Opportunity", "Account")}
    plan = build_field_plan(parse_soql(SOQL), catalog, critical_fields=[])
    extraction = ExtractionConfig(chunk_size=chunk_size, max_records_per_page=page_records, max_concurrent_jobs=2,
                                  poll_initial_s=0.05, poll_max_s=0.5)
    client = BulkClient(connection, ApiGovernor(ApiUsageConfig(), 2), RetryConfig(), extraction)
    ctx = ExtractContext(client, ChunkTracker(open_state_db(folder / "state.db")), "bench", folder / "work")
    import pandas  # noqa: F401 - pyarrow.parquet's writer imports it: part of the baseline, not of the rows
    before = _peak_rss_mb()
    started = time.perf_counter()
    chunks = plan_chunks(client, ctx.tracker, plan, "bench", chunk_size=chunk_size)
    planned = _peak_rss_mb()
    outcome = extract_object(ctx, plan)
    seconds = time.perf_counter() - started
    assert not outcome.failures, outcome.failures
    print(json.dumps({"rows": outcome.rows, "chunks": len(chunks.ranges), "seconds": round(seconds, 2),
                      "rss_before_mb": round(before, 1), "peak_after_plan_mb": round(planned, 1),
                      "peak_rss_mb": round(_peak_rss_mb(), 1),
                      "parquet_mb": round(sum(r.bytes for r in outcome.results.values()) / 2**20, 1)}))


def measure(rows: int, chunk_size: int, page_records: int) -> dict:
    """Start an org with `rows` Opportunity rows and run the child against it."""
    from sf_assets.emulator import EmulatorOrg, OrgSettings

    with tempfile.TemporaryDirectory() as tmp:
        settings = OrgSettings(rows={"Account": 20_000, "Contact": 10, "Opportunity": rows, "Widget__c": 10},
                               state_dir=Path(tmp) / "org")
        with EmulatorOrg(settings) as org:
            state = org.write_state_file(Path(tmp) / "org.json")
            command = [sys.executable, __file__, "--child", str(state), tmp, "--chunk-size", str(chunk_size),
                       "--page-records", str(page_records)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 2_000_000])
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--page-records", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("STATE_FILE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.chunk_size, args.page_records)
        return
    results = []
    for rows in args.rows:
        result = measure(rows, args.chunk_size, args.page_records)
        results.append(result)
        print(f"{result['rows']:>10,} rows in {result['chunks']:>3} chunks: {result['seconds']:7.1f} s "
              f"({result['rows'] / result['seconds']:,.0f} rows/s); peak RSS {result['rss_before_mb']:.0f} MB before, "
              f"{result['peak_after_plan_mb']:.0f} MB after planning, {result['peak_rss_mb']:.0f} MB in all; "
              f"Parquet {result['parquet_mb']:.0f} MB", flush=True)
    if len(results) > 1:
        print(f"peak RSS ratio ({results[-1]['rows']:,} vs {results[0]['rows']:,} rows): "
              f"{results[-1]['peak_rss_mb'] / results[0]['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
