"""Run-worker processes started before their runs (Dagster-free).

A run launched by the daemon (the UI's "Materialize all", the schedule, a sensor) executes in a new Python
process that must start and import Dagster and the code before its first step: 2-3 s here, four at once on two
cores 5 s, more on Windows, which cannot fork. Each process of this pool has done that ahead of time and waits
for one run on its stdin; the launcher hands a run over in one write. A worker executes one run and exits (runs
stay isolated: a killed run loses only its own process). The pool is filled when it is quiet (no run of its
workers executing, none handed over for `QUIET_S`): a worker importing beside a starting run would slow that run
by as much as it saves.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

WORKER_MODULE = "sf_assets.instance.run_worker"
QUIET_S = 3.0  # no hand-over for this long and no run executing: the pool is refilled
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
    """Up to `size` idle run workers of one Python, refilled when quiet; one idle for `idle_s` exits."""

    def __init__(self, size: int, preload: Sequence[str], idle_s: float) -> None:
        self._size = size
        self._preload = list(preload)
        self._idle_s = idle_s
        self._idle: list[_Worker] = []
        self._busy: list[subprocess.Popen[bytes]] = []
        self._python: str | None = None
        self._last_hand_over = 0.0
        self._refilling = False
        self._lock = threading.Lock()
        self._closed = False

    def warm_up(self, python: str) -> None:
        """Fill the pool with workers of `python` now (e.g. as the daemon starts)."""
        self._python = python
        self._refill_when_quiet()

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
            with self._lock:
                self._busy.append(worker.process)
                self._last_hand_over = time.monotonic()
            self._refill_when_quiet()
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
        """An idle worker of `python`, else a new one."""
        with self._lock:
            self._python = python
            expired = [w for w in self._idle if time.monotonic() - w.started > self._idle_s]
            for worker in expired:  # about to exit by itself: told to now (end of its stdin)
                assert worker.process.stdin is not None
                worker.process.stdin.close()
            self._idle = [w for w in self._idle if w.process.poll() is None and w not in expired]
            taken = next((w for w in self._idle if w.python == python), None)
            if taken is not None:
                self._idle.remove(taken)
                return taken
        return _Worker(start_worker(python, self._preload, self._idle_s), python)

    def _refill_when_quiet(self) -> None:
        """Start the one thread that fills the pool at the next quiet moment (if it is not running)."""
        with self._lock:
            if self._refilling or self._closed:
                return
            self._refilling = True
        threading.Thread(target=self._refill, name="run-workers-refill", daemon=True).start()

    def _refill(self) -> None:
        while not self._fill_if_quiet():
            time.sleep(0.5)

    def _fill_if_quiet(self) -> bool:
        """Fill the pool if no worker executes a run and none was handed one for `QUIET_S`; whether done."""
        with self._lock:
            self._busy = [p for p in self._busy if p.poll() is None]
            python = self._python
            if not self._closed and (self._busy or time.monotonic() - self._last_hand_over < QUIET_S):
                return False
            if not self._closed and python is not None:
                missing = self._size - sum(1 for w in self._idle if w.python == python)
                self._idle.extend(_Worker(start_worker(python, self._preload, self._idle_s), python)
                                  for _ in range(max(0, missing)))
            self._refilling = False
            return True
