"""Bulk API 2.0 result download throughput of the local org emulator.

    python bench/emulator_throughput.py --rows 1000000 --max-records 200000

Starts an org, creates one Opportunity query job, downloads every result page over HTTPS with
requests (gzip off, then on) and compares rows/s with a baseline measured in the same run:
pyarrow.csv parsing the first downloaded page from memory.
"""
from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv
import requests

from sf_assets.emulator import EmulatorOrg, OrgSettings

SOQL = ("SELECT Id, Name, AccountId, Account.Name, StageName, Amount, Probability, CloseDate, Type, LeadSource, "
        "IsClosed, IsWon, ForecastCategory, ExpectedRevenue, Description, CreatedDate, LastModifiedDate, "
        "SystemModstamp FROM Opportunity")


class CASession(requests.Session):
    """Keeps its own verify even when REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE are set."""

    def merge_environment_settings(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        settings = super().merge_environment_settings(*args, **kwargs)
        settings["verify"] = self.verify
        return settings


def download(
    org: EmulatorOrg, s: requests.Session, job_url: str, max_records: int, gzip: bool
) -> tuple[int, int, float, bytes]:
    """(rows, bytes on the wire, seconds, first page) for one full download of the job's results."""
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    locator, rows, wire, first = None, 0, 0, b""
    started = time.perf_counter()
    while locator != "null":
        params = {"maxRecords": max_records, **({"locator": locator} if locator else {})}
        with s.get(f"{job_url}/results", params=params, headers=headers, stream=True) as r:
            r.raise_for_status()
            raw = r.raw.read(decode_content=False) if gzip else None
            body = r.content if raw is None else None
            wire += len(raw) if raw is not None else len(body)
            if not first and body is not None:
                first = body
            rows += int(r.headers["Sforce-NumberOfRecords"])
            locator = r.headers["Sforce-Locator"]
    return rows, wire, time.perf_counter() - started, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="Opportunity rows")
    parser.add_argument("--max-records", type=int, default=200_000)
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="sf_bench_"))
    rows = {"Account": max(1, args.rows // 10), "Contact": 10, "Opportunity": args.rows, "Widget__c": 10}
    with EmulatorOrg(OrgSettings(rows=rows, state_dir=state_dir)) as org:
        s = CASession()
        s.verify = str(org.ca_path)
        s.headers["Authorization"] = f"Bearer {org.access_token}"
        base = f"{org.instance_url}/services/data/v62.0/jobs/query"
        results = []
        for gzip in (False, True):
            job = s.post(base, json={"operation": "query", "query": SOQL}).json()
            while s.get(f"{base}/{job['id']}").json()["state"] != "JobComplete":
                pass
            results.append((gzip, *download(org, s, f"{base}/{job['id']}", args.max_records, gzip)))
        first = results[0][4]
        started = time.perf_counter()
        parsed = pacsv.read_csv(io.BytesIO(first)).num_rows
        baseline = parsed / (time.perf_counter() - started)
    print(f"\nEmulator Bulk API 2.0 download: {args.rows:,} Opportunity rows, maxRecords={args.max_records:,}, "
          f"{os.cpu_count()} cores\n")
    print(f"{'mode':<34}{'rows':>12}{'MB on wire':>12}{'seconds':>10}{'rows/s':>14}{'vs baseline':>13}")
    print("-" * 95)
    for gzip, n, wire, secs, _ in results:
        label = "HTTPS download, gzip " + ("on" if gzip else "off")
        print(f"{label:<34}{n:>12,}{wire / 1e6:>12.1f}{secs:>10.2f}{n / secs:>14,.0f}{n / secs / baseline:>12.2f}x")
    print(f"{'baseline: pyarrow.csv parse (mem)':<34}{parsed:>12,}{len(first) / 1e6:>12.1f}"
          f"{parsed / baseline:>10.2f}{baseline:>14,.0f}{1:>12.2f}x")
    worst = min(n / secs for _, n, _, secs, _ in results)
    print(f"\nslowest mode: {worst:,.0f} rows/s -> {'OK' if worst >= 300_000 else 'BELOW'} the 300,000 rows/s target")


if __name__ == "__main__":
    main()
