"""A processed Bulk job's results pages → the Parquet parts of its chunk, each recorded in the tracker once written.

API 58.0+: the pages `resultPages` lists download at the same time on at most `BulkClient.download_width` threads
(the request budget less the slots kept for polls and creations), each streamed into its own part named by its
position in the list (`page-00003.parquet`), whatever order they arrive in. A page failing transiently (503, a
reset, a short page) is fetched again alone and the others keep their parts; a resumed job keeps every recorded
part whose page the listing names again at the same position. Older API versions (or an org answering 404): one
page after another by `Sforce-Locator`, each recorded before the next is asked for.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from sf_assets.extract.page_writer import ChunkValidationError, write_page
from sf_assets.extract.tracker import ChunkKey, ChunkTracker
from sf_assets.salesforce.bulk2 import BulkClient, QueryJob, ResultsPage, retry_call
from sf_assets.salesforce.result_pages import has_result_pages, page_rows, result_page_urls
from sf_assets.salesforce.retry import is_transient, note_progress, one_attempt_sequence
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.deletion import delete_when_free

log = logging.getLogger(__name__)
JOB_OPEN, JOB_DONE = 1, 2  # how far a chunk got (then JOB_DONE + pages recorded): a retry past it counts from 1


def part_path(parts_dir: Path, page: int) -> Path:
    """The Parquet part of results page `page` (1-based position in the job's pages)."""
    return parts_dir / f"page-{page:05d}.parquet"


def recorded_parts(tracker: ChunkTracker, key: ChunkKey, parts_dir: Path) -> list[Path]:
    """The parts of the pages recorded for the chunk's job, in page order."""
    return [part_path(parts_dir, page) for page in sorted(tracker.pages(key))]


def fetch_pages(client: BulkClient, tracker: ChunkTracker, job: QueryJob, plan: FieldPlan, key: ChunkKey,
                parts_dir: Path, label: str) -> None:
    """Fetch every page of the processed `job` not recorded yet: in parallel through `resultPages` when the job's
    API version has it, else (or when a locator path is under way) one after another by locator."""
    if tracker.get(key).next_locator is None and has_result_pages(job.info.api_version):
        max_records = page_rows(job.info.records_processed or 0, client.download_width,
                                client.extraction.max_records_per_page)
        urls = result_page_urls(client, job.info, max_records, label)
        if urls is not None:
            _fetch_listed(client, tracker, job, plan, key, parts_dir, urls, label)
            return
    _fetch_by_locator(client, tracker, job, plan, key, parts_dir, label)


def _write(open_page: Callable[[], ResultsPage], plan: FieldPlan, dest: Path,
           empty_job: bool) -> tuple[int, str | None]:
    """One page streamed into `dest`: (its Sforce-NumberOfRecords, its Sforce-Locator)."""
    with open_page() as results:
        write_page(results, plan, dest, results.records, empty_job=empty_job)  # no records: any empty form is no rows
        return results.records, results.next_locator


def _retried(fn: Callable[[], tuple[int, str | None]], client: BulkClient, label: str) -> tuple[int, str | None]:
    """`fn` retried on transient errors; a count or header mismatch goes up (the chunk gets a new job)."""
    return retry_call(fn, label, client.retry, sleep=client.sleep,
                      retry_on=lambda exc: is_transient(exc) and not isinstance(exc, ChunkValidationError))


def _drop_unrecorded(parts_dir: Path, recorded: Mapping[int, object]) -> None:
    """Delete parts written but not recorded (the process died in between): their pages are fetched again."""
    for part in parts_dir.glob("page-*.parquet"):
        if int(part.stem.split("-")[1]) not in recorded:
            delete_when_free(part)


def _fetch_listed(client: BulkClient, tracker: ChunkTracker, job: QueryJob, plan: FieldPlan, key: ChunkKey,
                  parts_dir: Path, urls: list[str], label: str) -> None:
    done = tracker.pages(key)
    if any(page > len(urls) or urls[page - 1] != url or not part_path(parts_dir, page).is_file()
           for page, url in done.items()):
        log.warning("Bulk job %s lists other pages than the %d recorded: fetching all %d again", job.info.id,
                    len(done), len(urls))
        tracker.set_job(key, job.info.id, job.info.api_version)
        done = {}
    _drop_unrecorded(parts_dir, done)
    pending = [page for page in range(1, len(urls) + 1) if page not in done]
    if done:
        log.info("Bulk job %s: %d of %d pages already written, fetching the other %d", job.info.id, len(done),
                 len(urls), len(pending))
    empty_job = job.info.records_processed == 0
    stop = threading.Event()

    def fetch(page: int) -> None:
        if stop.is_set():  # another page failed for good, or the chunk was interrupted: no new request
            return
        try:
            with one_attempt_sequence(client.retry.attempts):  # each page its own "Attempt n of N" (page 7)
                note_progress(1, f"page {page}")
                records, _ = _retried(partial(_write, partial(client.results_page_at, urls[page - 1]), plan,
                                              part_path(parts_dir, page), empty_job), client, label)
        except BaseException:
            stop.set()
            raise
        tracker.page_done(key, page, urls[page - 1], records, None)

    with ThreadPoolExecutor(max_workers=max(1, min(client.download_width, len(pending))),
                            thread_name_prefix=f"pages-{key.chunk_id}") as pool:
        try:
            futures = [pool.submit(contextvars.copy_context().run, fetch, page) for page in pending]
            for future in futures:
                future.result()  # the first failure in page order, once the pages already started have ended
        finally:
            stop.set()
    note_progress(JOB_DONE + len(urls), f"page {len(urls) + 1}")  # as the locator path names what follows


def _fetch_by_locator(client: BulkClient, tracker: ChunkTracker, job: QueryJob, plan: FieldPlan, key: ChunkKey,
                      parts_dir: Path, label: str) -> None:
    state = tracker.get(key)
    page, locator = state.pages_done, state.next_locator
    _drop_unrecorded(parts_dir, tracker.pages(key))
    max_records = client.extraction.max_records_per_page
    empty_job = job.info.records_processed == 0
    while page == 0 or locator is not None:
        page += 1
        records, next_locator = _retried(partial(_write, partial(job.results_page, locator, max_records), plan,
                                                 part_path(parts_dir, page), empty_job), client, label)
        tracker.page_done(key, page, locator, records, next_locator)
        note_progress(JOB_DONE + page, f"page {page + 1}")
        locator = next_locator
