"""Run-worker processes started before their runs (Dagster-free).

A run launched by the daemon (the UI's "Materialize all", the schedule, a sensor) executes in a new Python
process that must start and import Dagster and the code before its first step: 2-3 s here, four at once on two
cores 5 s, more on Windows, which cannot fork. Each process of this pool has done that ahead of time and waits
for one run on its stdin; the launcher hands a run over in one write. A worker executes one run and exits (runs
stay isolated: a killed run loses only its own process), and its exit starts its replacement, so the imports of
new workers overlap the next run's work rather than its start.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

WORKER_MODULE = "sf_assets.instance.run_worker"
EXIT_MARGIN_S = 60.0  # a worker exits this long after the pool stops handing it runs: never while one is handed over


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    python: str
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class HandOver:
    """Which worker process took a run, and how long it had been up (≈ 0: started for this run)."""

    pid: int
    up_s: float


def start_worker(python: str, preload: Sequence[str], idle_s: float) -> subprocess.Popen[bytes]:
    """A run-worker process of `python` that imports `preload`, then waits up to `idle_s` for one run on its
    stdin."""
    return subprocess.Popen([python, "-m", WORKER_MODULE, str(idle_s + EXIT_MARGIN_S), *preload],
                            stdin=subprocess.PIPE)


class RunWorkers:
    """Up to `size` idle run workers per Python, started at a hand-over that finds none and replaced as they exit
    after a run; a worker left idle for `idle_s` exits (the next hand-over starts the pool again)."""

    def __init__(self, size: int, preload: Sequence[str], idle_s: float) -> None:
        self._size = size
        self._preload = list(preload)
        self._idle_s = idle_s
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False

    def hand_over(self, python: str, order: str) -> HandOver:
        """Give `order` (one line) to an idle worker of `python`, or to a new one when none is idle."""
        for _ in range(3):  # an idle worker may have died (killed): the next one
            worker = self._take(python)
            try:
                assert worker.process.stdin is not None
                worker.process.stdin.write(order.encode("utf-8") + b"\n")
                worker.process.stdin.close()
            except OSError:
                worker.process.kill()
                continue
            threading.Thread(target=self._replace_after, args=(worker,), name="run-worker-exit", daemon=True).start()
            return HandOver(worker.process.pid, round(time.monotonic() - worker.started, 1))
        raise OSError(f"no run worker of {python} accepted the run (each exited before reading it)")

    def close(self) -> None:
        """Let every idle worker exit (end of its stdin) and start no more."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            if worker.process.stdin is not None:
                worker.process.stdin.close()

    def _take(self, python: str) -> _Worker:
        """An idle worker of `python` (the pool filled when none was idle), else a new one."""
        with self._lock:
            expired = [w for w in self._idle if time.monotonic() - w.started > self._idle_s]
            for worker in expired:  # about to exit by itself: told to now (end of its stdin)
                assert worker.process.stdin is not None
                worker.process.stdin.close()
            self._idle = [w for w in self._idle if w.process.poll() is None and w not in expired]
            first_use = not self._idle
            taken = next((w for w in self._idle if w.python == python), None)
            if taken is not None:
                self._idle.remove(taken)
        taken = taken or self._start(python)  # started before the pool's others: the run waits on it
        if first_use:
            self._fill(python)
        return taken

    def _start(self, python: str) -> _Worker:
        return _Worker(start_worker(python, self._preload, self._idle_s), python)

    def _fill(self, python: str) -> None:
        """Start workers until `size` of `python` are idle."""
        with self._lock:
            if self._closed:
                return
            missing = self._size - sum(1 for w in self._idle if w.python == python)
            self._idle.extend(self._start(python) for _ in range(max(0, missing)))

    def _replace_after(self, worker: _Worker) -> None:
        worker.process.wait()
        self._fill(worker.python)
