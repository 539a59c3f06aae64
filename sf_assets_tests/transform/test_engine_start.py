"""The Dask-SQL engine starts small for small inputs: a build reading fewer staged rows than
`dask.in_process_below_rows` runs on worker threads of the run's own process (no worker processes to spawn,
2-3 s per run, more on Windows), a larger or unsized one on worker processes with their memory limit."""

import os
from pathlib import Path

import psutil
import pytest

from sf_assets.config import load_config
from sf_assets.transform import engine_dask, engines
from sf_assets.transform.engines import dataset_engine
from sf_assets.transform.staged import rows_read, staged_tables
from sf_assets_tests.transform.conftest import ROWS

REPO = Path(__file__).resolve().parents[2]


def _spawned_while_started(tmp_path: Path, input_rows: int | None) -> list[psutil.Process]:
    config = load_config(REPO / "config" / "pipeline.yaml")
    assert config.dask.in_process_below_rows == 250_000 and config.dask.n_workers == 2
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    with engine_dask.start(config, tmp_path, input_rows=input_rows) as runner:
        spawned = [p for p in me.children(recursive=True) if p.pid not in before]
        assert runner.client.submit(sum, [1, 2]).result() == 3
    return spawned


@pytest.mark.parametrize(("input_rows", "worker_processes"), [(249_999, False), (250_000, True), (None, True)])
def test_small_inputs_run_on_threads_large_or_unknown_on_worker_processes(tmp_path, input_rows, worker_processes):
    spawned = _spawned_while_started(tmp_path, input_rows)
    assert len(spawned) >= 2 if worker_processes else spawned == []


def test_the_rows_read_count_each_staged_table_a_dataset_set_reads_once(staging_db):
    tables = staged_tables(staging_db)
    join = "SELECT o.Id FROM Opportunity o LEFT JOIN Account a ON a.Id = o.AccountId"
    assert rows_read([join], tables) == ROWS["Opportunity"] + ROWS["Account"]
    assert rows_read([join, "SELECT * FROM account"], tables) == ROWS["Opportunity"] + ROWS["Account"]
    assert rows_read(["SELECT * FROM Widget__c", join], tables) == sum(ROWS.values())
    assert rows_read(["SELECT 1"], tables) == 0


def _resource_tracker(process: psutil.Process) -> bool:
    """multiprocessing's resource tracker: spawned with the first worker process, it lives as long as this one."""
    return "resource_tracker" in " ".join(process.cmdline())


def test_the_cluster_warmed_up_during_staging_is_the_one_the_build_uses(tmp_path):
    """`warm_up` (called by the staging step) spawns the worker processes while the tables are staged; the datasets
    step's `start` uses those very workers instead of spawning its own, and closes them when it ends."""
    config = load_config(REPO / "config" / "pipeline.yaml")
    engine = dataset_engine("dask_sql")
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    engine.warm_up(config, tmp_path, 300_000)
    engines._warming["dask_sql"].join()  # what `start` waits for
    warmed = {p.pid for p in me.children(recursive=True)} - before
    assert len(warmed) >= 2
    with engine.start(config, tmp_path, input_rows=300_000) as runner:
        assert {p.pid for p in me.children(recursive=True)} - before == warmed  # nothing new spawned
        workers = set(runner.client.run(os.getpid).values())
        assert len(workers) == 2 and workers <= warmed
    _, alive = psutil.wait_procs([psutil.Process(pid) for pid in workers if psutil.pid_exists(pid)], timeout=30)
    assert alive == []  # closed on its background thread


def test_a_warmed_up_cluster_the_build_does_not_need_is_closed(tmp_path):
    """Sized for worker processes, but the datasets read few rows (threads): the warm cluster is closed, not kept."""
    config = load_config(REPO / "config" / "pipeline.yaml")
    engine = dataset_engine("dask_sql")
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    engine.warm_up(config, tmp_path, 300_000)
    engines._warming["dask_sql"].join()
    warmed = [p for p in me.children(recursive=True) if p.pid not in before and not _resource_tracker(p)]
    with engine.start(config, tmp_path, input_rows=10) as runner:
        assert runner.client.submit(sum, [1, 2]).result() == 3
    _, alive = psutil.wait_procs(warmed, timeout=30)
    assert warmed and alive == []
