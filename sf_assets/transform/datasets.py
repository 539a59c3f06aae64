"""Build the given datasets on one started engine (one Dask client for all); one failure does not stop the others.

Each dataset's result goes to ``<parts_root>/<dataset>/part-*.parquet`` with its final Power BI
schema; ``storage.output.build_version`` turns those parts into a verified version of the output. SQL
errors are reported with the dataset name and the engine's message; transient errors (file
locks, ``database is locked``, lost workers or connections) are retried up to 3 times.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_incrementing

from sf_assets.config.models import DatasetConfig
from sf_assets.storage.deletion import delete_when_free
from sf_assets.transform.engines import SqlRunner
from sf_assets.transform.staged import referenced_tables, staged_tables

if TYPE_CHECKING:  # pandas, which engine_result imports, loads with the engine (transform.engines)
    from sf_assets.transform.engine_result import EngineResult

log = logging.getLogger(__name__)

ATTEMPTS = 3


@dataclass(frozen=True)
class DatasetResult:
    """Outcome of one dataset build; ``result`` is None when it failed."""

    name: str
    engine: str
    seconds: float
    attempts: int
    parts_dir: Path
    result: EngineResult | None = None
    error: str | None = None
    source_rows: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result is not None


@dataclass(frozen=True)
class DatasetsReport:
    """Every dataset's outcome, in config order."""

    results: tuple[DatasetResult, ...]

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.ok]

    def __getitem__(self, name: str) -> DatasetResult:
        return next(r for r in self.results if r.name == name)


def is_transient(exc: BaseException) -> bool:
    """Errors worth another try: I/O, locks, timeouts and lost Dask workers or connections."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    if isinstance(exc, (OSError, TimeoutError)):
        return True
    return type(exc).__name__ in {"KilledWorker", "CommClosedError", "StreamClosedError", "FutureCancelledError"}


def build_datasets(
    datasets: Sequence[DatasetConfig],
    staging_db: Path,
    parts_root: Path,
    runner: SqlRunner,
    *,
    retry_wait_s: float = 1.0,
) -> DatasetsReport:
    """Build each dataset's Parquet parts under ``parts_root/<name>`` with a started engine
    (``transform.engines``: ``dataset_engine(name).start(...)``)."""
    tables = staged_tables(staging_db)
    results = []
    for ds in datasets:
        out_dir = parts_root / ds.name
        run = partial(runner, staging_db, tables, ds.sql, out_dir)
        source_rows = {t: tables[t].rows for t in referenced_tables(ds.sql, tables)}
        results.append(_build_one(ds.name, runner.engine, run, out_dir, source_rows, retry_wait_s))
    report = DatasetsReport(tuple(results))
    log.info(
        "Built %d of %d datasets%s", len(results) - len(report.failed), len(results),
        f"; failed: {', '.join(report.failed)}" if report.failed else "",
    )
    return report


def _build_one(
    name: str, engine: str, run: Callable[[], EngineResult], out_dir: Path,
    source_rows: dict[str, int], retry_wait_s: float,
) -> DatasetResult:
    started = time.perf_counter()
    retrying = Retrying(stop=stop_after_attempt(ATTEMPTS), wait=wait_incrementing(retry_wait_s, retry_wait_s),
                        retry=retry_if_exception(is_transient), before_sleep=partial(_log_retry, name, engine),
                        reraise=True)
    try:
        result = retrying(_fresh_run, run, out_dir)
    except Exception as exc:  # reported per dataset; the others still run
        message = _failure(name, engine, exc)
        log.error(message)
        delete_when_free(out_dir)
        return DatasetResult(name, engine, time.perf_counter() - started, retrying.statistics["attempt_number"],
                             out_dir, error=message, source_rows=source_rows)
    seconds = time.perf_counter() - started
    log.info("Dataset %s: %d rows in %.1f s (%s)", name, result.rows, seconds, engine)
    return DatasetResult(name, engine, seconds, retrying.statistics["attempt_number"], out_dir, result,
                         source_rows=source_rows)


def _fresh_run(run: Callable[[], EngineResult], out_dir: Path) -> EngineResult:
    """One attempt, into an empty parts folder (a failed attempt's parts never mix in)."""
    if not delete_when_free(out_dir):
        raise RuntimeError(f"the parts of an earlier attempt in {out_dir} are open in another program")
    return run()


def _log_retry(name: str, engine: str, state: RetryCallState) -> None:
    assert state.outcome is not None  # tenacity calls before_sleep after a failed attempt
    exc = state.outcome.exception()
    assert exc is not None
    log.warning("%s; retrying (%d/%d)", _failure(name, engine, exc), state.attempt_number, ATTEMPTS)


def _failure(name: str, engine: str, exc: BaseException) -> str:
    return f"Dataset {name!r} failed on {engine}: {type(exc).__name__}: {_first_line(exc)}{_text_hint(exc)}"


def _text_hint(exc: BaseException) -> str:
    """A hint for SQL that treats a text-held value (date, time, decimal over 15 digits) as a number."""
    text = str(exc)
    if (isinstance(exc, TypeError) and "dtype=string" in text) or ("Utf8" in text and "coerce" in text):
        return (" (dates, times and decimals of more than 15 digits are exact text in the engines: "
                "CAST(column AS DOUBLE) to compute or compare with numbers; see docs/VALUES.md)")
    return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else ""
