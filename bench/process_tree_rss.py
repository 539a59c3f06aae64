"""Sample the RSS of a process and all its descendants (psutil) while a command runs.

Used by ``refresh_vs_baseline.py``: one sample every ``interval_s`` of every process in the tree,
labelled ``main`` (the command itself), ``dask worker`` (multiprocessing spawn children),
``resource tracker`` or ``child <name>``; peaks come from the kernel's high-water mark (VmHWM) on
Linux, so a spike between two samples is not missed, and from the sampled RSS elsewhere.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil


def _label(proc: psutil.Process, root: int) -> str:
    if proc.pid == root:
        return "main"
    try:
        cmdline = " ".join(proc.cmdline())
    except (psutil.Error, OSError):
        return "child (gone)"
    if "resource_tracker" in cmdline:
        return "resource tracker"
    if "spawn_main" in cmdline or "forkserver" in cmdline:
        return "dask worker"
    return f"child {proc.name()}"


def _high_water_mb(pid: int) -> float | None:
    status = Path(f"/proc/{pid}/status")
    try:
        line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 1024


@dataclass
class TreeSampler:
    """Background sampler of one process tree; ``samples`` are (seconds since start, pid, label, RSS MB)."""

    root: int
    interval_s: float = 0.2
    samples: list[tuple[float, int, str, float]] = field(default_factory=list)
    peaks: dict[int, tuple[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._started = time.perf_counter()
        self._labels: dict[int, str] = {}

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            self.sample_once()
            if self._stop.wait(self.interval_s):
                return

    def sample_once(self) -> None:
        """Record the RSS (and high-water mark) of every live process of the tree."""
        try:
            root = psutil.Process(self.root)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        now = time.perf_counter() - self._started
        for proc in procs:
            try:
                rss = proc.memory_info().rss / 2**20
            except psutil.Error:
                continue
            label = self._labels.setdefault(proc.pid, _label(proc, self.root))
            peak = max(rss, _high_water_mb(proc.pid) or 0.0, self.peaks.get(proc.pid, ("", 0.0))[1])
            self.peaks[proc.pid] = (label, peak)
            self.samples.append((round(now, 2), proc.pid, label, round(rss, 1)))

    def peak_by_label(self) -> dict[str, float]:
        """Highest peak of each kind of process (MB); workers are reported as one figure, the highest."""
        out: dict[str, float] = {}
        for label, peak in self.peaks.values():
            out[label] = round(max(out.get(label, 0.0), peak), 1)
        return out

    def processes(self) -> list[dict]:
        """Every process seen, with its label and peak (MB)."""
        return [
            {"pid": pid, "label": label, "peak_rss_mb": round(peak, 1)} for pid, (label, peak) in self.peaks.items()
        ]


def own_peak_mb() -> float:
    """This process's peak RSS so far (MB)."""
    return _high_water_mb(psutil.Process().pid) or psutil.Process().memory_info().rss / 2**20
