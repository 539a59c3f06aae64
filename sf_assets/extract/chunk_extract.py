"""Extract one chunk (one Id range, one Bulk query job) into one typed Parquet file, resumably.

Each results page is streamed into a Parquet part and recorded in the tracker (job id, API
version, the page and its locator or URL) once written (`page_fetch`: in parallel through `resultPages` from API
58.0, else one after another by locator), so a crash resumes with the pages not recorded yet of the same job when
Salesforce still has it, and otherwise starts the chunk over cleanly. When the last page is in, the parts are
merged into the chunk file (temp name, atomic rename) after checking rows == Σ Sforce-NumberOfRecords == the
job's numberRecordsProcessed; the merge checks that Ids are present, unique and inside the range.

Retries (tenacity, RetryConfig): a request failing transiently is sent again; a short page or a
body cut mid-stream is fetched again (that page alone); a Failed job or a count/Id mismatch
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
from sf_assets.extract.page_fetch import JOB_DONE, JOB_OPEN, fetch_pages, recorded_parts
from sf_assets.extract.page_writer import ChunkValidationError
from sf_assets.extract.tracker import ChunkKey, ChunkState, ChunkTracker
from sf_assets.health.causes import chunk_failure
from sf_assets.observability.logs import log_context
from sf_assets.salesforce.bulk2 import (
    BulkClient,
    BulkJobFailed,
    BulkJobNotFound,
    JobInfo,
    open_query_job,
    retry_call,
)
from sf_assets.salesforce.errors import RefreshStop
from sf_assets.salesforce.retry import note_progress, observe_retries, one_attempt_sequence
from sf_assets.salesforce.soql import plan_soql
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import file_digest

log = logging.getLogger(__name__)


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
    """The chunk's saved job when Salesforce still has it (not Failed/Aborted), with the pages whose parts are on
    disk. When one is missing, a chunk never recorded as extracted (a one-page chunk's part is renamed into the chunk
    file, and a kill can come before the record) fetches the job's pages again; one extracted before starts over."""
    job_id, api_version = state.job_id, state.job_api_version
    if job_id is None or api_version is None:
        return None
    if any(not part.is_file() for part in recorded_parts(ctx.tracker, state.key, parts_dir)):
        if state.checksum is not None:
            log.warning("Parts of job %s are missing: starting the chunk over", job_id)
            return None
        log.warning("Parts of job %s are missing: fetching its pages again", job_id)
        ctx.tracker.set_job(state.key, job_id, api_version)
    try:
        info = ctx.client.get_job(job_id, api_version, label=label)
    except BulkJobNotFound:
        log.warning("Bulk job %s no longer exists: starting the chunk over", state.job_id)
        return None
    if info.state in ("Failed", "Aborted"):
        return None
    log.info("Resuming Bulk job %s (%s) with %d page(s) written", info.id, info.state,
             ctx.tracker.get(state.key).pages_done)
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
            note_progress(JOB_OPEN, "job status")
            info = job.info if job.info.state == "JobComplete" else job.wait()
            processing.close()  # processed: its download does not hold the slot, the next job can be created
            note_progress(JOB_DONE, f"page {tracker.get(key).pages_done + 1}")
            fetch_pages(client, tracker, job, plan, key, parts_dir, label)
            parts = recorded_parts(tracker, key, parts_dir)
            _check_counts(parquet_rows(parts), tracker.page_records(key), info)
            stats = merge_parts(parts, dest, plan, state.id_lo, state.id_hi)
        except (ChunkValidationError, BulkJobFailed):
            tracker.set_job(key, None, None)  # the next attempt starts a new job
            raise
    return stats, info


def _check_counts(rows: int, page_records: int, info: JobInfo) -> None:
    if not rows == page_records == info.records_processed:
        raise ChunkValidationError(f"rows written {rows}, sum of Sforce-NumberOfRecords {page_records}, "
                                   f"job numberRecordsProcessed {info.records_processed}: they must agree")
