"""Progress of long work (rows, %, rate, ETA) as log lines flagged for the console as well."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
PROGRESS = {"progress": True}  # `extra=` flag: the CLI console shows these INFO lines too


def eta_text(seconds: float) -> str:
    """'1h02m', '3m05s' or '42s'."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@dataclass
class Progress:
    """Counts finished chunks and rows of one object; `step()` logs one line per chunk (object from the log context)."""

    total_units: int
    expected_rows: int | None = None
    done_units: int = 0
    rows: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def step(self, rows: int) -> str:
        """Record one finished chunk with `rows` rows and log '3 of 12 chunks (25%), 300,000 rows, ...'."""
        with self._lock:
            self.done_units += 1
            self.rows += rows
            elapsed = max(time.monotonic() - self.started, 1e-6)
            share = self.done_units / self.total_units if self.total_units else 1.0
            rate = self.rows / elapsed
            eta = elapsed * (1 - share) / share if share > 0 else 0.0
            line = (
                f"{self.done_units} of {self.total_units} chunks ({share:.0%}), {self.rows:,} rows"
                f"{f' of ~{self.expected_rows:,}' if self.expected_rows else ''}, {rate:,.0f} rows/s, ETA "
                f"{eta_text(eta)}"
            )
        log.info(line, extra=PROGRESS)
        return line
