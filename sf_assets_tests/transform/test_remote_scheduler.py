"""Scale-out: a real `dask scheduler` + two `dask worker` processes give the LocalCluster's result."""

import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sf_assets.config.models import DaskConfig
from sf_assets.transform.cluster import dask_client
from sf_assets.transform.datasets import build_datasets
from sf_assets.transform.engine_dask import DaskSqlRunner
from sf_assets_tests.transform.test_datasets import JOIN

DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def remote_scheduler(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )]
    try:
        for i in range(2):
            procs.append(subprocess.Popen(
                [DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                 "--memory-limit", "1GB", "--local-directory", str(tmp_path / f"w{i}"), "--death-timeout", "30"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        yield address
    finally:
        for proc in reversed(procs):
            proc.kill()
            proc.wait(timeout=10)


def _read(result) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in result.result.parts).sort_by([("Id", "ascending")])


@pytest.mark.timeout(120)
def test_remote_scheduler_output_matches_local_cluster(staging_db, dask_session_client, remote_scheduler, tmp_path):
    with dask_client(DaskConfig(scheduler_address=remote_scheduler), tmp_path, timeout_s=30) as client:
        client.wait_for_workers(2, timeout=60)
        remote = build_datasets([JOIN], staging_db, tmp_path / "remote", DaskSqlRunner(client))
    local = build_datasets([JOIN], staging_db, tmp_path / "local", DaskSqlRunner(dask_session_client))
    assert remote.failed == [] and local.failed == []
    assert _read(remote["opportunity_account"]).equals(_read(local["opportunity_account"]))
