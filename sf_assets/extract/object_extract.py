"""Extract every planned chunk of one object: at most max_concurrent_jobs Bulk jobs being processed at once.

Chunks run on a small thread pool; the governor's job slots bound the jobs being processed (1 when throttled),
and as many more threads download the pages of jobs already processed.
A failed chunk does not stop the others; an interrupt (KeyboardInterrupt, run termination)
cancels the governor so that every worker aborts its open job at its next check. A `RefreshStop`
(a daily limit, an expired access token) stops the governor the same way and is raised once every
worker has stopped: no other chunk starts a request.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from sf_assets.extract.chunk_extract import ChunkResult, ExtractContext, extract_chunk
from sf_assets.extract.tracker import ChunkKey
from sf_assets.health.causes import describe_error
from sf_assets.observability.logs import log_context
from sf_assets.salesforce.errors import RefreshStop
from sf_assets.schema.field_plan import FieldPlan

log = logging.getLogger(__name__)
OnResult = Callable[[str, "ChunkResult | Exception"], None]


@dataclass
class ObjectResult:
    """Per-chunk results and failures (chunk id → cause) of one object."""

    object_name: str
    results: dict[str, ChunkResult] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows in the object's chunk files (skipped chunks included)."""
        return sum(r.rows for r in self.results.values())


def extract_object(ctx: ExtractContext, plan: FieldPlan, *, query_all: bool = False,
                   chunk_ids: Sequence[str] | None = None, on_result: OnResult | None = None) -> ObjectResult:
    """Extract the object's chunks (all planned ones by default); `on_result` is called per chunk as it ends."""
    with log_context(refresh_id=ctx.refresh_id, object=plan.object_name):
        return _extract_object(ctx, plan, query_all, chunk_ids, on_result)


def _extract_object(ctx: ExtractContext, plan: FieldPlan, query_all: bool, chunk_ids: Sequence[str] | None,
                    on_result: OnResult | None) -> ObjectResult:
    ids = list(chunk_ids) if chunk_ids is not None else [
        s.key.chunk_id for s in ctx.tracker.chunks(ctx.refresh_id, plan.object_name)]
    outcome = ObjectResult(plan.object_name)
    stop: RefreshStop | None = None
    if not ids:
        return outcome
    governor = ctx.client.governor
    # A job holds its slot only until Salesforce has processed it (`chunk_extract`): one more thread per slot
    # downloads a processed job's pages while the next job is created and processed.
    workers = min(2 * governor.max_concurrent_jobs, len(ids))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"extract-{plan.object_name}")
    try:
        futures: dict[Future[ChunkResult], str] = {
            pool.submit(
                contextvars.copy_context().run, extract_chunk, ctx, plan, chunk_id, query_all=query_all
            ): chunk_id
            for chunk_id in ids
        }
        for future in as_completed(futures):
            chunk_id = futures[future]
            if future.cancelled():  # never started: a RefreshStop came first
                continue
            result: ChunkResult | Exception
            try:
                result = future.result()
            except Exception as exc:  # recorded in the tracker by extract_chunk; other chunks go on
                result = exc
                outcome.failures[chunk_id] = ctx.tracker.get(  # extract_chunk recorded its cause and attempts
                    ChunkKey(ctx.refresh_id, plan.object_name, chunk_id)).error or describe_error(exc)
                if isinstance(exc, RefreshStop) and stop is None:
                    stop = exc
                    for queued in futures:
                        queued.cancel()
            else:
                outcome.results[chunk_id] = future.result()
            if on_result is not None:
                on_result(chunk_id, result)
    except BaseException:
        governor.cancel(f"extraction of {plan.object_name} interrupted")
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if stop is not None:
        log.error("Extraction of %s stopped with %d of %d chunk(s) done", plan.object_name, len(outcome.results),
                  len(ids))
        raise stop
    outcome.results = dict(sorted(outcome.results.items()))
    outcome.failures = dict(sorted(outcome.failures.items()))
    log.info(
        "Extracted %s: %d chunk(s) done (%d skipped), %d failed, %d rows",
        plan.object_name,
        len(outcome.results),
        sum(r.skipped for r in outcome.results.values()),
        len(outcome.failures),
        outcome.rows,
    )
    return outcome
