"""One liveness rule (pid + start time) for temp owners, recorded runs and `sf-assets run`'s runs: a pid that
another, later process took over reads as dead everywhere. Real processes, a real state DB, a real instance."""

import os
import re
import socket
import subprocess
import sys
import time

import dagster as dg
import psutil
import pytest

from sf_assets.defs.driver import reap_dead_runs
from sf_assets.defs.tags import PID_TAG
from sf_assets.storage.process_liveness import TOLERANCE_S, process_alive
from sf_assets.storage.run_processes import dead_runs, record_run_process
from sf_assets.storage.state_db import open_state_db
from sf_assets.storage.temp_owner import owner_tag, remove_dead_temps
from sf_assets_tests.pipeline_helpers import make_config


@pytest.fixture
def sleeper():
    """A live process of this host (what took over a dead process's pid), killed after the test."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield child
    child.kill()
    child.wait()


def test_a_taken_over_pid_reads_as_dead_for_temps_and_recorded_runs(tmp_path, sleeper):
    started = psutil.Process(sleeper.pid).create_time()
    before = started - 60  # the start recorded by the dead process that had the same pid
    assert process_alive(sleeper.pid, started) and not process_alive(sleeper.pid, before)

    for name in (f".a.p{sleeper.pid}s{int(started * 100)}-1.tmp", f".a.p{sleeper.pid}s{int(before * 100)}-2.tmp",
                 f".a.{owner_tag()}-3.tmp"):
        (tmp_path / name).write_text("partial")
    removed = remove_dead_temps(tmp_path, re.compile(r"\.tmp$"))
    assert [p.name for p in removed] == [f".a.p{sleeper.pid}s{int(before * 100)}-2.tmp"]

    conn = open_state_db(tmp_path / "state.db")
    conn.execute("INSERT INTO run_processes VALUES (?, ?, ?, ?, ?)",
                 ("taken-over", "r1", sleeper.pid, before, socket.gethostname()))
    record_run_process(conn, "this-one", "r1")
    assert dead_runs(conn, ["taken-over", "this-one"]) == ["taken-over"]


def test_sf_assets_run_fails_a_run_whose_pid_a_later_process_took(org, tmp_path):
    config = make_config(org, tmp_path)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with dg.instance_for_test() as instance:
        for run_id, pid in (("killed", None), ("live", os.getpid()), ("ended", int(ended.stdout))):
            tags = {PID_TAG: str(pid)} if pid else {}
            instance.add_run(dg.DagsterRun(job_name="extract_Account_job", run_id=run_id,
                                           status=dg.DagsterRunStatus.STARTED, tags=tags))
        time.sleep(TOLERANCE_S + 0.2)  # the killed run's process is gone; a later process gets its pid
        later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        try:
            instance.add_run_tags("killed", {PID_TAG: str(later.pid)})  # the pid the killed process had
            assert sorted(reap_dead_runs(instance, config)) == ["ended", "killed"]
        finally:
            later.kill()
            later.wait()
        assert instance.get_run_by_id("killed").status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id("live").status == dg.DagsterRunStatus.STARTED
