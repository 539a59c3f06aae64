"""The parallel dataset engine: Dask-SQL over the staged tables, each result partition written by its worker.

Tables are registered under their object names; the SQL runs with
``sql.identifier.case_sensitive = False`` so the natural, unquoted SQL of the config
(``FROM Opportunity o ... o.AccountId``) resolves (dask-sql 2024.5 lower-cases unquoted
identifiers and would not find ``AccountId`` otherwise). The result's names are restored
(``result_schema.natural_names``) and its Power BI schema is fixed from the meta before any
partition runs; nothing collects the result into one process.

Staged columns are Arrow-backed strings where SQLite holds text (``dask_input``); dask-sql
2024.5 maps only python-backed strings to VARCHAR, so ``string[pyarrow]`` is registered as
VARCHAR too (its operators are pandas string operations, which work on both storages), through
``dask_sql_internals``, the one module that touches dask-sql's private names.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import dask
import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
from dask_sql import Context
from distributed import Client

from sf_assets.config import PipelineConfig
from sf_assets.config.models import DaskConfig
from sf_assets.storage.output_consolidate import PartFormat
from sf_assets.transform.cluster import CLOSING_THREAD, dask_client
from sf_assets.transform.dask_input import Source, dask_table
from sf_assets.transform.dask_sql_internals import register_arrow_strings_as_varchar
from sf_assets.transform.engine_result import EngineResult, part_path, write_part
from sf_assets.transform.result_schema import declared_types, natural_names, output_schema
from sf_assets.transform.staged import StagedTable, referenced_tables

SQL_CONFIG = {"sql.identifier.case_sensitive": False}
TRIAL_DASK = DaskConfig(n_workers=1, threads_per_worker=1)  # `config check`: SQL on empty tables, in this process
register_arrow_strings_as_varchar()

_ClusterKey = tuple[str, str, bool]  # the Dask config, the work folder, worker processes or threads
_ready: dict[_ClusterKey, tuple[ExitStack, Client]] = {}  # started by warm_up, taken by start
_ready_lock = threading.Lock()


def _cluster_key(config: PipelineConfig, work_dir: Path, processes: bool) -> _ClusterKey:
    return config.dask.model_dump_json(), str(work_dir.absolute()), processes


def warm_up(config: PipelineConfig, work_dir: Path, input_rows: int | None) -> None:
    """Start the LocalCluster that `start` will ask for with `input_rows` (called on a background thread while the
    staging runs: worker processes take 2-3 s to spawn and import pandas); nothing for a remote scheduler. One
    that `start` does not take (other parameters) is closed when `start` runs; one never asked for at exit."""
    if config.dask.scheduler_address:
        return
    key = _cluster_key(config, work_dir, config.dask.worker_processes(input_rows))
    stack = ExitStack()
    client = stack.enter_context(dask_client(config.dask, work_dir, processes=key[2], close_in_background=True))
    with _ready_lock:
        previous = _ready.pop(key, None)
        _ready[key] = (stack, client)
    if previous is not None:
        previous[0].close()


@atexit.register
def _close_unused() -> None:
    with _ready_lock:
        unused = list(_ready.values())
        _ready.clear()
    for stack, _ in unused:
        stack.close()
    for thread in threading.enumerate():  # started after the interpreter joined its threads: wait here
        if thread.name == CLOSING_THREAD:
            thread.join(timeout=30)


@dataclass(frozen=True)
class DaskSqlRunner:
    """The Dask-SQL engine on a started client: one dataset's SQL per call."""

    client: Client
    decimals_as_float: bool = False
    source: Source = "auto"
    part_format: PartFormat | None = None
    engine: ClassVar[str] = "dask_sql"

    def __call__(self, staging_db: Path, tables: dict[str, StagedTable], sql: str, out_dir: Path) -> EngineResult:
        """Run `sql` with Dask-SQL into one Parquet part per result partition under `out_dir`."""
        return run_dask_sql(self.client, staging_db, tables, sql, out_dir, source=self.source,
                            decimals_as_float=self.decimals_as_float, part_format=self.part_format)


@contextmanager
def start(config: PipelineConfig, work_dir: Path, *, trial: bool = False,
          input_rows: int | None = None) -> Iterator[DaskSqlRunner]:
    """The engine of `transform.engine: dask_sql` (`transform.engines`): a client of `config.dask`'s scheduler or
    LocalCluster (the one `warm_up` started, if it matches), the cluster closed on a thread of its own, its workers
    threads of this process when the datasets read fewer than `dask.in_process_below_rows` staged rows; `trial`:
    one worker thread in this process."""
    processes = config.dask.worker_processes(input_rows)
    with _ready_lock:
        ready = None if trial else _ready.pop(_cluster_key(config, work_dir, processes), None)
        stale = list(_ready.values())
        _ready.clear()
    for stack, _ in stale:
        stack.close()
    if ready is not None:
        stack, client = ready
    else:
        stack = ExitStack()
        client = stack.enter_context(dask_client(TRIAL_DASK if trial else config.dask, work_dir,
                                                 processes=processes and not trial, close_in_background=True))
    try:  # parts written as the consolidated file is: a one-part result is that file
        yield DaskSqlRunner(client, config.output.decimals_as_float, part_format=PartFormat.of(config.output))
    finally:
        stack.close()  # the client now; its LocalCluster on a thread of its own


def engine_types(dtypes: pd.Series) -> list[pa.DataType]:
    """Arrow types of a result's column dtypes (object columns of unknown content: string)."""
    types = []
    for dtype in dtypes:
        try:
            empty = pd.DataFrame({"column": pd.Series([], dtype=dtype)})
            types.append(pa.Schema.from_pandas(empty, preserve_index=False).field(0).type)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            types.append(pa.string())
    return types


def run_dask_sql(
    client: Client,
    staging_db: Path,
    tables: dict[str, StagedTable],
    sql: str,
    out_dir: Path,
    *,
    source: Source = "auto",
    decimals_as_float: bool = False,
    part_format: PartFormat | None = None,
) -> EngineResult:
    """Run ``sql`` with Dask-SQL on ``client``; one Parquet part per result partition (in ``part_format``)."""
    context = Context()
    for name in referenced_tables(sql, tables):
        context.create_table(name, dask_table(tables[name], staging_db, source))
    result: dd.DataFrame = context.sql(sql, config_options=SQL_CONFIG)
    names = natural_names(list(result.columns), sql, tables)
    result = result.rename(columns=dict(zip(result.columns, names)))
    schema = output_schema(names, engine_types(result.dtypes), declared_types(staging_db, sql), decimals_as_float)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [part_path(out_dir, i) for i in range(result.npartitions)]
    writes = [
        dask.delayed(write_part)(frame, str(path), schema, part_format)
        for frame, path in zip(result.to_delayed(), parts)
    ]
    counts = client.gather(client.compute(writes))
    return EngineResult(int(sum(counts)), schema, tuple(parts), part_format)
