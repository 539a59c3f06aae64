"""A run-worker process (`python -m sf_assets.instance.run_worker IDLE_SECONDS MODULE...`): imports the modules a
run needs, waits for one run on stdin (a line from `WarmRunLauncher`), executes it as `dagster api execute_run`
would, exits; or exits after IDLE_SECONDS without a run (an idle laptop keeps no waiting workers).

The modules are imported before the run is known but never the code location itself: it reads the pipeline
configuration when imported, which the run must see as it is when the run starts, not when the worker did.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading


def main(argv: list[str]) -> int:
    """Import `argv`'s modules, then execute the run read from stdin (exit 0 when stdin ends without one)."""
    idle_s, *modules = argv
    idle_exit = threading.Timer(float(idle_s), os._exit, args=(0,))  # no clean-up to do: nothing has started
    idle_exit.daemon = True
    idle_exit.start()
    from sf_assets.defs.dagster_internals import execute_run_here

    for module in modules:
        with contextlib.suppress(Exception):  # a module that fails to import fails the run's own load, visibly
            importlib.import_module(module)
    try:
        order = sys.stdin.readline()
    except KeyboardInterrupt:  # Ctrl+C in the console of `dagster dev` while waiting: nothing to stop
        return 0
    idle_exit.cancel()
    if not order.strip():
        return 0  # the launcher's process ended (the daemon stopped) before handing over a run
    return execute_run_here(order.strip())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
