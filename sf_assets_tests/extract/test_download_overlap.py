"""A job holds its Bulk job slot only while Salesforce processes it: the next job is created and processed while
the last one's pages download, and never more than `max_concurrent_jobs` jobs are being processed at once."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sf_assets.emulator.service import ServiceProfile
from sf_assets.salesforce.bulk2 import ResultsPage
from sf_assets_tests.extract.helpers import (
    FAST_EXTRACTION,
    connect,
    expected_table,
    extract_all,
    field_plan,
    make_context,
    read_chunks,
)


def test_the_next_job_is_processed_while_the_last_one_downloads(make_org, tmp_path):
    org = make_org(service=ServiceProfile("jobs take 0.3 s", job_min_s=0.3))  # processing takes time, as on a real org
    connection = connect(org, tmp_path)
    plan = field_plan(connection, "Opportunity")
    expected = expected_table(org, plan, False)
    one_job = FAST_EXTRACTION.model_copy(update={"max_concurrent_jobs": 1, "max_records_per_page": 200})
    ctx = make_context(connection, tmp_path, extraction=one_job)
    holds: list[list[float]] = []  # [thread, acquired, released] of every job slot
    pages: list[tuple[int, float]] = []  # (thread, when) of every results page asked for
    lock = threading.Lock()
    job_slot = ctx.client.governor.job_slot

    @contextmanager
    def recorded_slot() -> Iterator[None]:
        with job_slot():
            hold = [threading.get_ident(), time.monotonic(), float("inf")]
            with lock:
                holds.append(hold)
            try:
                yield
            finally:
                hold[2] = time.monotonic()

    def recording(open_page: Callable[..., ResultsPage]) -> Callable[..., ResultsPage]:
        def recorded_page(*args, **kwargs) -> ResultsPage:
            with lock:
                pages.append((threading.get_ident(), time.monotonic()))
            time.sleep(0.02)  # a page takes a moment to arrive, as over any real network
            return open_page(*args, **kwargs)
        return recorded_page

    ctx.client.governor.job_slot = recorded_slot  # type: ignore[method-assign]
    ctx.client.results_page = recording(ctx.client.results_page)  # type: ignore[method-assign]
    ctx.client.results_page_at = recording(ctx.client.results_page_at)  # type: ignore[method-assign]  # API 58.0+
    outcome = extract_all(ctx, plan, chunk_size=expected.num_rows // 4 + 1)

    assert outcome.failures == {} and len(outcome.results) == 4
    assert read_chunks(ctx, plan).equals(expected)
    ordered = sorted(hold[1:] for hold in holds)
    assert all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:]))  # one job processed at a time
    overlapped = [t for thread, t in pages if any(start <= t <= end for other, start, end in holds if other != thread)]
    assert len(overlapped) >= 3  # one job's pages downloaded while another thread's job was being processed
