"""A refresh of an org whose records are inserted, updated and deleted while its Bulk jobs run succeeds, and its
output is right: every row that held still is there exactly once with its values, no Id twice, and the org's change
the refresh measured equals the emulator's truth (docs/RELIABILITY.md, "A refresh of a live org")."""

from __future__ import annotations

import json

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sf_assets.config import load_config
from sf_assets.defs.driver import execute_refresh
from sf_assets.emulator.live import LiveRates
from sf_assets.extract.refresh import refresh_started_at
from sf_assets.storage.state_db import state_session
from sf_assets_tests.pipeline_helpers import write_config

FIELDS = ["Id", "AccountId", "Name", "StageName", "Amount", "CloseDate", "LastModifiedDate"]
OBJECTS = [
    {"name": "Account", "soql": "SELECT Id, Name FROM Account"},
    {"name": "Opportunity", "soql": f"SELECT {', '.join(FIELDS)} FROM Opportunity"},
]


def test_a_refresh_of_a_live_org_succeeds_and_keeps_every_row_that_held_still(make_org, tmp_path):
    # Opportunity changes after every Bulk job (its 4 chunks, and Account's job before them): 20 rows inserted,
    # 20 updated and 20 deleted each time, so the rows extracted lie outside [COUNT() at preflight, COUNT() now].
    org = make_org(rows={"Account": 300, "Opportunity": 2500},
                   live=LiveRates.parse("inserts=20,updates=20,deletes=20,every=job,objects=Opportunity"))
    datasets = [{"name": "opportunity", "sql": "SELECT * FROM Opportunity"}]
    config = load_config(write_config(org, tmp_path, objects=OBJECTS, datasets=datasets,
                                      extraction={"chunk_size": 700}))
    with dg.instance_for_test() as instance:
        outcome = execute_refresh(config, instance, publish=False)
    assert outcome.ok, outcome.failures

    with state_session(config.paths.state_db) as conn:
        started = refresh_started_at(conn, outcome.refresh_id)
    assert started is not None
    health = json.loads(outcome.health_path.read_text(encoding="utf-8"))
    check = health["row_checks"]["Opportunity"]
    assert check["passed"] and check["done"] == check["chunks"] >= 4, check
    truth = org.data.change_counts("Opportunity", since=started)
    assert truth.created > 0 and truth.updated > 0 and truth.deleted > 0
    assert (check["change"]["created"], check["change"]["modified"], check["change"]["deleted"]) == (
        truth.created, truth.updated, truth.deleted)
    assert not check["count_before"] <= check["rows"] <= check["count_now"], "the org did not move enough to matter"
    assert f"{truth.created:,} created, {truth.updated:,} modified, {truth.deleted:,} deleted" in check["line"]

    output = pq.read_table(tmp_path / "output" / "opportunity" / "opportunity.parquet")
    assert pc.count_distinct(output.column("Id")).as_py() == output.num_rows == check["rows"]
    still = org.data.held_still("Opportunity", FIELDS, since=started)
    assert still.num_rows > 2000
    mask = pc.is_in(output.column("Id"), value_set=still.column("Id"))
    kept = output.filter(mask).select(FIELDS).sort_by("Id")
    assert kept.num_rows == still.num_rows  # none of them lost
    for name in FIELDS:  # value by value, typed as the output types them
        assert kept.column(name).to_pylist() == still.column(name).cast(kept.schema.field(name).type).to_pylist(), name
