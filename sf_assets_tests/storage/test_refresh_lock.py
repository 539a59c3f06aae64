"""One refresh at a time: a live holder blocks, a dead one's lock is taken over."""

import json
import subprocess
import sys

import pytest

from sf_assets.storage.refresh_lock import RefreshLocked, refresh_lock


def test_second_refresh_is_refused_while_first_runs(tmp_path):
    lock = tmp_path / "refresh.lock"
    with refresh_lock(lock):
        with pytest.raises(RefreshLocked, match=r"another refresh is running \(pid \d+"):
            with refresh_lock(lock):
                pass
    assert not lock.exists()
    with refresh_lock(lock):  # released: usable again
        assert lock.exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    lock = tmp_path / "refresh.lock"
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(child.stdout)
    import socket

    lock.write_text(json.dumps({"pid": dead_pid, "host": socket.gethostname(), "since": "yesterday"}))
    with refresh_lock(lock):
        assert json.loads(lock.read_text())["pid"] != dead_pid
