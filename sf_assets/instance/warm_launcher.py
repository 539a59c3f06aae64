"""The run launcher of the shipped instance (`run_launcher` in dagster_home/dagster.yaml): runs execute in run
workers started before them (`instance/run_workers.py`), one run per process as with Dagster's default launcher,
without each run paying Python's start and the imports (docs/ARCHITECTURE.md, "A refresh from the UI").

"Terminate" in the UI marks the run CANCELING; Dagster's cancellation thread in the worker then interrupts it, as
in the runs Dagster itself starts.
"""

from __future__ import annotations

import atexit
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from sf_assets.defs.dagster_internals import (
    ConfigurableClass,
    ConfigurableClassData,
    LaunchRunContext,
    RunLauncher,
    code_python,
    execute_run_args,
    mark_run_canceling,
    note_on_run,
)
from sf_assets.instance.run_workers import RunWorkers

DEFAULT_PRELOAD = ("sf_assets.defs.build",)  # Dagster, the package and its libraries; not the configuration
_POOLS: dict[tuple[int, float, tuple[str, ...]], RunWorkers] = {}  # one pool per process and setting
_POOLS_LOCK = threading.Lock()


def _pool(size: int, idle_s: float, preload: Sequence[str]) -> RunWorkers:
    """The process's pool of these settings (every instance of a process shares it)."""
    key = (size, idle_s, tuple(preload))
    with _POOLS_LOCK:
        if key not in _POOLS:  # not closed when an instance is disposed: others of the process may still launch
            _POOLS[key] = RunWorkers(size, preload, idle_s)
            atexit.register(_POOLS[key].close)  # waiting workers exit with the process; runs in progress go on
        return _POOLS[key]


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run in a waiting run-worker process (the pool filled as the daemon starts and when quiet)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, warm_workers: int = 4,
                 idle_minutes: float = 60, preload: Sequence[str] = DEFAULT_PRELOAD) -> None:
        self._inst_data = inst_data
        self._workers = _pool(warm_workers, idle_minutes * 60, preload)
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        """Its dagster.yaml entry."""
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        """`warm_workers` (how many wait for a run), `idle_minutes` (how long one waits before it exits) and
        `preload` (modules they import while waiting)."""
        return {"warm_workers": dg.Field(dg.IntSource, is_required=False, default_value=4),
                "idle_minutes": dg.Field(float, is_required=False, default_value=60.0),
                "preload": dg.Field([str], is_required=False, default_value=list(DEFAULT_PRELOAD))}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> WarmRunLauncher:
        """The launcher of a dagster.yaml entry."""
        return cls(inst_data=inst_data, **config_value)

    def warm_up(self) -> None:
        """Start the waiting workers now (the daemon does as it starts, so its first run starts warm)."""
        self._workers.warm_up(sys.executable)

    def launch_run(self, context: LaunchRunContext) -> None:
        """Hand the run to a waiting worker (a new one when none waits) and say which in its event log."""
        run = context.dagster_run
        handed = self._workers.hand_over(code_python(run), execute_run_args(run, self._instance))
        ready = f"up {handed.up_s:.1f} s before it" if handed.up_s >= 0.1 else "started for it"
        note_on_run(self._instance, run, f"Run handed to run worker {handed.pid} ({ready}).")

    def terminate(self, run_id: str) -> bool:
        """Mark the run CANCELING; its worker interrupts it within the instance's cancellation poll interval."""
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        mark_run_canceling(self._instance, run)
        return True

