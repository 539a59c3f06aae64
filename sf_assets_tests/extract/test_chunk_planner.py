"""Chunk plans: contiguous open-ended ranges of about chunk_size rows, stored for resume, cheap to compute."""
from __future__ import annotations

import bisect
import random

import numpy as np
import pyarrow as pa
import pytest

from sf_assets.emulator import DataGenerator
from sf_assets.extract.chunk_planner import IdSample, TooManyChunks, plan_chunks, ranges_from_boundaries
from sf_assets.health.causes import explain
from sf_assets_tests.extract.helpers import expected_table, extract_all, make_context, read_chunks


def _ids(n: int) -> list[str]:
    return [f"006{i * 7:015d}" for i in range(n)]


def _counts(ids: list[str], boundaries: list[str]) -> list[int]:
    counts = [0] * (len(boundaries) + 1)
    for value in ids:
        counts[bisect.bisect_right(boundaries, value)] += 1
    return counts


def test_sample_is_exact_when_it_holds_every_id():
    ids = _ids(10_000)
    shuffled = random.Random(3).sample(ids, len(ids))
    sample = IdSample(size=20_000)
    for start in range(0, len(shuffled), 777):
        sample.add(pa.array(shuffled[start:start + 777]))
    assert sample.count == 10_000
    assert sample.boundaries(1000) == [ids[k * 1000] for k in range(1, 10)]
    assert sample.boundaries(3000) == [ids[3000], ids[6000], ids[9000]]
    assert sample.boundaries(10_000) == []


def test_sample_of_a_large_unsorted_stream_gives_near_equal_chunks():
    ids = _ids(200_000)
    shuffled = random.Random(5).sample(ids, len(ids))
    sample = IdSample(size=5000, seed=1)
    for start in range(0, len(shuffled), 10_000):
        sample.add(pa.array(shuffled[start:start + 10_000]))
    boundaries = sample.boundaries(20_000)
    assert len(boundaries) == 9 and boundaries == sorted(boundaries)
    assert all(abs(c - 20_000) < 3000 for c in _counts(ids, boundaries))


def test_ranges_are_contiguous_with_open_ends():
    assert [(r.chunk_id, r.id_lo, r.id_hi) for r in ranges_from_boundaries(["b", "d"])] == [
        ("c0001", None, "b"), ("c0002", "b", "d"), ("c0003", "d", None)]
    assert [(r.id_lo, r.id_hi) for r in ranges_from_boundaries([])] == [(None, None)]
    assert ranges_from_boundaries([f"{i:05d}" for i in range(10_000)])[-1].chunk_id == "c10001"


def test_plan_covers_every_row_once_and_is_stored(org, connection, plans, tmp_path):
    plan = plans["Opportunity"]
    ctx = make_context(connection, tmp_path)
    ids = expected_table(org, plan, False).column("Id").to_pylist()
    connection.client()  # log in first: count the planner's requests only
    org.reset_counters()

    result = plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=700)

    ranges = result.ranges
    assert result.method == "id_scan" and result.rows_counted == len(ids)
    assert ranges[0].id_lo is None and ranges[-1].id_hi is None
    assert all(a.id_hi == b.id_lo for a, b in zip(ranges, ranges[1:]))
    assert _counts(ids, [r.id_lo for r in ranges[1:]]) == [700, 700, 700, len(ids) - 2100]
    counters = org.counters()
    assert counters["jobs_created"] == {"Opportunity": 1}
    assert result.api_requests == counters["requests"] == 2 + counters["polls"]  # create + polls + 1 page
    assert [s.status for s in ctx.tracker.chunks("R1", "Opportunity")] == ["queued"] * 4

    again = plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=100)
    assert again.method == "stored" and again.ranges == ranges
    assert org.counters()["jobs_created"] == {"Opportunity": 1}


def test_small_estimate_is_one_open_chunk_without_api_calls(org, connection, plans, tmp_path):
    ctx = make_context(connection, tmp_path)
    connection.client()
    org.reset_counters()
    result = plan_chunks(ctx.client, ctx.tracker, plans["Account"], "R1", chunk_size=5000, estimate=300)
    assert (result.method, [(r.id_lo, r.id_hi) for r in result.ranges]) == ("single", [(None, None)])
    assert org.counters()["requests"] == 0


def test_a_plan_of_more_than_9999_chunks_is_refused_naming_the_chunk_size_to_raise(make_org, connect_to, plans,
                                                                                   tmp_path):
    """Chunk ids sort as text up to c9999 (c10000 < c1001): the planner refuses more, before storing anything."""
    org = make_org(rows={"Account": 10, "Contact": 10, "Opportunity": 10, "Widget__c": 10_500})
    live = org.data.row_count("Widget__c")  # the scan counts live rows only
    connection = connect_to(org)
    ctx = make_context(connection, tmp_path)
    connection.client()  # log in first: count the planner's requests only
    org.reset_counters()
    with pytest.raises(TooManyChunks, match=r"^Account: 20,000,000 rows in chunks of 2,000 make 10,000 chunks, .*"
                                            r"raise its chunk_size .* to at least 2,001$") as refused:
        plan_chunks(ctx.client, ctx.tracker, plans["Account"], "R1", chunk_size=2000, estimate=20_000_000)
    assert explain(refused.value).fix_first  # a configuration error: running again cannot help (exit 2)
    assert org.counters()["requests"] == 0  # refused on the preflight count: no Id scan job
    assert live > 9_999
    with pytest.raises(TooManyChunks, match=rf"^Widget__c: {live:,} rows in chunks of 1 make {live:,} chunks"):
        plan_chunks(ctx.client, ctx.tracker, plans["Widget__c"], "R1", chunk_size=1)  # no estimate: the scan counts
    assert ctx.tracker.chunks("R1", "Account") == [] and ctx.tracker.chunks("R1", "Widget__c") == []
    assert len(plan_chunks(ctx.client, ctx.tracker, plans["Widget__c"], "R2", chunk_size=2).ranges) == -(-live // 2)


def test_rows_created_after_planning_land_in_the_last_range(make_org, connect_to, plans, tmp_path):
    rows = {"Account": 300, "Contact": 10, "Opportunity": 10, "Widget__c": 200}
    org = make_org(rows=rows)
    plan = plans["Widget__c"]
    ctx = make_context(connect_to(org), tmp_path)
    planned = plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=80, query_all=True)
    assert len(planned.ranges) == 3

    grown = DataGenerator({**rows, "Widget__c": 260}, seed=org.settings.seed)  # 60 new rows, higher Ids
    assert grown.ids("Widget__c", np.arange(200)).equals(org.data.ids("Widget__c", np.arange(200)))
    org.data = grown
    outcome = extract_all(ctx, plan, chunk_size=80)

    assert [outcome.results[r.chunk_id].rows for r in planned.ranges] == [80, 80, 100]
    assert read_chunks(ctx, plan).equals(expected_table(org, plan, True))
