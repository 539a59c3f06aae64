"""Test-only fault injection for a child `sf-assets run` (on its PYTHONPATH): every `os.replace` into an
output folder takes 0.3 s, so a kill lands inside the promotion of the Power BI files, deterministically
(like a slow or busy disk). Nothing of the product changes."""

import os

_replace = os.replace
_slow_under = os.environ.get("SF_TEST_SLOW_REPLACE_UNDER", "")


def _slow_replace(src, dst, *args, **kwargs):
    if _slow_under and os.fspath(dst).startswith(_slow_under):
        import time

        time.sleep(0.3)
    return _replace(src, dst, *args, **kwargs)


os.replace = _slow_replace
