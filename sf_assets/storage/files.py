"""Atomic file writes that also work on Windows (where antivirus and indexers briefly hold files)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path


def replace_with_retry(src: Path, dst: Path, attempts: int = 5, wait_s: float = 0.2) -> None:
    """os.replace(src, dst), retried briefly on PermissionError (Windows file locks)."""
    for attempt in range(1, attempts + 1):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if attempt == attempts:
                raise
            time.sleep(wait_s * attempt)


def temp_path_for(path: Path) -> Path:
    """A unique temporary sibling of `path` (same folder, so the final rename is atomic)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file + fsync + rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        replace_with_retry(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text variant of `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))
