"""Names of published copies: `<stem>__<UTC stamp>__<refresh_id><suffix>`, safe on Windows (no colons)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
READY_SUFFIX = "__READY"
TMP_SUFFIX = ".tmp"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_component(text: str) -> str:
    """`text` reduced to letters, digits, '.', '_' and '-' (valid in Windows and POSIX file names)."""
    return _UNSAFE.sub("-", text).strip(".-") or "unnamed"


def utc_stamp(now: datetime | None = None) -> str:
    """'20250131T020304Z' for `now` (default: the current time; a naive datetime is taken as UTC)."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).strftime(STAMP_FORMAT)


def published_name(stem: str, suffix: str, refresh_id: str, now: datetime | None = None) -> str:
    """`<stem>__<UTC stamp>__<refresh_id><suffix>`, the refresh id made filesystem-safe."""
    return f"{stem}__{utc_stamp(now)}__{safe_component(refresh_id)}{suffix}"


def ready_path(published: Path) -> Path:
    """The READY marker that sits next to a published file or folder."""
    return published.with_name(published.name + READY_SUFFIX)


def tmp_path(published: Path) -> Path:
    """The temporary name a copy is written under before its rename."""
    return published.with_name(published.name + TMP_SUFFIX)


@dataclass(frozen=True)
class PublishedEntry:
    """A name in the share that follows our naming: the path and its UTC stamp."""

    path: Path
    stamp: str


def find_published(share_dir: Path, stem: str, suffix: str, *, tmp: bool = False) -> list[PublishedEntry]:
    """Published copies of `stem` (or their `.tmp` leftovers when `tmp`) in `share_dir`, oldest first."""
    pattern = re.compile(
        rf"^{re.escape(stem)}__(\d{{8}}T\d{{6}}Z)__[A-Za-z0-9._-]+{re.escape(suffix)}"
        + (re.escape(TMP_SUFFIX) if tmp else "")
        + "$"
    )
    entries = []
    for path in share_dir.iterdir():
        match = pattern.match(path.name)
        # With an empty suffix (folders) the refresh id part could swallow '.tmp' or '__READY'.
        if match and (tmp or not path.name.endswith((TMP_SUFFIX, READY_SUFFIX))):
            entries.append(PublishedEntry(path, match.group(1)))
    return sorted(entries, key=lambda e: (e.stamp, e.path.name))
