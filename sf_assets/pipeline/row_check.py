"""The row check of one object in a refresh: every planned Id range extracted whole, and how the org moved.

A live org changes while a refresh runs, so Salesforce's `COUNT()` cannot judge the rows extracted:
each chunk holds the rows its Bulk job saw, and rows inserted or deleted meanwhile move the count
either way. The verdict therefore rests on evidence that a lost row would break (docs/RELIABILITY.md,
"A refresh of a live org"):

- every planned chunk finished, and the chunks' Id ranges cover the Id space without a gap;
- per chunk, the rows in its file = the rows recorded = Σ Sforce-NumberOfRecords of its pages = its
  job's numberRecordsProcessed.

The counts at preflight and now, and the org's change during the refresh (rows created, modified and
deleted since it started), are measured with a fixed few `COUNT()` requests and reported beside it.
"""

from __future__ import annotations

import contextvars
import logging
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.chunk_file import parquet_rows
from sf_assets.extract.refresh import previous_success, refresh_started_at, refresh_status
from sf_assets.extract.tracker import ChunkState, ChunkTracker
from sf_assets.health.causes import describe_error
from sf_assets.pipeline.plan import estimate
from sf_assets.salesforce.counts import Query, count_rows, soql_datetime
from sf_assets.salesforce.errors import RefreshStop
from sf_assets.salesforce.soql import parse_soql
from sf_assets.storage.catalog_cache import cached_describes
from sf_assets.storage.refresh_facts import (
    add_health_warning,
    all_facts,
    get_fact,
    health_sections,
    put_fact,
    put_health,
)

log = logging.getLogger(__name__)
AUDIT_FIELDS = ("CreatedDate", "SystemModstamp", "IsDeleted")


@dataclass(frozen=True)
class OrgChange:
    """Rows of the object's SOQL created, modified (not created) and deleted since `since` (None: not measurable)."""

    since: str
    created: int | None
    modified: int | None
    deleted: int | None
    estimate: bool

    def describe(self) -> str:
        """`since …: 12 created, 30 modified, 4 deleted` (and why it is an estimate)."""
        counts = [f"{value:,} {label}" for label, value in
                  (("created", self.created), ("modified", self.modified), ("deleted", self.deleted))
                  if value is not None]
        text = f"since {self.since}: {', '.join(counts) or 'not measurable'}"
        return text + (" (an estimate: the SOQL filters, and a change can move a row across its WHERE)"
                       if self.estimate else "")


@dataclass(frozen=True)
class RowCheck:
    """The verdict of one object's row check; `problems` name chunk and numbers of each piece of lost evidence."""

    object_name: str
    refresh_id: str
    rows: int
    chunks: int
    done: int
    count_before: int | None
    count_now: int | None
    change: OrgChange | None
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Every chunk extracted whole and the ranges without a gap."""
        return not self.problems

    def describe(self) -> str:
        """One line for the console, the UI and the health JSON."""
        counts = (f"Salesforce counted {_number(self.count_before)} at preflight, {_number(self.count_now)} now"
                  + (f"; changes {self.change.describe()}" if self.change else ""))
        if self.problems:
            more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
            return f"{self.object_name}: {self.problems[0]}{more}; {self.rows:,} rows in {self.done} of " \
                   f"{self.chunks} chunks; {counts}"
        return (f"{self.object_name}: {self.rows:,} rows in {self.done} of {self.chunks} chunks, each complete "
                f"(file = pages = job) and the Id ranges gap-free; {counts}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (health JSON, refresh facts)."""
        data = asdict(self)
        data.update(passed=self.passed, line=self.describe(), problems=list(self.problems))
        return data


def _number(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _range(state: ChunkState) -> str:
    return f"[{state.id_lo or '-inf'}, {state.id_hi or '+inf'})"


def gap_problems(states: Sequence[ChunkState]) -> list[str]:
    """Where the chunks' Id ranges leave a gap (or overlap): the ranges must run from -inf to +inf without a seam."""
    ordered = sorted(states, key=lambda s: (s.id_lo is not None, s.id_lo or ""))
    problems = []
    if ordered and ordered[0].id_lo is not None:
        problems.append(f"chunk {ordered[0].key.chunk_id} {_range(ordered[0])} leaves out the Ids below it")
    if ordered and ordered[-1].id_hi is not None:
        problems.append(f"chunk {ordered[-1].key.chunk_id} {_range(ordered[-1])} leaves out the Ids above it")
    for before, after in zip(ordered, ordered[1:]):
        if before.id_hi != after.id_lo:
            problems.append(f"gap between chunk {before.key.chunk_id} {_range(before)} and chunk "
                            f"{after.key.chunk_id} {_range(after)}")
    return problems


def chunk_problems(state: ChunkState, page_records: int, *, require_file: bool = True) -> list[str]:
    """What is wrong with one chunk's evidence: not finished, or file, tracker, pages and job disagree.

    `require_file=False` once the refresh finished (its chunk files are removed then): the recorded figures remain.
    """
    name = f"chunk {state.key.chunk_id}"
    if state.status != "success":
        return [f"{name} {state.status}" + (f": {state.error}" if state.error else "")]
    path = Path(state.file_path) if state.file_path else None
    in_file = parquet_rows([path]) if path is not None and path.is_file() else None
    if in_file is None and require_file:
        return [f"{name}: its file {state.file_path} is missing ({state.rows or 0:,} rows recorded)"]
    figures = {"file": in_file, "recorded": state.rows, "Σ Sforce-NumberOfRecords": page_records,
               "job numberRecordsProcessed": state.job_records}
    known = {label: value for label, value in figures.items() if value is not None}
    if len(set(known.values())) > 1:
        return [f"{name}: " + ", ".join(f"{label} {value:,} rows" for label, value in known.items())]
    return []


def _audit_fields(conn: sqlite3.Connection, object_name: str) -> set[str]:
    for doc in cached_describes(conn):
        if str(doc.get("name", "")).lower() == object_name.lower():
            return {f["name"] for f in doc.get("fields", []) if f.get("name") in AUDIT_FIELDS}
    return set(AUDIT_FIELDS)  # not cached: try them all, a refusal only leaves the figure unknown


def _change_counts(stamp: str, fields: set[str]) -> dict[str, tuple[list[str], bool]]:
    """The COUNT() requests (extra WHERE terms, include deleted) measuring the change since `stamp`, by label."""
    counts: dict[str, tuple[list[str], bool]] = {}
    if "CreatedDate" in fields:
        counts["created"] = ([f"CreatedDate >= {stamp}"], False)
    if {"CreatedDate", "SystemModstamp"} <= fields:
        counts["modified"] = ([f"SystemModstamp >= {stamp}", f"CreatedDate < {stamp}"], False)
    if {"IsDeleted", "SystemModstamp"} <= fields:
        counts["deleted"] = (["IsDeleted = true", f"SystemModstamp >= {stamp}"], True)
    return counts


def _counts_at_once(query: Query, config: PipelineConfig, obj: ObjectConfig,
                    requests: dict[str, tuple[list[str], bool]]) -> dict[str, int | None]:
    """The object's COUNT() requests on threads at once (a far-away org makes each a round trip, a large object
    seconds of Salesforce's time); a count that fails is None, logged; a refresh stop is raised."""
    parsed = parse_soql(obj.soql)

    def count(extra: list[str], include_deleted: bool) -> int | None:
        try:
            return count_rows(query, parsed.object_name, parsed.where, config.retry, include_deleted=include_deleted,
                              extra=extra)
        except RefreshStop:  # a daily limit or an expired token: no further request
            raise
        except Exception as exc:  # the counts inform; they never fail the refresh
            log.warning("Could not count %s for its row check: %s", obj.name, describe_error(exc))
            return None

    with ThreadPoolExecutor(max_workers=max(1, len(requests)), thread_name_prefix=f"count-{obj.name}") as pool:
        futures = {label: pool.submit(contextvars.copy_context().run, count, extra, deleted)
                   for label, (extra, deleted) in requests.items()}
        return {label: future.result() for label, future in futures.items()}


def evaluate_row_check(conn: sqlite3.Connection, config: PipelineConfig, obj: ObjectConfig, refresh_id: str,
                       query: Query) -> RowCheck:
    """Evaluate, store (staging refuses a failed one) and report the object's row check for the refresh."""
    tracker = ChunkTracker(conn)
    states = tracker.chunks(refresh_id, obj.name)
    files_kept = refresh_status(conn, refresh_id) != "success"
    problems = [] if states else ["no chunk is planned: materialize chunk_plans or the whole graph"]
    problems += gap_problems(states)
    for state in states:
        problems += chunk_problems(state, tracker.page_records(state.key), require_file=files_kept)
    started = refresh_started_at(conn, refresh_id)
    stamp = soql_datetime(started) if started else None
    requests = {"now": ([], obj.query_all),
                **(_change_counts(stamp, _audit_fields(conn, obj.name)) if stamp else {})}
    counts = _counts_at_once(query, config, obj, requests)
    change = OrgChange(stamp, counts.get("created"), counts.get("modified"), counts.get("deleted"),
                       estimate=parse_soql(obj.soql).where is not None) if stamp else None
    done = [s for s in states if s.status == "success"]
    check = RowCheck(obj.name, refresh_id, sum(s.rows or 0 for s in done), len(states), len(done),
                     estimate(conn, refresh_id, obj.name), counts["now"], change, tuple(problems))
    put_fact(conn, refresh_id, f"row_check:{obj.name}", {"passed": check.passed, "line": check.describe()})
    put_health(conn, refresh_id, "row_checks", check.to_dict(), obj.name)
    (log.info if check.passed else log.error)("Row check of %s %s: %s", obj.name,
                                              "passed" if check.passed else "FAILED", check.describe())
    return check


def stored_row_check(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> dict | None:
    """The last stored row-check verdict of the object in the refresh ({passed, line}), if any."""
    return get_fact(conn, refresh_id, f"row_check:{object_name}")


def row_check_lines(conn: sqlite3.Connection, refresh_id: str) -> dict[str, str]:
    """Per object, `passed: <figures>` or `FAILED: <problem and figures>` of its last row check in the refresh."""
    checks = health_sections(all_facts(conn, refresh_id))[0].get("row_checks", {})
    return {name: f"{'passed' if c['passed'] else 'FAILED'}: {c['line'].removeprefix(name + ': ')}"
            for name, c in checks.items()}


@dataclass(frozen=True)
class RowDrop:
    """Rows extracted now against the object's last successful refresh."""

    object_name: str
    rows: int
    previous_rows: int | None
    previous_refresh: str | None
    threshold_pct: float

    @property
    def drop_pct(self) -> float | None:
        """How far the rows fell, in % of the previous refresh's (None without a previous one)."""
        if not self.previous_rows:
            return None
        return 100.0 * (self.previous_rows - self.rows) / self.previous_rows

    @property
    def passed(self) -> bool:
        """False when the rows fell by more than the threshold."""
        return self.drop_pct is None or self.drop_pct <= self.threshold_pct

    def describe(self) -> str:
        """One line naming both counts."""
        if self.previous_rows is None:
            return f"{self.object_name}: {self.rows:,} rows; no earlier successful refresh to compare with"
        line = (f"{self.object_name}: {self.rows:,} rows now, {self.previous_rows:,} in the last successful refresh "
                f"{self.previous_refresh}")
        if self.passed:
            return line + f" (a drop of at most {self.threshold_pct:g} % is normal)"
        return (line + f": {self.drop_pct:.1f} % fewer (more than {self.threshold_pct:g} %). Deletions, a sharing "
                "or permission change of the integration user, or the object's filter can hide rows")


def evaluate_row_drop(conn: sqlite3.Connection, obj: ObjectConfig, refresh_id: str, threshold_pct: float) -> RowDrop:
    """Compare the object's extracted rows with its last successful refresh; a sharp drop is warned."""
    tracker = ChunkTracker(conn)
    rows = sum(s.rows or 0 for s in tracker.chunks(refresh_id, obj.name) if s.status == "success")
    previous = previous_success(conn, refresh_id)
    before = [s for s in tracker.chunks(previous, obj.name) if s.status == "success"] if previous else []
    previous_rows = sum(s.rows or 0 for s in before) if before else None
    drop = RowDrop(obj.name, rows, previous_rows, previous if before else None, threshold_pct)
    if not drop.passed:
        log.warning("Row drop of %s: %s", obj.name, drop.describe())
        add_health_warning(conn, refresh_id, f"row_drop:{obj.name}", drop.describe())
    return drop
