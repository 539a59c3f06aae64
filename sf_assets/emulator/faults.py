"""Fault plans: which failures the emulator injects, decided deterministically from the seed."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

PROBABILISTIC = ("503", "429", "reset", "short_page")
COUNTED = ("slow_jobs", "expire_session_after")


@dataclass(frozen=True)
class FaultPlan:
    """Fault injection settings; parse them from a spec like ``"503:0.05,reset:0.02"``."""

    rates: dict[str, float] = field(default_factory=dict)
    job_fail_once: frozenset[str] = frozenset()
    slow_jobs: int = 0
    expire_session_after: int = 0

    @classmethod
    def parse(cls, spec: str | None) -> "FaultPlan":
        """Parse ``kind:value`` items separated by commas; raise ValueError on a bad item."""
        rates: dict[str, float] = {}
        fail_once: set[str] = set()
        counted = {"slow_jobs": 0, "expire_session_after": 0}
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
        return cls(rates, frozenset(fail_once), counted["slow_jobs"], counted["expire_session_after"])

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
