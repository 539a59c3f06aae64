"""The Dask client of the dataset builds: an existing scheduler, or a LocalCluster from DaskConfig.

``warm_cluster`` starts the LocalCluster ahead on a background thread (``sf-assets run`` does so
while the objects are staged); ``dask_client`` uses it when one is warm for the same settings.

``processes=True`` (default) gives each worker its own process, so ``memory_limit`` is enforced
by a nanny and pandas work runs in parallel; on Windows worker processes are spawned, which
re-imports the caller's ``__main__``: scripts must create the cluster under
``if __name__ == "__main__":`` (Dagster's run worker and pytest already are such entry points).
``processes=False`` runs the workers as threads of this process: instant start-up and no
``__main__`` requirement, but one GIL and no per-worker memory limit; for small data and tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from distributed import Client, LocalCluster

from sf_assets.config.models import DaskConfig

log = logging.getLogger(__name__)


_WARM: dict[tuple[object, ...], Future[LocalCluster]] = {}


def _start_local_cluster(cfg: DaskConfig, work_dir: Path, processes: bool) -> LocalCluster:
    spill = cfg.spill_dir or work_dir / "dask-spill"
    spill.mkdir(parents=True, exist_ok=True)
    log.info(
        "Starting Dask LocalCluster: %d workers x %d threads, memory_limit=%s, processes=%s, spill=%s",
        cfg.n_workers, cfg.threads_per_worker, cfg.memory_limit, processes, spill,
    )
    return LocalCluster(
        n_workers=cfg.n_workers,
        threads_per_worker=cfg.threads_per_worker,
        memory_limit=cfg.memory_limit,
        local_directory=str(spill),
        processes=processes,
        dashboard_address=None,
        **({"host": "127.0.0.1"} if processes else {}),  # threads talk in-process
    )


def _key(cfg: DaskConfig, work_dir: Path, processes: bool) -> tuple[object, ...]:
    return cfg.model_dump_json(), str(work_dir), processes


@contextmanager
def warm_cluster(cfg: DaskConfig, work_dir: Path) -> Iterator[None]:
    """Start this process's LocalCluster on a background thread now, for ``dask_client`` calls inside the block.

    ``sf-assets run`` wraps the output stage in it: the workers start and import while the objects are
    staged (one core of SQLite work), not after. Nothing starts for the sqlite engine or an external scheduler.
    """
    if cfg.engine != "dask_sql" or cfg.scheduler_address:
        yield
        return
    key = _key(cfg, work_dir, True)
    with ThreadPoolExecutor(1, thread_name_prefix="dask-warm") as starter:
        future = starter.submit(_start_local_cluster, cfg, work_dir, True)
        _WARM[key] = future
        try:
            yield
        finally:
            _WARM.pop(key, None)
            if future.exception() is None:
                future.result().close()


@contextmanager
def dask_client(cfg: DaskConfig, work_dir: Path, *, processes: bool = True, timeout_s: float = 60) -> Iterator[Client]:
    """A Client of ``cfg.scheduler_address``, of this process's warm cluster, or of a new LocalCluster (closed on exit)."""
    if cfg.scheduler_address:
        log.info("Connecting to Dask scheduler %s", cfg.scheduler_address)
        with Client(cfg.scheduler_address, timeout=timeout_s) as client:
            yield client
        return
    warm = _WARM.get(_key(cfg, work_dir, processes))
    if warm is not None and warm.exception() is None:
        with Client(warm.result(), timeout=timeout_s) as client:
            yield client
        return
    if warm is not None:
        log.warning("The Dask cluster started ahead failed (%s); starting one now", warm.exception())
    with _start_local_cluster(cfg, work_dir, processes) as cluster, Client(cluster, timeout=timeout_s) as client:
        yield client
