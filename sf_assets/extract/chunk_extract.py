"""Extract one chunk (one Id range, one Bulk query job) into one typed Parquet file, resumably.

Each results page is streamed into a Parquet part and recorded in the tracker (job id, API
version, next locator, pages done) before the next page is asked for, so a crash resumes from the
next page of the same job when Salesforce still has it, and otherwise starts the chunk over
cleanly. When the last page is in, the parts are merged into the chunk file (temp name, atomic
rename) after checking rows == Σ Sforce-NumberOfRecords == the job's numberRecordsProcessed;
the merge checks that Ids are present, unique and inside the range.

Retries (tenacity, RetryConfig): a request failing transiently is sent again; a short page or a
body cut mid-stream is fetched again from the same locator; a Failed job or a count/Id mismatch
starts a new job. Permanent errors (invalid field, malformed query, ...) fail at once. Every retry of a
chunk (its job, a page, a REST call) counts in one "Attempt n of N" sequence of `retry.attempts`, so the log
never counts back; each new page reached starts a new sequence named after it ("page 4"), and "failed
(3 attempts)" means three tries where the chunk stopped.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sf_assets.extract.chunk_file import ChunkFileStats, chunk_plan_fingerprint, merge_parts, parquet_rows
from sf_assets.extract.page_writer import ChunkValidationError, write_page
from sf_assets.extract.tracker import ChunkKey, ChunkState, ChunkTracker
from sf_assets.health.causes import chunk_failure
from sf_assets.observability.logs import log_context
from sf_assets.salesforce.bulk2 import (
    BulkClient,
    BulkJobFailed,
    BulkJobNotFound,
    JobInfo,
    QueryJob,
    open_query_job,
    retry_call,
)
from sf_assets.salesforce.errors import RefreshStop
from sf_assets.salesforce.retry import is_transient, note_progress, observe_retries, one_attempt_sequence
from sf_assets.salesforce.soql import plan_soql
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import file_digest

log = logging.getLogger(__name__)
_JOB_OPEN, _JOB_DONE = 1, 2  # how far a chunk got (then _JOB_DONE + pages recorded): a retry past it counts from 1


@dataclass(frozen=True)
class ExtractContext:
    """What every chunk extraction of a refresh shares."""

    client: BulkClient
    tracker: ChunkTracker
    refresh_id: str
    work_dir: Path


@dataclass(frozen=True)
class ChunkResult:
    """Outcome of `extract_chunk` (skipped: the file of an earlier success was kept)."""

    chunk_id: str
    rows: int
    bytes: int
    job_id: str | None
    duration_s: float
    attempts: int
    max_last_modified: str | None
    file_path: Path
    skipped: bool


def chunk_path(work_dir: Path, refresh_id: str, object_name: str, chunk_id: str) -> Path:
    """<work_dir>/chunks/<refresh_id>/<object>/<chunk_id>.parquet"""
    return work_dir / "chunks" / refresh_id / object_name / f"{chunk_id}.parquet"


def _parts_dir(dest: Path) -> Path:
    return dest.with_name(dest.stem + ".parts")


def _part(parts_dir: Path, page: int) -> Path:
    return parts_dir / f"page-{page:05d}.parquet"


def _is_done(state: ChunkState, plan: FieldPlan) -> bool:
    """Extracted, its file intact, and written with this field plan (a chunk of an earlier plan is extracted again)."""
    path = Path(state.file_path) if state.file_path else None
    if not (state.status == "success" and path is not None and path.is_file() and file_digest(path) == state.checksum):
        return False
    if chunk_plan_fingerprint(path) not in (plan.fingerprint, None):
        log.warning("Chunk %s of %s was extracted with an earlier field plan: extracting it again", state.key.chunk_id,
                    plan.object_name)
        return False
    return True


def extract_chunk(ctx: ExtractContext, plan: FieldPlan, chunk_id: str, *, query_all: bool = False) -> ChunkResult:
    """Extract one planned chunk of `plan.object_name` (skipped when done with a matching checksum)."""
    key = ChunkKey(ctx.refresh_id, plan.object_name, chunk_id)
    dest = chunk_path(ctx.work_dir, ctx.refresh_id, plan.object_name, chunk_id)
    with log_context(refresh_id=ctx.refresh_id, object=plan.object_name, chunk_id=chunk_id), \
            observe_retries(partial(ctx.tracker.note_retry, key)):  # the health JSON's retried chunks
        state = ctx.tracker.get(key)
        if _is_done(state, plan):
            log.info(
                "Chunk %s of %s already extracted (%s rows, checksum matches): skipped",
                chunk_id,
                plan.object_name,
                state.rows,
            )
            return ChunkResult(chunk_id, state.rows or 0, state.bytes or 0, state.job_id, 0.0, 0,
                               state.max_last_modified, dest, skipped=True)
        label = f"Bulk API extraction of {plan.object_name} chunk {chunk_id}"
        started, attempts = time.monotonic(), 0

        def attempt() -> tuple[ChunkFileStats, JobInfo]:
            nonlocal attempts
            ctx.client.governor.check()  # halted or cancelled: fail before any request
            attempts += 1
            ctx.tracker.start_attempt(key, first=attempts == 1)
            return _attempt(ctx, plan, key, dest, label, query_all)

        with one_attempt_sequence(ctx.client.retry.attempts) as tries:  # job, pages and calls: one "Attempt n of N"
            try:
                stats, info = retry_call(attempt, label, ctx.client.retry, sleep=ctx.client.sleep)
            except BaseException as exc:
                reason = chunk_failure(exc, tries.attempt) if isinstance(exc, Exception) else "interrupted"
                ctx.tracker.mark_failed(key, reason)
                (log.info if isinstance(exc, RefreshStop) else log.error)(  # a stop is logged once, by the governor
                    "Extraction of %s chunk %s failed: %s", plan.object_name, chunk_id, reason)
                raise
        ctx.tracker.mark_success(key, str(dest), stats.rows, stats.bytes, stats.checksum, stats.max_last_modified,
                                 info.records_processed)
        job_id = info.id
        delete_when_free(_parts_dir(dest))
        duration = time.monotonic() - started
        log.info("Extracted %s chunk %s: %d rows, %d bytes in %.1f s (job %s, %d attempt(s))", plan.object_name,
                 chunk_id, stats.rows, stats.bytes, duration, job_id, attempts)
        return ChunkResult(chunk_id, stats.rows, stats.bytes, job_id, duration, attempts, stats.max_last_modified,
                           dest, skipped=False)


def _resumable_job(ctx: ExtractContext, state: ChunkState, parts_dir: Path, label: str) -> JobInfo | None:
    """The chunk's saved job when Salesforce still has it (not Failed/Aborted) and its parts are on disk."""
    if state.job_id is None or state.job_api_version is None:
        return None
    if any(not _part(parts_dir, page).is_file() for page in range(1, state.pages_done + 1)):
        log.warning("Parts of job %s are missing: starting the chunk over", state.job_id)
        return None
    try:
        info = ctx.client.get_job(state.job_id, state.job_api_version, label=label)
    except BulkJobNotFound:
        log.warning("Bulk job %s no longer exists: starting the chunk over", state.job_id)
        return None
    if info.state in ("Failed", "Aborted"):
        return None
    log.info("Resuming Bulk job %s (%s) after page %d", info.id, info.state, state.pages_done)
    return info


def _attempt(ctx: ExtractContext, plan: FieldPlan, key: ChunkKey, dest: Path, label: str,
             query_all: bool) -> tuple[ChunkFileStats, JobInfo]:
    tracker, client = ctx.tracker, ctx.client
    state = tracker.get(key)
    parts_dir = _parts_dir(dest)
    resume = _resumable_job(ctx, state, parts_dir, label)
    if resume is None:
        tracker.set_job(key, None, None)
        delete_when_free(parts_dir)
    parts_dir.mkdir(parents=True, exist_ok=True)
    processing = ExitStack()  # a job slot, from before the job is created until Salesforce has processed it
    if resume is None or resume.state != "JobComplete":
        processing.enter_context(client.governor.job_slot())
    with processing, open_query_job(
        client, plan_soql(plan, state.id_lo, state.id_hi), query_all=query_all, resume=resume, label=label
    ) as job:
        try:
            if resume is None:
                tracker.set_job(key, job.info.id, job.info.api_version)
            note_progress(_JOB_OPEN, "job status")
            info = job.info if job.info.state == "JobComplete" else job.wait()
            processing.close()  # processed: its download does not hold the slot, the next job can be created
            note_progress(_JOB_DONE, f"page {tracker.get(key).pages_done + 1}")
            _fetch_pages(ctx, job, plan, key, parts_dir, label)
            parts = [_part(parts_dir, page) for page in range(1, tracker.get(key).pages_done + 1)]
            _check_counts(parquet_rows(parts), tracker.page_records(key), info)
            stats = merge_parts(parts, dest, plan, state.id_lo, state.id_hi)
        except (ChunkValidationError, BulkJobFailed):
            tracker.set_job(key, None, None)  # the next attempt starts a new job
            raise
    return stats, info


def _fetch_pages(ctx: ExtractContext, job: QueryJob, plan: FieldPlan, key: ChunkKey, parts_dir: Path,
                 label: str) -> None:
    """Fetch every page after the last one recorded, each written and recorded before the next."""
    state = ctx.tracker.get(key)
    page, locator = state.pages_done, state.next_locator
    for stale in parts_dir.glob("page-*.parquet"):  # written, but the crash came before it was recorded
        if int(stale.stem.split("-")[1]) > page:
            delete_when_free(stale)
    max_records = ctx.client.extraction.max_records_per_page

    def fetch(page_no: int, from_locator: str | None) -> tuple[int, str | None]:
        with job.results_page(from_locator, max_records) as results:
            write_page(results, plan, _part(parts_dir, page_no), results.records,
                       empty_job=job.info.records_processed == 0)  # no records: any empty-result form is no rows
            return results.records, results.next_locator

    while page == 0 or locator is not None:
        page += 1
        records, next_locator = retry_call(
            partial(fetch, page, locator), label, ctx.client.retry, sleep=ctx.client.sleep,
            retry_on=lambda exc: is_transient(exc) and not isinstance(exc, ChunkValidationError))
        ctx.tracker.page_done(key, page, locator, records, next_locator)
        note_progress(_JOB_DONE + page, f"page {page + 1}")
        locator = next_locator


def _check_counts(rows: int, page_records: int, info: JobInfo) -> None:
    if not rows == page_records == info.records_processed:
        raise ChunkValidationError(f"rows written {rows}, sum of Sforce-NumberOfRecords {page_records}, "
                                   f"job numberRecordsProcessed {info.records_processed}: they must agree")
