"""The health report of one refresh, and its JSON-ready form (every string redacted)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sf_assets.health.environment import code_version, package_versions
from sf_assets.observability.redaction import redact
from sf_assets.publish import PublishResult
from sf_assets.salesforce.api_usage import ApiUsage

Status = Literal["success", "failed", "running", "superseded"]
STATUSES = ("success", "failed", "running", "superseded")
LAST_MESSAGES = 20
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ChunkCounts:
    """Chunks of one object: ok (first try), fixed (after a retry), failed, skipped (never completed), and
    retried (a retry was logged for it, whatever its outcome: the log's count)."""

    ok: int = 0
    fixed: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0

    def __add__(self, other: ChunkCounts) -> ChunkCounts:
        return ChunkCounts(self.ok + other.ok, self.fixed + other.fixed, self.failed + other.failed,
                           self.skipped + other.skipped, self.retried + other.retried)


@dataclass(frozen=True)
class Messages:
    """How many errors (or warnings) occurred, and the last few of them."""

    count: int = 0
    last: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, messages: Sequence[str], keep: int = LAST_MESSAGES) -> Messages:
        """Count all of `messages`, keep the last `keep`."""
        return cls(len(messages), list(messages[-keep:]) if keep else [])


@dataclass(frozen=True)
class DiskFree:
    """Free and total bytes of the disk holding a path (error set when it could not be read)."""

    free_bytes: int | None = None
    total_bytes: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ObjectRows:
    """Rows of one object: Salesforce's COUNT() at preflight (None when not counted) and the rows extracted."""

    expected: int | None
    extracted: int


@dataclass(frozen=True)
class FileInfo:
    """A final output file."""

    path: Path
    bytes: int
    checksum: str | None = None


@dataclass(frozen=True)
class PublishStatus:
    """The share copy of one output: where it went, or why it did not."""

    source: Path
    ok: bool
    path: Path | None = None
    error: str | None = None

    @classmethod
    def from_result(cls, source: Path, result: PublishResult) -> PublishStatus:
        """A successful publish."""
        return cls(source, True, result.path)


@dataclass
class HealthReport:
    """Everything the health JSON says about one refresh; fill what is known, leave the rest empty."""

    refresh_id: str
    status: Status
    started_at: datetime | None = None
    ended_at: datetime | None = None
    run_ids: list[str] = field(default_factory=list)
    rows_per_object: dict[str, int] = field(default_factory=dict)
    objects: dict[str, ObjectRows] = field(default_factory=dict)
    chunks: dict[str, ChunkCounts] = field(default_factory=dict)
    errors: Messages = field(default_factory=Messages)
    warnings: Messages = field(default_factory=Messages)
    api_usage_start: ApiUsage | None = None
    api_usage_end: ApiUsage | None = None
    disk_free_start: dict[str, DiskFree] = field(default_factory=dict)
    disk_forecast: Mapping[str, Any] | None = None  # preflight's prediction of the refresh's peak disk
    disk_free_end: dict[str, DiskFree] = field(default_factory=dict)
    dask: Mapping[str, Any] = field(default_factory=dict)
    sqlite: Mapping[str, Any] = field(default_factory=dict)
    final_files: list[FileInfo] = field(default_factory=list)
    published: list[PublishStatus] = field(default_factory=list)
    outputs: Mapping[str, Any] = field(default_factory=dict)  # promoted / failed (with why) / held back datasets
    code: dict[str, str | None] = field(default_factory=code_version)
    packages: dict[str, str | None] = field(default_factory=package_versions)
    sections: Mapping[str, Any] = field(default_factory=dict)  # recorded by the stages (refresh_facts.put_health)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")

    def human_summary(self, duration_s: float | None) -> str:
        """One line a person reads first (`sf-assets status` prints it): outcome, rows, chunks, warnings, errors."""
        c = sum(self.chunks.values(), ChunkCounts())
        took = f" in {duration_s:.0f} s" if duration_s is not None else ""
        line = (f"Refresh {self.refresh_id} {self.status}{took}: {sum(self.rows_per_object.values()):,} rows of "
                f"{len(self.rows_per_object)} object(s); chunks {c.ok + c.fixed} ok ({c.retried} retried), "
                f"{c.failed} failed, {c.skipped} pending; "
                f"{self.warnings.count} warning(s), {self.errors.count} error(s)")
        first_error = self.errors.last[0] if self.errors.last else None
        return line + (f"; first error: {first_error}" if first_error else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content with duration and totals next to their figures, then the stages' sections at the top
        level (a section never replaces a key above); every string (keys too) redacted."""
        duration = (self.ended_at - self.started_at).total_seconds() if self.started_at and self.ended_at else None
        derived = {
            "status": ("human_summary", self.human_summary(duration)),
            "ended_at": ("duration_s", duration),
            "rows_per_object": ("rows_total", sum(self.rows_per_object.values())),
            "chunks": ("chunks_total", sum(self.chunks.values(), ChunkCounts())),
        }
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "generated_at": datetime.now(UTC)}
        for f in fields(self):
            if f.name == "sections":
                continue
            data[f.name] = getattr(self, f.name)
            if f.name in derived:
                key, value = derived[f.name]
                data[key] = value
        data.update(api_usage_start=_usage(self.api_usage_start), api_usage_end=_usage(self.api_usage_end))
        for name, value in self.sections.items():
            data.setdefault(name, value)
        return _clean(data)


def _usage(usage: ApiUsage | None) -> dict[str, Any] | None:
    return None if usage is None else usage.to_dict()


def _clean(value: Any) -> Any:
    """Plain JSON values (no deep copies: any object in the dask/sqlite dicts is fine): datetimes as ISO
    text, dataclasses as dicts, paths and unknown objects as text, every string redacted."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _clean(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {redact(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):  # numpy integers too
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(value) else None  # NaN is not JSON
    if isinstance(value, datetime):
        return value.isoformat()
    return redact(str(value))
