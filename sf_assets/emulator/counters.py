"""Thread-safe request counters."""
from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import Any

NESTED = ("jobs_created", "errors", "describes")
FLAT = ("requests", "pages", "polls", "aborts", "deletes", "logins", "rest_queries", "limits_calls", "rows_served")


class Counters:
    """Counts what the emulator served; ``snapshot()`` returns plain dicts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._flat: Counter[str] = Counter({k: 0 for k in FLAT})
            self._nested: dict[str, Counter[str]] = {k: Counter() for k in NESTED}

    def add(self, name: str, key: str | None = None, n: int = 1) -> None:
        with self._lock:
            if key is None:
                self._flat[name] += n
            else:
                self._nested[name][key] += n

    def get(self, name: str) -> int:
        with self._lock:
            return self._flat[name]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self._flat)
            out.update({k: dict(v) for k, v in self._nested.items()})
            return copy.deepcopy(out)
