"""Fault plans: which failures the emulator injects, decided deterministically from the seed.

Probabilistic (per request): ``503`` (SERVER_UNAVAILABLE), ``concurrent`` (403 REQUEST_LIMIT_EXCEEDED with
a concurrency limit's text: transient), ``reset`` (connection reset mid-body), ``short_page``. Counted
from when the plan is set: ``slow_jobs:N`` (extra polls per job), ``expire_session_after:N`` (uses per
token), ``daily_limit_after:N`` (N more API requests, then the day's API requests are used up: 403
TotalRequests), ``bulk_job_cap_after:N`` and ``bulk_result_cap_after:N`` (N more Bulk query jobs, then
the daily job cap or the daily result-size cap refuses new ones); ``slow_page:N`` (answers 0.5 s late),
``page_503:N`` and ``page_reset:N``: the N-th Bulk results page asked for from then (1 = the first), whichever
job and path (locator or ``resultPages``) it belongs to, so one page of parallel downloads fails or arrives late
while the others do not. ``job_fail_once:<Object>``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

PROBABILISTIC = ("503", "concurrent", "reset", "short_page")
COUNTED = ("slow_jobs", "expire_session_after", "daily_limit_after", "bulk_job_cap_after", "bulk_result_cap_after",
           "slow_page", "page_503", "page_reset")
SLOW_PAGE_S = 0.5  # how late the ``slow_page`` answers


@dataclass(frozen=True)
class FaultPlan:
    """Fault injection settings; parse them from a spec like ``"503:0.05,reset:0.02"``."""

    rates: dict[str, float] = field(default_factory=dict)
    job_fail_once: frozenset[str] = frozenset()
    slow_jobs: int = 0
    expire_session_after: int = 0
    daily_limit_after: int = 0
    bulk_job_cap_after: int = 0
    bulk_result_cap_after: int = 0
    slow_page: int = 0
    page_503: int = 0
    page_reset: int = 0

    @classmethod
    def parse(cls, spec: str | None) -> FaultPlan:
        """Parse ``kind:value`` items separated by commas; raise ValueError on a bad item."""
        rates: dict[str, float] = {}
        fail_once: set[str] = set()
        counted = dict.fromkeys(COUNTED, 0)
        for item in (spec or "").split(","):
            item = item.strip()
            if not item:
                continue
            kind, sep, value = item.partition(":")
            kind, value = kind.strip(), value.strip()
            if not sep or not value:
                raise ValueError(f"fault {item!r}: expected kind:value")
            if kind in PROBABILISTIC:
                try:
                    rate = float(value)
                except ValueError:
                    raise ValueError(f"fault {item!r}: value must be a probability") from None
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"fault {item!r}: probability must be within 0..1")
                rates[kind] = rate
            elif kind in COUNTED:
                if not value.isdigit():
                    raise ValueError(f"fault {item!r}: value must be a non-negative integer")
                counted[kind] = int(value)
            elif kind == "job_fail_once":
                fail_once.add(value)
            else:
                raise ValueError(f"unknown fault kind {kind!r} in {item!r}")
        return cls(rates, frozenset(fail_once), **counted)

    def hits(self, kind: str, seed: int, seq: int) -> bool:
        """True when the probabilistic fault ``kind`` fires for request number ``seq``."""
        rate = self.rates.get(kind, 0.0)
        if rate <= 0.0:
            return False
        digest = hashlib.blake2b(f"{seed}:{kind}:{seq}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") / 2.0**64 < rate

    def __str__(self) -> str:
        items = [f"{k}:{v:g}" for k, v in self.rates.items()]
        items += [f"job_fail_once:{o}" for o in sorted(self.job_fail_once)]
        items += [f"{k}:{getattr(self, k)}" for k in COUNTED if getattr(self, k)]
        return ",".join(items)
