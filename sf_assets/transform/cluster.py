"""The Dask client of the dataset builds: an existing scheduler, or a LocalCluster from DaskConfig.

``processes=True`` (default) gives each worker its own process, so ``memory_limit`` is enforced
by a nanny and pandas work runs in parallel; on Windows worker processes are spawned, which
re-imports the caller's ``__main__``: scripts must create the cluster under
``if __name__ == "__main__":`` (Dagster's run worker and pytest already are such entry points).
``processes=False`` runs the workers as threads of this process: instant start-up and no
``__main__`` requirement, but one GIL and no per-worker memory limit; for small data and tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from distributed import Client, LocalCluster

from sf_assets.config.models import DaskConfig

log = logging.getLogger(__name__)
CLOSING_THREAD = "dask-close"  # the thread closing a LocalCluster in the background


@contextmanager
def dask_client(cfg: DaskConfig, work_dir: Path, *, processes: bool = True, timeout_s: float = 60,
                close_in_background: bool = False) -> Iterator[Client]:
    """A Client of ``cfg.scheduler_address`` or of a new LocalCluster, closed on exit: the client at once (it is
    Dask's default client while open), the LocalCluster on a thread of its own with ``close_in_background`` (its
    workers take ~1 s to stop; the thread is not a daemon, so the process waits for it before it exits)."""
    if cfg.scheduler_address:
        log.info("Connecting to Dask scheduler %s", cfg.scheduler_address)
        with Client(cfg.scheduler_address, timeout=timeout_s) as client:
            yield client
        return
    spill = cfg.spill_dir or work_dir / "dask-spill"
    spill.mkdir(parents=True, exist_ok=True)
    log.info(
        "Starting Dask LocalCluster: %d workers x %d threads, memory_limit=%s, processes=%s, spill=%s",
        cfg.n_workers, cfg.threads_per_worker, cfg.memory_limit, processes, spill,
    )
    cluster = LocalCluster(
        n_workers=cfg.n_workers,
        threads_per_worker=cfg.threads_per_worker,
        memory_limit=cfg.memory_limit,
        local_directory=str(spill),
        processes=processes,
        dashboard_address=None,
        **({"host": "127.0.0.1"} if processes else {}),  # threads talk in-process
    )
    try:
        with Client(cluster, timeout=timeout_s) as client:
            yield client
    finally:
        if close_in_background:
            threading.Thread(target=_close_cluster, args=(cluster,), name=CLOSING_THREAD).start()
        else:
            _close_cluster(cluster)


def _close_cluster(cluster: LocalCluster) -> None:
    nanny = logging.getLogger("distributed.nanny")
    quiet = _WorkerKillLogged()
    nanny.addFilter(quiet)
    try:
        cluster.close()
    finally:
        nanny.removeFilter(quiet)


class _WorkerKillLogged(logging.Filter):
    """At the cluster's close a worker slower than 4 s to exit is killed by its nanny ("Worker process still alive
    after 4.0 seconds, killing"): the builds are over by then (written or failed), so that line goes to our log
    at INFO, not to the console as a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the nanny's kill warning (logged again here as INFO); let every other record through."""
        if "still alive after" not in record.getMessage():
            return True
        log.info("Dask LocalCluster closing: %s", record.getMessage())
        return False
