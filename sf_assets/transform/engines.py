"""The dataset engines by the name `transform.engine` gives them: a new engine is its module plus one line here.

An engine module has `start(config, work_dir, *, trial=False, input_rows=None)`: a context manager that starts the
engine once (a Dask client, nothing for SQLite; `input_rows`, the staged rows its datasets read, lets it start
small for small inputs) and yields a `SqlRunner`, which runs one dataset's SQL over the staged tables
into Parquet parts (`engine_result`). `trial` asks for the smallest in-process start (`sf-assets config check`
runs every dataset's SQL on empty tables). Modules are imported when an engine starts, so a process that never
builds with Dask never imports dask_sql (about 2 s). An unknown name is a configuration error.
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from sf_assets.config import ConfigError, PipelineConfig
from sf_assets.transform.staged import StagedTable

if TYPE_CHECKING:  # pandas, which engine_result imports, loads with the engine (~0.4 s a process otherwise)
    from sf_assets.transform.engine_result import EngineResult


class SqlRunner(Protocol):
    """A started engine: runs one dataset's SQL over the staged tables into Parquet parts under `out_dir`."""

    @property
    def engine(self) -> str:
        """Its name (`transform.engine`)."""
        ...

    def __call__(self, staging_db: Path, tables: dict[str, StagedTable], sql: str, out_dir: Path) -> EngineResult:
        ...


class _EngineModule(Protocol):
    def start(self, config: PipelineConfig, work_dir: Path, *, trial: bool = False, input_rows: int | None = None
              ) -> AbstractContextManager[SqlRunner]:
        ...


@dataclass(frozen=True)
class DatasetEngine:
    """One registered engine: its name in the config, its module, and how the Dagster UI labels its datasets."""

    name: str
    module: str
    kind: str  # the Dagster kind shown under each dataset's lineage node
    label: str  # the engine's name in words

    def start(self, config: PipelineConfig, work_dir: Path, *, trial: bool = False, input_rows: int | None = None
              ) -> AbstractContextManager[SqlRunner]:
        """Start the engine once for any number of datasets (see the module doc)."""
        module = cast(_EngineModule, importlib.import_module(self.module))
        return module.start(config, work_dir, trial=trial, input_rows=input_rows)


ENGINES = {engine.name: engine for engine in (
    DatasetEngine("sqlite", "sf_assets.transform.engine_sqlite", kind="sqlite", label="SQLite"),
    DatasetEngine("dask_sql", "sf_assets.transform.engine_dask", kind="dask", label="Dask-SQL"),
)}


def dataset_engine(name: str) -> DatasetEngine:
    """The engine called `name`; ConfigError (one line naming the key and the known engines) for any other."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ConfigError(f"transform.engine: {name!r} is not a dataset engine (use {' or '.join(ENGINES)})") from None
