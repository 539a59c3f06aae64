"""Is a recorded process still alive? The one rule for temp owners, recorded runs and `sf-assets run`'s runs.

A process is told by its pid and its start time: the OS gives a dead process's pid to a later, unrelated one
(Windows: https://learn.microsoft.com/en-us/dotnet/api/system.diagnostics.process.id, Linux once its pid counter
wraps), so a pid alone makes a dead process look alive as soon as another takes its number. Windows has no POSIX
signals and a killed process leaves no trace but its absence, so both are read with psutil on every OS.
"""

from __future__ import annotations

import os
from functools import lru_cache

import psutil

# Start times read at different moments differ by clock-tick rounding and by the boot time the OS derives
# them from (Linux: wall clock minus uptime, which moves with clock adjustments).
TOLERANCE_S = 1.0


@lru_cache(maxsize=1)
def _start_of(pid: int) -> float:
    return psutil.Process(pid).create_time()


def this_process() -> tuple[int, float]:
    """This process's pid and start time (seconds since the epoch): what a record of it keeps."""
    pid = os.getpid()  # the cache is keyed by pid, so a forked child reads its own start
    return pid, _start_of(pid)


def process_alive(pid: int, started_by: float) -> bool:
    """True while process `pid` runs and had started by `started_by` (seconds since the epoch, to the second).

    `started_by` is the process's recorded start time, or a moment it is known to have been running (a run it
    created). A pid taken over by a later process reads as dead, and so does a zombie; a process whose start
    cannot be read (access denied) counts as alive, so nothing of a live process is ever removed or failed.
    """
    try:
        process = psutil.Process(pid)
        return process.create_time() <= started_by + TOLERANCE_S and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # psutil.ZombieProcess is one too: only its exit status is left
        return False
    except psutil.Error:  # cannot tell (access denied)
        return True
