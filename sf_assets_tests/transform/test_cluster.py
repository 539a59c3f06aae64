"""The LocalCluster's close: a worker slow to exit is killed quietly (our log at INFO, nothing on the console)."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from sf_assets.config.models import DaskConfig
    from sf_assets.observability.logs import setup_logging
    from sf_assets.transform.cluster import dask_client

    if __name__ == "__main__":
        setup_logging("INFO", Path(sys.argv[1]) / "logs", "json")  # the console as `sf-assets run` sets it up
        with dask_client(DaskConfig(n_workers=1, threads_per_worker=1, memory_limit="1GB"), Path(sys.argv[1]),
                         processes=True) as client:
            client.submit(time.sleep, 10, pure=False)  # still running at the close: killed after 4 s
            time.sleep(2)
""")


def test_worker_killed_at_close_is_logged_not_shown_on_the_console(tmp_path):
    script = tmp_path / "build.py"
    script.write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "killing" not in done.stderr, done.stderr[-2000:]  # distributed's own handler prints to stderr
    log = "".join(path.read_text(encoding="utf-8") for path in (tmp_path / "logs").rglob("*.log"))
    assert "Worker process still alive after" in log and '"level": "INFO"' in log
