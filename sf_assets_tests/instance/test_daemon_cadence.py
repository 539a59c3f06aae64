"""The shipped instance makes the daemon create a "Materialize all"'s next runs every few seconds (Dagster: 30 s)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import sys
import dagster as dg
from dagster._daemon import controller, sensor
before = (controller.DEFAULT_DAEMON_INTERVAL_SECONDS, sensor.MIN_INTERVAL_LOOP_TIME)
with dg.DagsterInstance.from_config(sys.argv[1]):  # as `dagster-daemon run` creates it before its loops start
    pass
print(*before, controller.DEFAULT_DAEMON_INTERVAL_SECONDS, sensor.MIN_INTERVAL_LOOP_TIME)
"""


def _cadence(home: Path) -> list[str]:
    """Dagster's loop intervals before and after a fresh process creates the instance of `home` (a process each:
    the values are module globals)."""
    done = subprocess.run([sys.executable, "-c", PROBE, str(home)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_the_instance_sets_the_daemon_loops_from_dagster_yaml(tmp_path):
    shipped = (REPO / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8")
    (tmp_path / "dagster.yaml").write_text(shipped.replace("backfill_seconds: 1", "backfill_seconds: 4"),
                                           encoding="utf-8")
    assert _cadence(tmp_path) == ["30", "5", "4", "1"]  # Dagster's own, then the configured
    (tmp_path / "dagster.yaml").write_text(shipped.split("daemon_cadence:")[0], encoding="utf-8")
    assert _cadence(tmp_path) == ["30", "5", "1", "1"]  # the key left out: the laptop defaults
