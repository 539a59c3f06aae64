"""One job's results pages download in parallel through `resultPages` (API 58.0+), over real HTTPS to the emulator:
pages arriving out of order, one failing (503, a reset) while the others keep their parts, a kill mid-job and its
resume, the budget of requests in flight, the 409 of another API version, and an org on API 57.0 (locator path);
the output is exactly the org's records every time."""
from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from sf_assets.config.models import EmulatorAuth, SalesforceConfig
from sf_assets.emulator import FaultPlan
from sf_assets.extract.chunk_extract import extract_chunk
from sf_assets.extract.chunk_planner import plan_chunks
from sf_assets.extract.tracker import ChunkKey, ChunkTracker
from sf_assets.pipeline.emulator import open_connection
from sf_assets.salesforce.bulk2 import BulkPermanentError, QueryJob
from sf_assets.salesforce.result_pages import result_page_urls
from sf_assets.storage.state_db import open_state_db
from sf_assets_tests.extract.helpers import FAST_EXTRACTION, expected_table, make_context, read_chunks
from sf_assets_tests.extract.test_resume import _child, _wait_for_mid_chunk

PAGES_OF_250 = FAST_EXTRACTION.model_copy(update={"max_records_per_page": 250})


def test_pages_arrive_out_of_order_and_a_failed_page_is_fetched_again_alone(make_org, connect_to, plans, tmp_path):
    org = make_org()
    ctx = make_context(connect_to(org), tmp_path, extraction=PAGES_OF_250)
    plan = plans["Opportunity"]
    plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=10**6, estimate=1)  # one chunk, one job
    # the first page asked for answers 0.5 s late, the 4th answers 503 and the 6th is reset mid-body
    org.set_faults(FaultPlan.parse("slow_page:1,page_503:4,page_reset:6"))
    recorded: list[int] = []
    page_done = ctx.tracker.page_done

    def record(key: ChunkKey, page: int, *rest: object) -> None:
        recorded.append(page)
        page_done(key, page, *rest)  # type: ignore[arg-type]

    ctx.tracker.page_done = record  # type: ignore[method-assign]  # an instrument: the real tracker records
    result = extract_chunk(ctx, plan, "c0001")

    expected = expected_table(org, plan, False)
    pages = -(-expected.num_rows // 250)
    assert read_chunks(ctx, plan).equals(expected)
    assert sorted(recorded) == list(range(1, pages + 1)) and recorded != sorted(recorded)  # written as they came
    counters = org.counters()
    assert {"slow_page", "page_503", "page_reset"} <= set(counters["errors"])
    assert counters["result_pages_calls"] == -(-pages // 5)  # five URLs per call
    # the reset page was served twice, every other page once (a 503 is refused before any row is served)
    assert counters["pages"] == pages + 1 and counters["rows_served"] == expected.num_rows + 250
    assert result.attempts == 1 and counters["jobs_created"]["Opportunity"] == 1  # the same job throughout


def _settled_counters(org) -> dict:
    """The org's counters once no request is being served any more (unchanged for 0.5 s)."""
    before = org.counters()
    while True:
        time.sleep(0.5)
        now = org.counters()
        if now == before:
            return now
        before = now


def test_killed_mid_job_resumes_with_the_pages_it_wrote(org, connection, plans, tmp_path):
    state_file = org.write_state_file(tmp_path / "org.json")
    tracker = ChunkTracker(open_state_db(tmp_path / "state.db"))
    child = _child(state_file, tmp_path, page_delay=0.05, api_version="62.0")
    refresh_id = _wait_for_mid_chunk(tracker, child)
    child.kill()
    child.wait()
    at_kill = {s.key.chunk_id: s for s in tracker.chunks(refresh_id, "Opportunity")}
    pages_at_kill = {c: tracker.pages(s.key) for c, s in at_kill.items()}
    first = _settled_counters(org)  # a page the killed child asked for may still be being served

    second = _child(state_file, tmp_path, api_version="62.0")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err

    final = {s.key.chunk_id: s for s in tracker.chunks(refresh_id, "Opportunity")}
    cut = [c for c, s in at_kill.items() if s.status == "running" and s.pages_done]
    assert cut and all(final[c].job_id == at_kill[c].job_id for c in cut)  # the same job, resumed
    counters = org.counters()
    # only the pages not recorded at the kill were downloaded again (a part written but not recorded is redone)
    assert counters["pages"] - first["pages"] == sum(final[c].pages_done - at_kill[c].pages_done
                                                     for c in final if at_kill[c].status != "success")
    assert all(s.status == "success" for s in final.values())
    assert all(len(pages_at_kill[c]) < final[c].pages_done for c in cut)
    ctx = make_context(connection, tmp_path, refresh_id)
    assert read_chunks(ctx, plans["Opportunity"]).equals(expected_table(org, plans["Opportunity"], False))


def test_a_one_page_chunk_killed_after_its_rename_keeps_its_job(make_org, connect_to, plans, tmp_path):
    org = make_org()
    ctx = make_context(connect_to(org), tmp_path)  # Account: one page, renamed into the chunk file
    plan = plans["Account"]
    plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=10**6, estimate=1)
    mark_success = ctx.tracker.mark_success
    ctx.tracker.mark_success = lambda *a, **kw: (_ for _ in ()).throw(KeyboardInterrupt)  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):  # the process dies after the rename, before the chunk is recorded
        extract_chunk(ctx, plan, "c0001")
    ctx.tracker.mark_success = mark_success  # type: ignore[method-assign]

    extract_chunk(ctx, plan, "c0001")
    assert org.counters()["jobs_created"]["Account"] == 1  # the page is fetched again from the same job
    assert read_chunks(ctx, plan).equals(expected_table(org, plan, False))


def test_requests_in_flight_stay_within_the_budget_and_a_poll_never_waits_for_pages(org, connection, tmp_path):
    ctx = make_context(connection, tmp_path, extraction=FAST_EXTRACTION.model_copy(
        update={"max_concurrent_requests": 3}))  # one results page at a time, two slots kept for short requests
    client = ctx.client
    assert client.download_width == 1
    job = QueryJob(client, client.create_query_job("SELECT Id, Name FROM Account"), "test")
    info = job.wait()
    first, second = result_page_urls(client, info, 100, "test")[:2]
    opened = threading.Event()

    def open_second() -> None:
        with client.results_page_at(second) as page:
            opened.set()
            page.read()

    with client.results_page_at(first) as page:
        waiting = threading.Thread(target=open_second)
        waiting.start()
        assert not opened.wait(0.5)  # the second page waits for the first's slot...
        started = time.monotonic()
        assert job.client.get_job(info.id, info.api_version).state == "JobComplete"  # ...a poll does not
        assert time.monotonic() - started < 0.5
        page.read()
    assert opened.wait(5)  # the first page closed: the second one goes
    waiting.join(5)


def test_api_57_pages_by_locator_and_another_version_is_a_one_line_409(make_org, connect_to, plans, tmp_path):
    org = make_org()
    state = org.write_state_file(tmp_path / "org.json")
    v57 = open_connection(SalesforceConfig(api_version="57.0", auth=EmulatorAuth(
        kind="emulator", state_file=state, autostart=False)))
    try:
        ctx = make_context(v57, tmp_path, extraction=PAGES_OF_250)
        plan = plans["Opportunity"]
        plan_chunks(ctx.client, ctx.tracker, plan, "R1", chunk_size=10**6, estimate=1)
        extract_chunk(ctx, plan, "c0001")
        assert read_chunks(ctx, plan).equals(expected_table(org, plan, False))
        counters = org.counters()
        assert "result_pages_calls" not in counters and counters["pages"] == ctx.tracker.get(
            ChunkKey("R1", "Opportunity", "c0001")).pages_done == -(-read_chunks(ctx, plan).num_rows // 250)
        job = ctx.client.get_job(ctx.tracker.get(ChunkKey("R1", "Opportunity", "c0001")).job_id, "57.0")
        assert result_page_urls(ctx.client, job, 250, "test") is None  # 404 below 58.0: the locator path
    finally:
        v57.close()

    client = make_context(connect_to(org), tmp_path / "v62", extraction=PAGES_OF_250).client
    info = QueryJob(client, client.create_query_job("SELECT Id FROM Account"), "test").wait()
    with pytest.raises(BulkPermanentError) as refused:
        result_page_urls(client, dataclasses.replace(info, api_version="61.0"), 250, "test")
    message = str(refused.value)
    assert refused.value.status == 409 and "\n" not in message and "Response content" not in message
    assert "API version 61.0" in message and "created with API version 62.0" in message
