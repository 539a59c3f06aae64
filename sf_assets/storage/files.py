"""Atomic file writes that also work on Windows (where antivirus and indexers briefly hold files)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

from sf_assets.storage.temp_owner import owner_tag

log = logging.getLogger(__name__)


def replace_with_retry(src: Path, dst: Path, attempts: int = 5, wait_s: float = 0.2) -> None:
    """os.replace(src, dst), retried briefly on PermissionError (Windows file locks), waits growing by `wait_s`."""
    Retrying(stop=stop_after_attempt(attempts), wait=wait_incrementing(wait_s, wait_s), reraise=True,
             retry=retry_if_exception_type(PermissionError))(os.replace, src, dst)


TEMP_FILE = re.compile(r"\.p\d+s\d+-[0-9a-f]{8}\.tmp$")


class FileInUse(PermissionError):
    """Another program (Power BI Desktop, an antivirus) kept a file open for the whole wait."""


def replace_when_free(src: Path, dst: Path, wait_s: float, poll_s: float = 1.0) -> None:
    """os.replace(src, dst), waiting up to `wait_s` while another program holds `dst` open (Windows).

    Logs one clear warning when the wait starts; raises FileInUse when the file stays in use.
    """
    deadline = time.monotonic() + wait_s
    warned = False
    while True:
        try:
            os.replace(src, dst)
            return
        except PermissionError as exc:
            if time.monotonic() >= deadline:
                raise FileInUse(
                    f"{dst} is in use by another program (close it in Power BI Desktop); still in use after "
                    f"{wait_s:.0f} s (output.in_use_wait_s)") from exc
            if not warned:
                log.warning("%s is in use by another program (Power BI Desktop?): waiting up to %.0f s for it "
                            "to be closed", dst, wait_s)
                warned = True
            time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def link_or_copy(source: Path, dest: Path) -> None:
    """Make ``dest`` a hard link of ``source`` (no bytes written), or a copy where links are impossible
    (FAT/exFAT volumes, some shares)."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def temp_path_for(path: Path) -> Path:
    """A unique temporary sibling of `path` (same folder, so the final rename is atomic), tagged with its owner."""
    return path.with_name(f".{path.name}.{owner_tag()}-{uuid.uuid4().hex[:8]}.tmp")


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


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of the file at `path` (MD5 for chunk and manifest checksums, SHA-256 for share copies)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()
