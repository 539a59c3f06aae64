"""The pool of run workers started before their runs (real processes; the runs handed over here are not valid
Dagster runs, so each worker exits at once with an error: what is checked is which process takes a run, that the
pool refills once quiet, that an idle worker expires and that a dead one is skipped). Real runs in these workers:
`defs/test_dagster_dev.py`."""

import sys
import time

import psutil

from sf_assets.instance.run_workers import QUIET_S, WORKER_MODULE, RunWorkers

PYTHON = sys.executable


def _waiting() -> list[psutil.Process]:
    """This test's run-worker processes still alive."""
    alive = []
    for process in psutil.Process().children():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and WORKER_MODULE in " ".join(process.cmdline()):
                alive.append(process)
        except psutil.Error:  # exited while listed
            continue
    return alive


def _until(probe, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_runs_go_to_workers_started_before_them_and_the_pool_refills_when_quiet():
    pool = RunWorkers(size=2, preload=["json"], idle_s=300)
    try:
        first = pool.hand_over(PYTHON, "not a run")
        assert first.up_s < 0.1  # none was waiting: started for this run
        # once its run ended (the bad order fails at once) and nothing was handed over for QUIET_S, two wait
        idle = _until(lambda: len(ws := [p for p in _waiting() if p.pid != first.pid]) == 2 and ws)
        second = pool.hand_over(PYTHON, "not a run")
        assert second.pid in {p.pid for p in idle} and second.up_s > 0
        pool.close()  # idle workers read the end of their stdin and exit
        _until(lambda: not _waiting())
    finally:
        pool.close()
        for p in _waiting():
            p.kill()


def test_a_dead_or_expired_idle_worker_never_takes_a_run():
    pool = RunWorkers(size=1, preload=[], idle_s=QUIET_S + 2)
    try:
        pool.warm_up(PYTHON)  # as the daemon starts
        (idle,) = _until(lambda: _waiting() if len(_waiting()) == 1 else None)
        idle.kill()
        idle.wait()
        handed = pool.hand_over(PYTHON, "not a run")
        assert handed.pid != idle.pid and handed.up_s < 0.1
        (fresh,) = _until(lambda: [p for p in _waiting() if p.pid != handed.pid] or None)  # refilled when quiet
        time.sleep(QUIET_S + 2.5)  # older than idle_s: told to exit, another started for the run
        later = pool.hand_over(PYTHON, "not a run")
        assert later.pid != fresh.pid and later.up_s < 0.1
        _, alive = psutil.wait_procs([fresh], timeout=30)  # the expired worker exits
        assert not alive
    finally:
        pool.close()
        for p in _waiting():
            p.kill()
