"""One refresh at a time: an OS-level lock; concurrent processes, a killed holder, the lock file kept."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sf_assets.storage.refresh_lock import RefreshLocked, refresh_lock

ROOT = Path(__file__).resolve().parents[2]
# A contender: waits for the start file (so all try at the same instant), tries the lock, holds it 1.5 s.
CONTENDER = """
import os, sys, time
from pathlib import Path
from sf_assets.storage.refresh_lock import RefreshLocked, refresh_lock
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
try:
    with refresh_lock(Path(sys.argv[1])):
        print("HELD", flush=True)
        time.sleep(float(sys.argv[3]))
except RefreshLocked as exc:
    print("REFUSED", exc, flush=True)
"""


def _contenders(lock: Path, go: Path, n: int, hold_s: float = 1.5) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", CONTENDER, str(lock), str(go), str(hold_s)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]


def _outcomes(procs: list[subprocess.Popen]) -> list[str]:
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        out.append(stdout.split()[0])
    return out


def test_second_refresh_is_refused_while_first_runs(tmp_path):
    lock = tmp_path / "refresh.lock"
    with refresh_lock(lock):
        with pytest.raises(RefreshLocked, match=r"another refresh is running \(pid \d+"):
            with refresh_lock(lock):
                pass
    assert lock.exists(), "the lock file is never deleted (someone may hold it open)"
    with refresh_lock(lock):  # released: usable again
        pass


def test_of_several_processes_started_at_once_exactly_one_holds_the_lock(tmp_path):
    lock, go = tmp_path / "refresh.lock", tmp_path / "go"
    for trial in range(2):
        go.unlink(missing_ok=True)
        procs = _contenders(lock, go, 6)
        time.sleep(1.5)  # let every interpreter start and wait at the line
        go.write_text("")
        outcomes = _outcomes(procs)
        assert outcomes.count("HELD") == 1, (trial, outcomes)
        assert outcomes.count("REFUSED") == 5


def test_the_lock_of_a_killed_holder_is_taken_over_by_exactly_one(tmp_path):
    lock, go = tmp_path / "refresh.lock", tmp_path / "go"
    go.write_text("")
    (holder,) = _contenders(lock, go, 1, hold_s=60)
    assert holder.stdout.readline().startswith("HELD")
    go.unlink()
    procs = _contenders(lock, go, 5)
    time.sleep(1.5)
    holder.kill()  # SIGKILL / TerminateProcess: no cleanup code runs
    holder.wait(10)
    go.write_text("")
    outcomes = _outcomes(procs)
    assert outcomes.count("HELD") == 1, outcomes
    assert lock.exists()


def test_a_probe_of_the_lock_never_refuses_a_refresh_starting_meanwhile(tmp_path):
    """Sensors probe the lock every few seconds; a refresh starting during a probe waits it out."""
    import threading

    from sf_assets.storage.refresh_lock import lock_is_free

    lock = tmp_path / "refresh.lock"
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            lock_is_free(lock)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        for _ in range(50):
            with refresh_lock(lock):
                assert not lock_is_free(lock)
    finally:
        stop.set()
        prober.join()
    assert lock_is_free(lock)


def test_the_lock_file_is_kept_and_a_file_system_without_os_locks_is_refused(tmp_path, monkeypatch):
    """filelock's Windows release deletes the lock file unless `preserve_lock_file` is set, and the same setting
    refuses its fall-back to a lock file that outlives a killed holder where `flock` is missing (ENOSYS).
    Windows' release cannot run on Linux; a file system without flock is simulated as filelock's own tests do."""
    import errno

    import filelock._unix

    from sf_assets.storage.refresh_lock import lock_is_free

    lock = tmp_path / "refresh.lock"
    with refresh_lock(lock):
        pass
    assert lock.exists()

    def no_flock(fd, operation):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(filelock._unix.fcntl, "flock", no_flock)
    with pytest.raises(RuntimeError, match=r"has no OS file locks \(flock\); keep paths.state_db on a local disk"):
        with refresh_lock(lock):
            pass
    with pytest.raises(RuntimeError, match="has no OS file locks"):
        lock_is_free(lock)
    assert lock.exists()
