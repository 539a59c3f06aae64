"""Test-only cadence of a `dagster dev` daemon (on its PYTHONPATH, set by sf_assets_tests/defs/dagster_dev.py):
sets the loop intervals named in SF_TEST_DAEMON_CADENCE (`module.NAME=seconds,...`) in the daemon process only.
The same daemon code runs, only more often. Nothing of the product changes."""

import os
import sys

_cadence = os.environ.get("SF_TEST_DAEMON_CADENCE", "")
if _cadence and sys.orig_argv[1:3] == ["-m", "dagster._daemon"]:  # how `dagster dev` starts its daemon
    import importlib

    for _setting in _cadence.split(","):
        _path, _seconds = _setting.split("=")
        _module, _name = _path.rsplit(".", 1)
        setattr(importlib.import_module(_module), _name, int(_seconds))
