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

from collections.abc import Iterator
from contextlib import contextmanager
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
from sf_assets.transform.cluster import dask_client
from sf_assets.transform.dask_input import Source, dask_table
from sf_assets.transform.dask_sql_internals import register_arrow_strings_as_varchar
from sf_assets.transform.engine_result import EngineResult, part_path, write_part
from sf_assets.transform.result_schema import declared_types, natural_names, output_schema
from sf_assets.transform.staged import StagedTable, referenced_tables

SQL_CONFIG = {"sql.identifier.case_sensitive": False}
TRIAL_DASK = DaskConfig(n_workers=1, threads_per_worker=1)  # `config check`: SQL on empty tables, in this process
register_arrow_strings_as_varchar()


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
    LocalCluster, closed on exit, its workers threads of this process when the datasets read fewer than
    `dask.in_process_below_rows` staged rows; `trial`: one worker thread in this process."""
    if trial:
        client_of = dask_client(TRIAL_DASK, work_dir, processes=False)
    else:
        client_of = dask_client(config.dask, work_dir, processes=config.dask.worker_processes(input_rows))
    out = config.output
    with client_of as client:  # parts written as the consolidated file is: a one-part result is that file
        yield DaskSqlRunner(client, out.decimals_as_float,
                            part_format=PartFormat(out.compression, out.parquet_profile, out.row_group_rows))


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
