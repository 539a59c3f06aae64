"""Publish a consolidated file (or a dataset folder) to the network share: copy, verify, rename, READY."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sf_assets.config.models import PublishConfig, RetryConfig
from sf_assets.publish.copy import ALGORITHM, Progress, ProgressLog, copy_verified
from sf_assets.publish.naming import published_name, ready_path, tmp_path
from sf_assets.publish.retention import prune_published
from sf_assets.publish.retrying import PublishError, with_retries
from sf_assets.publish.units import human_bytes, human_rate, human_seconds, mb_per_s
from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import atomic_write_text, replace_when_free

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishResult:
    """Outcome of a publish: final path, size, timing of the successful attempt, checksum, retention."""

    path: Path
    bytes: int
    seconds: float
    mb_per_s: float
    checksum: str
    removed_old: list[Path] = field(default_factory=list)


def publish_file(src: Path, share_dir: Path, refresh_id: str, policy: PublishConfig, retry: RetryConfig, *,
                 now: datetime | None = None, progress: Progress | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> PublishResult:
    """Copy `src` to `share_dir` as `<stem>__<UTC stamp>__<refresh_id><suffix>` with a READY marker.

    The copy is written as `<name>.tmp`, fsynced, verified (size and checksum), then renamed; OSErrors
    are retried `policy.retries` times with exponential backoff. The share folder is never created:
    a missing one means an unreachable share (or an unmounted drive that must not be written under).
    """
    src, share_dir = Path(src), Path(share_dir)
    if not src.is_file():
        raise PublishError(f"Cannot publish {src}: it is not a file")
    final = share_dir / published_name(src.stem, src.suffix, refresh_id, now)

    def attempt() -> tuple[int, str]:
        return copy_verified(src, tmp_path(final), ProgressLog(src.name, progress))

    return _publish(src, final, refresh_id, attempt, policy, retry, sleep, (src.stem, src.suffix))


def publish_folder(src_dir: Path, share_dir: Path, refresh_id: str, policy: PublishConfig, retry: RetryConfig, *,
                   now: datetime | None = None, progress: Progress | None = None,
                   sleep: Callable[[float], None] = time.sleep, stem: str | None = None) -> PublishResult:
    """Like `publish_file` for a folder: copied to `<name>.tmp/` file by file, verified, then renamed.

    The checksum is that of a manifest (relative path, size and checksum of every file, sorted); `stem`
    names the copy (default: the folder's name).
    """
    src_dir, share_dir = Path(src_dir), Path(share_dir)
    if not src_dir.is_dir():
        raise PublishError(f"Cannot publish {src_dir}: it is not a folder")
    final = share_dir / published_name(stem or src_dir.name, "", refresh_id, now)

    def attempt() -> tuple[int, str]:
        return _copy_tree(src_dir, tmp_path(final), ProgressLog(src_dir.name, progress))

    return _publish(src_dir, final, refresh_id, attempt, policy, retry, sleep, (src_dir.name, ""))


def _copy_tree(src_dir: Path, dst_dir: Path, progress: Progress) -> tuple[int, str]:
    files = sorted(p for p in src_dir.rglob("*") if p.is_file())
    grand_total = sum(p.stat().st_size for p in files)
    delete_when_free(dst_dir)  # a leftover of an attempt whose cleanup failed
    dst_dir.mkdir()
    manifest = hashlib.new(ALGORITHM)
    done = 0
    for path in files:
        rel = path.relative_to(src_dir)
        (dst_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        size, checksum = copy_verified(path, dst_dir / rel, progress, offset=done, grand_total=grand_total)
        manifest.update(f"{rel.as_posix()}\t{size}\t{checksum}\n".encode())
        done += size
    return done, manifest.hexdigest()


def _publish(src: Path, final: Path, refresh_id: str, copy: Callable[[], tuple[int, str]], policy: PublishConfig,
             retry: RetryConfig, sleep: Callable[[float], None], stem_suffix: tuple[str, str]) -> PublishResult:
    def attempt() -> tuple[int, str, float]:
        started = time.monotonic()
        tmp = tmp_path(final)
        try:
            size, checksum = copy()
            replace_when_free(tmp, final)
            _write_ready(final, src, refresh_id, size, checksum)
        except BaseException:
            delete_when_free(tmp)
            raise
        return size, checksum, time.monotonic() - started

    size, checksum, seconds = with_retries(attempt, f"{src.name} to {final.parent}", policy, retry, sleep)
    log.info("Copied %s to %s in %s (%s): %s", human_bytes(size), final.parent, human_seconds(seconds),
             human_rate(size, seconds), final.name)
    removed: list[Path] = []
    if policy.keep_last:
        try:
            removed = prune_published(final.parent, *stem_suffix, policy.keep_last, protect=final)
        except OSError as exc:  # retention must never fail a publish that succeeded
            log.warning("Retention in %s skipped: %s", final.parent, exc)
    return PublishResult(final, size, seconds, mb_per_s(size, seconds), checksum, removed)


def _write_ready(final: Path, src: Path, refresh_id: str, size: int, checksum: str) -> None:
    """Write the READY marker; without it the copy is withdrawn so that a retry starts clean."""
    marker = {"file": final.name, "bytes": size, "checksum": checksum, "algorithm": ALGORITHM,
              "refresh_id": refresh_id, "source": str(src),
              "published_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        atomic_write_text(ready_path(final), json.dumps(marker, indent=2))
    except BaseException:
        delete_when_free(final)
        raise
