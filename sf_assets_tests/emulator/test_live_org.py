"""An org whose records change while it serves, over real HTTPS: each Bulk job reads one snapshot, the SOQL
that measures change (CreatedDate / SystemModstamp / queryAll) counts what changed, and the same seed makes the
same changes."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa

from sf_assets.emulator import DataGenerator, EmulatorOrg
from sf_assets.emulator.live import LiveRates
from sf_assets.emulator.render import render_bulk

from .helpers import api, bulk_job, iter_bulk_pages, parse_csv, session, sf

FIELDS = ["Id", "Name", "Description", "Amount", "LastModifiedDate"]
SOQL = f"SELECT {', '.join(FIELDS)} FROM Opportunity"


def _csv_rows(table: pa.Table) -> list[list[str | None]]:
    """Expected values as the Bulk CSV shows them (null: empty field)."""
    return [list(r) for r in zip(*(render_bulk(c.combine_chunks()).to_pylist() for c in table.columns))]


def test_each_bulk_job_reads_one_snapshot_while_the_org_changes(make_org) -> None:
    org: EmulatorOrg = make_org(live=LiveRates.parse("inserts=40,updates=40,deletes=10,objects=Opportunity"))
    client, s = sf(org), session(org)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    untouched = DataGenerator(org.settings.rows, org.settings.seed)  # the org before any change
    before = client.query("SELECT COUNT() FROM Opportunity")["totalSize"]
    assert before == untouched.row_count("Opportunity")

    job_id = bulk_job(org, SOQL)  # processed: its snapshot, then (every=job) the org changes
    processed = s.get(api(org, f"/jobs/query/{job_id}")).json()["numberRecordsProcessed"]
    rows, announced = [], 0
    for response, page in iter_bulk_pages(org, job_id, 700):
        org.advance_live()  # more changes between the pages of the job
        announced += int(response.headers["Sforce-NumberOfRecords"])
        rows += page[1:]
    assert processed == announced == len(rows) == before
    original = untouched.generate("Opportunity", 0, 10**9, FIELDS + ["IsDeleted"])
    assert rows == _csv_rows(original.filter(pa.compute.invert(original["IsDeleted"])).select(FIELDS))

    moved = client.query("SELECT COUNT() FROM Opportunity")["totalSize"]
    assert moved == before + 5 * (40 - 10) == org.data.row_count("Opportunity")  # 1 tick per job + 4 between pages

    org.set_live_changes("inserts=40,updates=40,deletes=10,every=manual,objects=Opportunity")  # no tick per job
    second = bulk_job(org, SOQL, on_created=org.advance_live)  # created before a change, processed after it
    now = client.query("SELECT COUNT() FROM Opportunity")["totalSize"]
    assert s.get(api(org, f"/jobs/query/{second}")).json()["numberRecordsProcessed"] == now == moved + 40 - 10
    seen = {r[0]: r for _, page in iter_bulk_pages(org, second, 1000) for r in page[1:]}
    held = org.data.held_still("Opportunity", FIELDS)
    assert [seen.get(r[0]) for r in _csv_rows(held)] == _csv_rows(held)  # every row that held still, value by value
    started = org.data.change_counts("Opportunity")
    assert len(seen) == held.num_rows + started.modified  # the others: created or updated since the first change
    held_ids = set(held["Id"].to_pylist())
    changed = [dt.datetime.fromisoformat(r[4].replace("Z", "+00:00")) for i, r in seen.items() if i not in held_ids]
    assert min(changed) >= start  # their LastModifiedDate: when they changed
    newest = untouched.id_for("Opportunity", untouched.rows("Opportunity") - 1)
    assert sum(i > newest for i in seen) == started.created > 5 * 40  # inserted: Ids above every generated one


def test_count_and_query_all_measure_the_changes_since_a_moment(make_org) -> None:
    org: EmulatorOrg = make_org()
    client, s = sf(org), session(org)
    since = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1)
    literal = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    switch = f"{org.instance_url}/__emulator__/live"
    bad = s.post(switch, json={"live": "inserts=five"})
    assert bad.status_code == 400
    assert bad.json()[0]["message"] == "live changes 'inserts=five': expected a whole number of rows"
    spec = "inserts=7,updates=5,deletes=3,every=manual,objects=Opportunity"
    status = s.post(switch, json={"live": spec, "advance": 2}).json()
    assert status["version"] == 2 and status["live"] == spec
    assert status["changes"]["Opportunity"]["inserted"] == 14 and status["changes"]["Opportunity"]["deleted"] == 6

    def count(where: str, deleted: bool = False) -> int:
        return client.query(f"SELECT COUNT() FROM Opportunity WHERE {where}", include_deleted=deleted)["totalSize"]

    truth = org.data.change_counts("Opportunity", since)
    assert count(f"CreatedDate >= {literal}") == truth.created
    assert count(f"SystemModstamp >= {literal}") == count(f"LastModifiedDate > {literal}") == truth.modified
    assert count(f"IsDeleted = true AND SystemModstamp >= {literal}", deleted=True) == truth.deleted == 6
    assert count(f"IsDeleted = true AND SystemModstamp >= {literal}") == 0
    assert count(f"CreatedDate >= {literal}", deleted=True) == 14

    inserted = org.data.generate("Opportunity", org.data.rows("Opportunity"), 10**9, ["StageName", "IsDeleted"])
    open_new = sum(stage != "Closed Lost" and not gone for stage, gone in zip(*inserted.to_pydict().values()))
    assert count(f"StageName != 'Closed Lost' AND CreatedDate >= {literal}") == open_new
    gone = client.query_all(f"SELECT Id FROM Opportunity WHERE IsDeleted = true AND SystemModstamp >= {literal}",
                            include_deleted=True)["records"]
    ids = ", ".join(f"'{r['Id']}'" for r in gone)
    assert len(gone) == 6 and count(f"Id IN ({ids})") == 0 and count(f"Id IN ({ids})", deleted=True) == 6
    assert count(f"SystemModstamp >= {literal}", deleted=True) == truth.modified + truth.deleted


def test_the_same_seed_makes_the_same_changes(make_org) -> None:
    spec = LiveRates.parse("inserts=3,updates=4,deletes=2,every=manual")
    outputs = []
    for org in (make_org(live=spec), make_org(live=spec)):
        org.advance_live(3)
        soql = "SELECT Id, Name, Email, IsDeleted FROM Contact"
        outputs.append([r for page in sf(org).bulk2.Contact.query_all(soql, wait=0) for r in parse_csv(page)[1:]])
    assert outputs[0] == outputs[1]
    untouched = DataGenerator(org.settings.rows, org.settings.seed)
    generated_deleted = untouched.row_count("Contact", include_deleted=True) - untouched.row_count("Contact")
    assert len(outputs[0]) == untouched.row_count("Contact", include_deleted=True) + 3 * 3  # inserts stay in queryAll
    assert sum(r[3] == "true" for r in outputs[0]) == generated_deleted + 3 * 2
