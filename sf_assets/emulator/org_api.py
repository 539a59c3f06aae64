"""What the HTTP server and the endpoint handlers need of an org (EmulatorOrg provides it; no import cycle)."""
from __future__ import annotations

from typing import Any, Protocol

from .auth import Sessions
from .counters import Counters
from .datagen import DataGenerator
from .faults import FaultPlan
from .jobs import JobStore
from .rest import Cursors


class Org(Protocol):
    """The state and the counters of one emulated org."""

    settings: Any
    data: DataGenerator
    faults: FaultPlan
    stats: Counters
    jobs: JobStore
    cursors: Cursors
    sessions: Sessions

    def handle(self, h: Any, method: str, path: str, query: dict[str, str], body: bytes) -> None: ...
    def counters(self) -> dict[str, Any]: ...
    def set_faults(self, faults: FaultPlan) -> None: ...
    def set_api_used_pct(self, pct: float) -> None: ...
    def count_api_request(self) -> int: ...
    def limit_info(self) -> str: ...
    def limits(self) -> dict[str, Any]: ...
    def versions(self) -> list[dict[str, str]]: ...
