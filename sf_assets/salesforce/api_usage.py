"""Daily API request usage: read from /limits or the Sforce-Limit-Info header, in one shape everywhere."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_HEADER = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class ApiUsage:
    """Used and maximum daily API requests, and when Salesforce reported them (UTC; None when not known)."""

    used: int
    max: int
    at: datetime | None = None

    @property
    def pct(self) -> float:
        """Percentage used (0 when the maximum is unknown)."""
        return 100.0 * self.used / self.max if self.max else 0.0

    def describe(self) -> str:
        """'18,000 of 20,000 API calls used (90.0 %)': the log lines' form."""
        return f"{self.used:,} of {self.max:,} API calls used ({self.pct:.1f} %)"

    def to_dict(self) -> dict[str, Any]:
        """The one stored and shown shape (health JSON, refresh facts, asset metadata): used, max, pct, at."""
        at = self.at.isoformat(timespec="seconds") if self.at else None
        return {"used": self.used, "max": self.max, "pct": round(self.pct, 2), "at": at}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ApiUsage:
        """Read `to_dict`'s shape, or the previous release's `{api_used, api_max, api_used_pct}` (its refresh facts)."""
        if "api_used" in value:
            return cls(int(value["api_used"]), int(value["api_max"]))
        at = value.get("at")
        return cls(int(value["used"]), int(value["max"]), datetime.fromisoformat(at) if at else None)


def usage_from_limits(limits: dict[str, Any]) -> ApiUsage:
    """ApiUsage from a /limits response (DailyApiRequests {Max, Remaining}), read now."""
    daily = limits["DailyApiRequests"]
    return ApiUsage(int(daily["Max"]) - int(daily["Remaining"]), int(daily["Max"]), datetime.now(UTC))


def usage_from_header(value: str | None) -> ApiUsage | None:
    """ApiUsage from `Sforce-Limit-Info: api-usage=N/M[; api-bursts=...]` received now, tolerant of extras."""
    match = _HEADER.search(value or "")
    return ApiUsage(int(match.group(1)), int(match.group(2)), datetime.now(UTC)) if match else None
