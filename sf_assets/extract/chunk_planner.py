"""Chunk planning: split an object's Id space into contiguous ranges of about `chunk_size` rows.

Bulk API 2.0 has no PK chunking, so the Id distribution is read once, cheaply:

* estimate ≤ chunk_size → one chunk, both ends open; no API call at all.
* otherwise ONE Bulk query job ``SELECT Id FROM <object> [WHERE <the object's WHERE>]`` (queryAll
  when the object uses it, so the counts match what extraction fetches), whose pages
  (`ID_PAGE_RECORDS` Ids each) are streamed through a bottom-k sample: every Id
  gets a random priority and only the `SAMPLE_SIZE` lowest-priority Ids are kept. The sample does
  not care about result order (Bulk results are not guaranteed sorted, and ``ORDER BY Id`` makes
  Salesforce sort the whole object, slow on huge ones). Boundaries are the sample's quantiles at
  ranks k·chunk_size: EXACT for objects up to SAMPLE_SIZE rows (the sample is every Id); above
  that a chunk's relative error has a standard deviation of ~1/sqrt(SAMPLE_SIZE·chunk_size/rows)
  (2 % at 10 M rows with 100 k chunks, 7 % at 100 M). Memory: at most 2·SAMPLE_SIZE Ids plus one
  page of Ids, whatever the object's size (peak RSS +85 MB at 2 M rows, +100 MB at 4.9 M).
* API cost: 1 Bulk job (of the 10,000 per rolling 24 h) = 1 create + its status polls + ceil(rows /
  ID_PAGE_RECORDS) page requests, and ~21 bytes per row of the daily results storage. Measured on
  the emulator (default polling, chunk_size 100 k): 2,440 rows → 4 requests (create, 2 polls,
  1 page); 1,959,863 rows → 13 requests (create, 2 polls, 10 pages) in 3.0 s, chunks of 98.3 k to
  101.4 k rows; 4,899,771 rows → 28 requests in 4.1 s, chunks of 96.3 k to 102.8 k rows. A real
  org needs more polls for a big job (1 s doubling to 30 s: ~12 polls for a 5-minute job).

The first range is open below and the last open above, so rows created after planning still land
in a chunk. Plans are stored in the job tracker (`chunks`, status queued); planning a refresh
and object that already has a plan returns the stored plan (resume).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sf_assets.extract.page_writer import ShortPageError, page_batches
from sf_assets.extract.tracker import ChunkRange, ChunkTracker
from sf_assets.observability.logs import log_context
from sf_assets.salesforce.bulk2 import BulkClient, QueryJob, open_query_job, retry_call
from sf_assets.salesforce.retry import note_progress, one_attempt_sequence
from sf_assets.salesforce.soql import plan_soql
from sf_assets.schema.field_plan import FieldPlan

log = logging.getLogger(__name__)
SAMPLE_SIZE = 200_000
EMPTY_TAIL_ID = "zzzzzzzzzzzzzzzzzz"  # above every Id (base-62 in ASCII order): ranges [it, it) are empty
ID_PAGE_RECORDS = 1_000_000
MAX_CHUNKS = 9_999  # chunk ids c0001…c9999 sort as text; c10000 would sort before c1001 (wrong partition ranges)


class TooManyChunks(ValueError):
    """A plan would need more chunks than chunk ids sort correctly: the object's chunk_size must be raised."""


@dataclass(frozen=True)
class ChunkPlan:
    """The ranges of one object; `method` is single, id_scan or stored; `api_requests` the client sent meanwhile.

    `ideal_chunks` is how many chunks of ~chunk_size rows the object needs (the key count for the next refresh).
    """

    object_name: str
    ranges: tuple[ChunkRange, ...]
    method: str
    rows_counted: int | None = None
    api_requests: int = 0
    ideal_chunks: int | None = None


class IdSample:
    """Bottom-k sample of a stream of Ids (uniform, order-independent) plus the exact count."""

    def __init__(self, size: int = SAMPLE_SIZE, seed: int = 0) -> None:
        self.size = size
        self.count = 0
        self._rng = np.random.default_rng(seed)
        self._ids: list[pa.Array] = []
        self._priorities: list[np.ndarray] = []
        self._held = 0

    def add(self, ids: pa.Array) -> None:
        """Offer a batch of Ids."""
        self.count += len(ids)
        self._ids.append(ids)
        self._priorities.append(self._rng.random(len(ids)))
        self._held += len(ids)
        if self._held > 2 * self.size:
            self._shrink()

    def _shrink(self) -> None:
        ids, priorities = pa.concat_arrays(self._ids), np.concatenate(self._priorities)
        if len(ids) > self.size:
            keep = np.argpartition(priorities, self.size - 1)[: self.size]
            ids, priorities = ids.take(pa.array(keep)), priorities[keep]
        self._ids, self._priorities, self._held = [ids], [priorities], len(ids)

    def boundaries(self, chunk_size: int) -> list[str]:
        """Ids at ranks chunk_size, 2·chunk_size, … (strictly increasing, fewer than count)."""
        if self.count <= chunk_size:
            return []
        ordered = self._ordered()
        out: list[str] = []
        for k in range(1, math.ceil(self.count / chunk_size)):
            position = min(len(ordered) - 1, (k * chunk_size * len(ordered)) // self.count)
            value = ordered[position].as_py()
            if not out or value > out[-1]:
                out.append(value)
        return out

    def split(self, parts: int) -> list[str]:
        """Exactly `parts - 1` non-decreasing Ids cutting the sample into `parts` near-equal ranges.

        With fewer Ids than parts, the last boundary repeats: the surplus ranges are empty ([b, b)).
        """
        ordered = self._ordered()
        if len(ordered) == 0:
            return []
        out: list[str] = []
        for k in range(1, parts):
            value = ordered[min(len(ordered) - 1, (k * len(ordered)) // parts)].as_py()
            out.append(value if not out or value > out[-1] else out[-1])
        return out

    def _ordered(self) -> pa.Array:
        self._shrink()
        return self._ids[0].take(pc.array_sort_indices(self._ids[0])) if self._ids else pa.array([], pa.string())


def chunk_id(position: int) -> str:
    """The stable id (and Dagster partition key) of the chunk at 1-based `position`: c0001, c0002, … (plans stop at
    MAX_CHUNKS, so the keys sort as text in chunk order)."""
    return f"c{position:04d}"


def ranges_from_boundaries(boundaries: list[str], count: int | None = None) -> tuple[ChunkRange, ...]:
    """c0001 [None, b1), c0002 [b1, b2), …, last [bn, None); empty ranges [b, b) where boundaries repeat."""
    edges: list[str | None] = [None, *boundaries, None]
    ranges = tuple(ChunkRange(chunk_id(i + 1), lo, hi) for i, (lo, hi) in enumerate(zip(edges, edges[1:])))
    assert count is None or len(ranges) == count, (len(ranges), count)
    return ranges


def id_only_plan(plan: FieldPlan) -> FieldPlan:
    """The object's plan reduced to its Id column (same object and WHERE)."""
    return dataclasses.replace(plan, columns=tuple(c for c in plan.columns if c.name == "Id"))


def scan_ids(
    client: BulkClient, plan: FieldPlan, *, query_all: bool = False, label: str = "Bulk API Id scan"
) -> IdSample:
    """Stream every Id of the object (one Bulk job) into a sample; a page is added only once complete."""
    ids_plan = id_only_plan(plan)
    sample = IdSample()

    def fetch(job: QueryJob, locator: str | None) -> tuple[list[pa.Array], str | None]:
        with job.results_page(locator, ID_PAGE_RECORDS) as page:
            arrays = [batch.column(0) for batch in page_batches(page, ids_plan)]
            if sum(len(a) for a in arrays) != page.records:
                raise ShortPageError(f"Id page has {sum(len(a) for a in arrays)} rows, expected {page.records}")
            return arrays, page.next_locator

    with (
        client.governor.job_slot(),
        open_query_job(client, plan_soql(ids_plan), query_all=query_all, label=label) as job,
    ):
        job.wait()
        locator: str | None = None
        page = 0
        while True:
            arrays, locator = retry_call(partial(fetch, job, locator), label, client.retry, sleep=client.sleep)
            page += 1
            note_progress(page, f"Id page {page + 1}")
            for array in arrays:
                sample.add(array)
            if locator is None:
                return sample


def plan_chunks(client: BulkClient, tracker: ChunkTracker, plan: FieldPlan, refresh_id: str, *, chunk_size: int,
                estimate: int | None = None, query_all: bool = False, chunk_count: int | None = None) -> ChunkPlan:
    """The chunk plan of `plan.object_name` in `refresh_id`: stored if planned before, else computed and stored.

    `chunk_count` fixes the number of ranges (the chunk partition keys a backfill was launched with);
    without it the object gets ~chunk_size-row ranges.
    """
    with log_context(refresh_id=refresh_id, object=plan.object_name):
        return _plan_chunks(client, tracker, plan, refresh_id, chunk_size, estimate, query_all, chunk_count)


def _plan_chunks(client: BulkClient, tracker: ChunkTracker, plan: FieldPlan, refresh_id: str, chunk_size: int,
                 estimate: int | None, query_all: bool, chunk_count: int | None) -> ChunkPlan:
    stored = tracker.chunks(refresh_id, plan.object_name)
    if stored:
        return ChunkPlan(
            plan.object_name, tuple(ChunkRange(s.key.chunk_id, s.id_lo, s.id_hi) for s in stored), "stored"
        )
    if estimate is not None:
        _refuse_too_many(plan.object_name, estimate, chunk_size)  # before the Id scan: it would be a wasted job
    small = estimate is not None and estimate <= chunk_size
    if chunk_count == 1 or (chunk_count is None and small):
        ideal = max(1, math.ceil((estimate or 0) / chunk_size))
        result = ChunkPlan(plan.object_name, ranges_from_boundaries([]), "single", estimate, ideal_chunks=ideal)
    else:
        sent_before = client.requests_sent
        label = f"Bulk API Id scan of {plan.object_name}"
        with one_attempt_sequence(client.retry.attempts):  # the job, its pages and calls: one "Attempt n of N"
            sample = retry_call(lambda: scan_ids(client, plan, query_all=query_all, label=label), label, client.retry,
                                sleep=client.sleep)  # a Failed job: a new job
        cuts = sample.boundaries(chunk_size) if chunk_count is None else sample.split(chunk_count)
        if chunk_count is not None and len(cuts) < chunk_count - 1:  # an empty object: the first range takes all
            cuts = [EMPTY_TAIL_ID] * (chunk_count - 1)
        result = ChunkPlan(plan.object_name, ranges_from_boundaries(cuts, chunk_count), "id_scan", sample.count,
                           client.requests_sent - sent_before, max(1, math.ceil(sample.count / chunk_size)))
    _refuse_too_many(plan.object_name, result.rows_counted or 0, chunk_size, len(result.ranges))
    tracker.add_plan(refresh_id, plan.object_name, result.ranges)
    log.info("Planned %d chunk(s) of %s (%s, %s rows counted, %d API requests)", len(result.ranges),
             plan.object_name, result.method, result.rows_counted, result.api_requests)
    return result


def _refuse_too_many(object_name: str, rows: int, chunk_size: int, chunks: int = 0) -> None:
    """Raise TooManyChunks when `rows` in chunks of `chunk_size` (or `chunks` ranges) pass MAX_CHUNKS."""
    chunks = max(chunks, math.ceil(rows / chunk_size))
    if chunks > MAX_CHUNKS:
        raise TooManyChunks(
            f"{object_name}: {rows:,} rows in chunks of {chunk_size:,} make {chunks:,} chunks, more than the "
            f"{MAX_CHUNKS:,} a refresh supports; raise its chunk_size (objects[].chunk_size or "
            f"extraction.chunk_size) to at least {math.ceil(rows / MAX_CHUNKS):,}")
