"""Atomic file writes that also work on Windows (where antivirus and indexers briefly hold files)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import uuid
from pathlib import Path

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay, wait_incrementing

from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.temp_owner import owner_tag

log = logging.getLogger(__name__)


TEMP_FILE = re.compile(r"\.p\d+s\d+-[0-9a-f]{8}\.tmp$")


class FileInUse(PermissionError):
    """Another program (Power BI Desktop, an antivirus) kept a file open for the whole wait."""


BRIEF_WAIT_S = 2.0  # an antivirus or an indexer lets go of a file it is reading within this


def replace_when_free(src: Path, dst: Path, wait_s: float = BRIEF_WAIT_S, *, held_by: str | None = None,
                      wait_key: str | None = None) -> None:
    """os.replace(src, dst), retried while another program holds one of them open (Windows: PermissionError) for up
    to `wait_s` seconds (waits 0.2, 0.4, … up to 1 s); FileInUse (a PermissionError) when it stays in use.

    `held_by` names the program a user may close (Power BI Desktop for the output's files): the wait is then
    announced with one warning and the error asks to close it; `wait_key` is the setting `wait_s` came from.
    """
    def announce(state: RetryCallState) -> None:
        if held_by and state.attempt_number == 1:
            log.warning("%s is in use by another program (%s?): waiting up to %.0f s for it to be closed",
                        dst, held_by, wait_s)

    try:
        Retrying(stop=stop_after_delay(wait_s), wait=wait_incrementing(0.2, 0.2, max=1.0), before_sleep=announce,
                 retry=retry_if_exception_type(PermissionError), reraise=True)(os.replace, src, dst)
    except PermissionError as exc:
        close, key = (f" (close it in {held_by})" if held_by else ""), (f" ({wait_key})" if wait_key else "")
        raise FileInUse(f"{dst} is in use by another program{close}; still in use after {wait_s:.0f} s{key}") from exc


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
        replace_when_free(tmp, path)
    finally:
        delete_when_free(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text variant of `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def file_digest(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of the file at `path` (MD5 for chunk and manifest checksums, SHA-256 for share copies)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()
