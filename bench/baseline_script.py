"""The straight-line script of issue 12: the floor a refresh is compared with (no staging, typing or checks).

    python bench/baseline_script.py STATE_FILE OUT_DIR

simple-salesforce ``sf.bulk2.<Obj>.download()`` of Account and Opportunity in two threads, each
object's CSV pages read with ``pyarrow.csv.read_csv`` and written as one Parquet file, then one
DuckDB ``COPY (SELECT … LEFT JOIN …) TO … (FORMAT parquet)``. Prints one JSON line of timings.
"""
from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ACCOUNT_SOQL = ("SELECT Id, Name, Type, Industry, AnnualRevenue, NumberOfEmployees, Rating, Phone, Website, "
                "BillingStreet, BillingCity, BillingState, BillingPostalCode, BillingCountry, ParentId, OwnerId, "
                "CreatedDate, LastModifiedDate FROM Account")
OPPORTUNITY_SOQL = ("SELECT Id, AccountId, Account.Name, Name, StageName, Amount, Probability, CloseDate, Type, "
                    "LeadSource, IsClosed, IsWon, ForecastCategory, ExpectedRevenue, CreatedDate, LastModifiedDate "
                    "FROM Opportunity")
JOIN_SQL = (
    "COPY (SELECT o.*, a.Name AS AccountName, a.Industry AS AccountIndustry, a.BillingCountry AS AccountCountry "
    "FROM read_parquet('{opp}') o LEFT JOIN read_parquet('{acc}') a ON o.AccountId = a.Id) "
    "TO '{out}' (FORMAT parquet)"
)
PAGE_RECORDS = 100_000  # the same maxRecords as sf_assets' default max_records_per_page


def _download_and_parse(sf, name: str, soql: str, out: Path) -> dict:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder = out / f"{name}_csv"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    pages = getattr(sf.bulk2, name).download(soql, str(folder), max_records=PAGE_RECORDS, wait=0.2)
    downloaded = time.perf_counter()
    parse = pacsv.ParseOptions(newlines_in_values=True)  # Description and street values hold line breaks
    table = pa.concat_tables(
        [pacsv.read_csv(p["file"], parse_options=parse) for p in pages], promote_options="permissive"
    )
    pq.write_table(table, out / f"{name}.parquet")
    return {"object": name, "rows": table.num_rows, "pages": len(pages), "download_s": round(downloaded - started, 2),
            "parse_write_s": round(time.perf_counter() - downloaded, 2)}


def main(state_file: Path, out: Path) -> None:
    started = time.perf_counter()
    import duckdb
    import pyarrow.parquet as pq
    import requests
    from simple_salesforce import Salesforce

    state = json.loads(state_file.read_text())
    session = requests.Session()
    session.verify = state["ca_path"]
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would override the emulator CA (127.0.0.1: no proxy)
    sf = Salesforce(instance_url=state["instance_url"], session_id=state["access_token"], session=session,
                    version=state.get("api_version", "62.0"))
    imported = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda job: _download_and_parse(sf, *job, out),
                                [("Account", ACCOUNT_SOQL), ("Opportunity", OPPORTUNITY_SOQL)]))
    extracted = time.perf_counter()
    duckdb.connect().execute(
        JOIN_SQL.format(opp=out / "Opportunity.parquet", acc=out / "Account.parquet", out=out / "joined.parquet")
    )
    joined = time.perf_counter()
    rows = pq.read_metadata(out / "joined.parquet").num_rows
    print(json.dumps({"start_up_s": round(imported - started, 2), "extract_s": round(extracted - imported, 2),
                      "join_s": round(joined - extracted, 2), "rows_out": rows, "objects": results}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
