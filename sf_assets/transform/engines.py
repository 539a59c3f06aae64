"""The dataset engines by the name `transform.engine` gives them: a new engine is its module plus one line here.

An engine module has `start(config, work_dir, *, trial=False, input_rows=None)`: a context manager that starts the
engine once (a Dask client, nothing for SQLite; `input_rows`, the staged rows its datasets read, lets it start
small for small inputs) and yields a `SqlRunner`, which runs one dataset's SQL over the staged tables
into Parquet parts (`engine_result`). `trial` asks for the smallest in-process start (`sf-assets config check`
runs every dataset's SQL on empty tables). Modules are imported when an engine starts, so a process that never
builds with Dask never imports dask_sql (about 2 s). `warm_up` does the import, and what the module's own
`warm_up(config, work_dir, input_rows)` prepares (Dask: the LocalCluster, 2.5 s), on a background thread while
the staging runs; `start` waits for it and uses what is ready. An unknown name is a configuration error.
"""

from __future__ import annotations

import importlib
import logging
import threading
from contextlib import AbstractContextManager
from contextvars import copy_context
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from sf_assets.config import ConfigError, PipelineConfig
from sf_assets.transform.staged import StagedTable

if TYPE_CHECKING:  # pandas, which engine_result imports, loads with the engine (~0.4 s a process otherwise)
    from sf_assets.transform.engine_result import EngineResult

log = logging.getLogger(__name__)
_warming: dict[str, threading.Thread] = {}  # engine name -> its warm-up thread, taken by `start`
_warming_lock = threading.Lock()


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
        with _warming_lock:
            warming = _warming.pop(self.name, None)
        if warming is not None:
            warming.join()
        module = cast(_EngineModule, importlib.import_module(self.module))
        return module.start(config, work_dir, trial=trial, input_rows=input_rows)

    def warm_up(self, config: PipelineConfig, work_dir: Path, input_rows: int | None) -> None:
        """Import the engine and let it prepare its start for `input_rows` on a background thread (see the module
        doc); a second call before `start` does nothing."""
        with _warming_lock:
            if self.name in _warming:
                return
            thread = threading.Thread(target=copy_context().run, args=(self._warm_up, config, work_dir, input_rows),
                                      name=f"warm-up-{self.name}", daemon=True)
            _warming[self.name] = thread
        thread.start()

    def _warm_up(self, config: PipelineConfig, work_dir: Path, input_rows: int | None) -> None:
        try:
            prepare = getattr(importlib.import_module(self.module), "warm_up", None)
            if prepare is not None:
                prepare(config, work_dir, input_rows)
        except Exception as exc:  # only time is lost: `start` starts the engine itself
            log.info("The %s engine did not warm up (it starts when the datasets are built): %s", self.label, exc)


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
