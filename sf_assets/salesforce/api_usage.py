"""Daily API request usage: read from /limits or the Sforce-Limit-Info header."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_HEADER = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class ApiUsage:
    """Used and maximum daily API requests."""

    used: int
    max: int

    @property
    def pct(self) -> float:
        """Percentage used (0 when the maximum is unknown)."""
        return 100.0 * self.used / self.max if self.max else 0.0

    def describe(self) -> str:
        """'18,000 of 20,000 API calls used (90.0 %)'."""
        return f"{self.used:,} of {self.max:,} API calls used ({self.pct:.1f} %)"

    def as_metadata(self) -> dict[str, float]:
        """Plain numbers for asset metadata and the health JSON."""
        return {"api_used": self.used, "api_max": self.max, "api_used_pct": round(self.pct, 2)}


def usage_from_limits(limits: dict[str, Any]) -> ApiUsage:
    """ApiUsage from a /limits response (DailyApiRequests {Max, Remaining})."""
    daily = limits["DailyApiRequests"]
    return ApiUsage(used=int(daily["Max"]) - int(daily["Remaining"]), max=int(daily["Max"]))


def usage_from_header(value: str | None) -> ApiUsage | None:
    """ApiUsage from `Sforce-Limit-Info: api-usage=N/M[; api-bursts=...]`, tolerant of extras."""
    match = _HEADER.search(value or "")
    return ApiUsage(int(match.group(1)), int(match.group(2))) if match else None
