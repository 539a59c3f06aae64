"""A real `dagster dev` (webserver + daemon on 127.0.0.1) for tests, driven through its GraphQL API like the UI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import psutil
import requests

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { id status } }
}"""
ASSET_NODES = """
query { assetNodes { assetKey { path } isMaterializable isPartitioned } }"""
LOCATION = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 1.0) -> T:
    """Poll `probe` until it returns a truthy value; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def write_test_instance(home: Path) -> None:
    """The repository's dagster.yaml in `home`, as shipped (its daemon cadence and run queue check included)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8"),
                                       encoding="utf-8")


class DagsterDev:
    """`dagster dev -w workspace.yaml` with its own DAGSTER_HOME (the repository's dagster.yaml) and config."""

    def __init__(self, home: Path, config_path: Path, log_file: Path) -> None:
        self.home, self.config_path, self.log_file = home, config_path, log_file
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> DagsterDev:
        write_test_instance(self.home)
        env = {**os.environ, "DAGSTER_HOME": str(self.home), "SF_ASSETS_CONFIG": str(self.config_path),
               "PYTHONUTF8": "1"}
        self._log = open(self.log_file, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1",
             "-p", str(self.port)], cwd=self.home, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for("the code location to load", self._loaded, timeout=180, every=1.0)
        except BaseException:  # no __exit__ after a failed __enter__: stop the server here, or it runs on
            self.__exit__()
            raise
        return self

    def _loaded(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log_tail()
        try:
            data = self.gql(LOCATION)
        except (requests.RequestException, AssertionError):
            return False
        entries = data["workspaceOrError"].get("locationEntries") or []
        for entry in entries:
            error = entry["locationOrLoadError"]
            assert error is None or error["__typename"] != "PythonError", error
        return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            children = psutil.Process(self.proc.pid).children(recursive=True)
            self.proc.terminate()  # Ctrl+C in a terminal; its children get their own shutdown
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            for child in children:
                if child.is_running():
                    child.kill()
        self._log.close()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")[-chars:] if self.log_file.exists() else ""

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST one GraphQL operation; the `data` of its answer."""
        answer = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        answer.raise_for_status()
        body = answer.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def materializable_assets(self) -> list[list[str]]:
        return [n["assetKey"]["path"] for n in self.gql(ASSET_NODES)["assetNodes"] if n["isMaterializable"]]

    def materialize_all(self) -> str:
        """What the lineage page's "Materialize all" launches for assets of several partitions definitions."""
        params = {"assetSelection": [{"path": p} for p in self.materializable_assets()], "allPartitions": True,
                  "tags": [], "runConfigData": "{}"}
        result = self.gql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]

    def materialize_partitions(self, asset_path: list[str], partitions: list[str]) -> str:
        """What the Partitions tab launches for the partitions a user selected."""
        params = {"assetSelection": [{"path": asset_path}], "partitionNames": partitions, "fromFailure": False,
                  "tags": [], "runConfigData": "{}"}
        result = self.gql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]

    def wait_backfill(self, backfill_id: str, timeout: float = 600) -> str:
        """The backfill's final status (COMPLETED_SUCCESS, COMPLETED_FAILED, …)."""
        def done() -> str | None:
            status = self.gql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]
            return None if status == "REQUESTED" else status
        return wait_for(f"backfill {backfill_id}", done, timeout, every=1.0)

    def terminate(self, run_id: str) -> str:
        """The run page's "Terminate" button: the mutation's answer type."""
        return self.gql(TERMINATE, {"runId": run_id})["terminateRun"]["__typename"]

    def instance(self) -> dg.DagsterInstance:
        """The same instance, read from the test process."""
        return dg.DagsterInstance.from_config(str(self.home))


TERMINATE = """
mutation Terminate($runId: String!) { terminateRun(runId: $runId) { __typename } }"""
SCHEDULE_STATE = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) { __typename ... on Schedule { scheduleState { id status } } }
}"""
STOP_SCHEDULE = """
mutation Stop($id: String!) { stopRunningSchedule(id: $id) { __typename } }"""


def stop_schedule(server: DagsterDev, name: str) -> None:
    """Stop a running schedule as the UI's toggle does."""
    selector = {"repositoryLocationName": "sf_assets", "repositoryName": "__repository__", "scheduleName": name}
    state = server.gql(SCHEDULE_STATE, {"selector": selector})["scheduleOrError"]["scheduleState"]
    assert server.gql(STOP_SCHEDULE, {"id": state["id"]})["stopRunningSchedule"]["__typename"] == "ScheduleStateResult"
