"""Publishing to a share, with real files and folders under tmp_path standing in for the share."""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sf_assets.config.models import PublishConfig, RetryConfig
from sf_assets.publish import PublishError, publish_file, publish_folder, published_name, ready_path
from sf_assets.publish import copy as copy_module
from sf_assets.publish.units import human_bytes, human_rate

NOW = datetime(2025, 1, 31, 2, 3, 4, tzinfo=UTC)
RETRY = RetryConfig(attempts=3, backoff_base_s=1.0, backoff_max_s=60.0, jitter_s=0.0)
POLICY = PublishConfig(retries=3)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Sleeps(list):
    """Records the backoff waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_publish_copies_renames_and_writes_ready_marker(
    src: Path, share: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[int, int]] = []
    caplog.set_level(logging.INFO, logger="sf_assets")
    result = publish_file(src, share, "20250131T020000Z-ab12", POLICY, RETRY, now=NOW,
                          progress=lambda done, total: seen.append((done, total)))

    assert result.path == share / "sales__20250131T020304Z__20250131T020000Z-ab12.parquet"
    assert result.path.read_bytes() == src.read_bytes()
    assert result.bytes == src.stat().st_size and result.checksum == sha256(src)
    assert result.mb_per_s > 0 and result.removed_old == []
    marker = json.loads(ready_path(result.path).read_text(encoding="utf-8"))
    assert marker["bytes"] == result.bytes and marker["checksum"] == sha256(src)
    assert marker["refresh_id"] == "20250131T020000Z-ab12" and marker["source"] == str(src)
    assert sorted(p.name for p in share.iterdir()) == [result.path.name, result.path.name + "__READY"]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (result.bytes, result.bytes)
    assert re.search(r"Copied 16\.8 MB to .*share in \d+\.\d s \(\d+(\.\d)? MB/s\)", caplog.text)


def test_published_name_is_filesystem_safe() -> None:
    name = published_name("sales", ".parquet", "2025-01-31T02:00:00Z/x y", NOW)
    assert name == "sales__20250131T020304Z__2025-01-31T02-00-00Z-x-y.parquet"
    assert not set(name) & set(':\\/*?"<>| ')


def test_human_units() -> None:
    assert human_bytes(4.2e9) == "4.2 GB" and human_bytes(512) == "512 B"
    assert human_rate(int(4.2e9), 68) == "62 MB/s" and human_rate(4_500_000, 1) == "4.5 MB/s"


class FailingReader:
    """Wraps the real source handle and raises OSError once `fail_after` bytes were read.

    Simulated because a real source or network read cannot be made to fail on cue; the copy
    loop sees the same exception a dropped SMB connection raises mid-transfer.
    """

    def __init__(self, handle, fail_after: int) -> None:
        self._handle, self._left = handle, fail_after

    def readinto(self, buffer) -> int:
        if self._left <= 0:
            raise OSError(64, "The specified network name is no longer available")
        n = self._handle.readinto(buffer)
        self._left -= n
        return n

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()


def fail_reads_of(monkeypatch: pytest.MonkeyPatch, src: Path, fail_after: int, failures: int) -> None:
    """Make the copy module's `open` of `src` fail mid-read for the first `failures` opens."""
    real_open, left = builtins.open, [failures]

    def fake_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if Path(path) == src and "r" in mode and left[0] > 0:
            left[0] -= 1
            return FailingReader(handle, fail_after)
        return handle

    monkeypatch.setattr(copy_module, "open", fake_open, raising=False)


def test_failure_mid_copy_leaves_nothing_under_final_name(
    src: Path, share: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sha256(src)
    fail_reads_of(monkeypatch, src, fail_after=copy_module.BLOCK_SIZE, failures=99)
    sleeps = Sleeps()
    with pytest.raises(PublishError) as info:
        publish_file(src, share, "r1", POLICY, RETRY, now=NOW, sleep=sleeps)
    assert "\n" not in str(info.value) and "after 4 attempt(s)" in str(info.value)
    assert list(share.iterdir()) == []  # no final name, no .tmp, no READY
    assert sleeps == [1.0, 2.0, 4.0]
    assert sha256(src) == before


def test_failure_then_success_on_retry(src: Path, share: Path, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    fail_reads_of(monkeypatch, src, fail_after=copy_module.BLOCK_SIZE, failures=1)
    sleeps = Sleeps()
    result = publish_file(src, share, "r1", POLICY, RETRY, now=NOW, sleep=sleeps)
    assert result.path.read_bytes() == src.read_bytes() and sleeps == [1.0]
    assert (f"Retrying publish of sales.parquet to {share} due to The specified network name is no longer available. "
            "Attempt 2 of 4") in caplog.text  # the cause in words, no exception repr
    assert "Attempt 2 of 4" in caplog.text
    assert not list(share.glob("*.tmp"))


@pytest.mark.parametrize("unreachable", ["missing/share", "a_file/share"])
def test_unreachable_share_retries_then_fails(src: Path, tmp_path: Path, unreachable: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a_file").write_text("not a folder")  # a share path under a file cannot be opened
    share = tmp_path / unreachable
    before = sha256(src)
    sleeps = Sleeps()
    with pytest.raises(PublishError, match=r"failed after 4 attempt\(s\)"):
        publish_file(src, share, "r1", POLICY, RETRY, now=NOW, sleep=sleeps)
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Retrying publish")]
    assert len(sleeps) == 3 and [m[-14:] for m in retries] == ["Attempt 2 of 4", "Attempt 3 of 4", "Attempt 4 of 4"]
    assert not share.exists()  # never created: an unmounted share must not be written under
    assert sha256(src) == before and list(src.parent.iterdir()) == [src]


def test_missing_source_fails_without_retries(share: Path, tmp_path: Path) -> None:
    sleeps = Sleeps()
    with pytest.raises(PublishError, match="not a file"):
        publish_file(tmp_path / "nope.parquet", share, "r1", POLICY, RETRY, sleep=sleeps)
    assert sleeps == []


def corrupt_tmp_copies(share: Path, times: int):
    """A progress callback that flips a byte of the .tmp copy after the last block was written.

    Simulates a share that stores different bytes than were sent (bad NIC, SMB bug): only the
    re-read after fsync can notice it.
    """
    left = [times]

    def progress(done: int, total: int) -> None:
        if done == total and left[0] > 0:
            left[0] -= 1
            (tmp,) = share.glob("*.tmp")
            with open(tmp, "r+b") as handle:
                first = handle.read(1)
                handle.seek(0)
                handle.write(bytes([first[0] ^ 0xFF]))

    return progress


def test_checksum_mismatch_is_detected_and_retried(src: Path, share: Path) -> None:
    sleeps = Sleeps()
    result = publish_file(src, share, "r1", POLICY, RETRY, now=NOW, progress=corrupt_tmp_copies(share, 1), sleep=sleeps)
    assert len(sleeps) == 1 and sha256(result.path) == sha256(src)


def test_persistent_checksum_mismatch_fails(src: Path, share: Path) -> None:
    with pytest.raises(PublishError, match="checksum mismatch"):
        publish_file(src, share, "r1", POLICY, RETRY, now=NOW, progress=corrupt_tmp_copies(share, 99), sleep=Sleeps())
    assert list(share.iterdir()) == []


def test_retention_keeps_last_n_and_ignores_other_names(src: Path, share: Path) -> None:
    foreign = ["sales.parquet", "other__20200101T000000Z__r.parquet", "sales__20200101T000000Z__r.csv",
               "salesX__20200101T000000Z__r.parquet", "sales__notes.parquet", "sales__2020__r.parquet"]
    for name in foreign:
        (share / name).write_text("not ours")
    policy = PublishConfig(retries=0, keep_last=2)
    results = [publish_file(src, share, f"r{i}", policy, RETRY, now=NOW + timedelta(hours=i)) for i in range(4)]

    assert results[2].removed_old == [results[0].path] and results[3].removed_old == [results[1].path]
    kept = {r.path.name for r in results[2:]} | {ready_path(r.path).name for r in results[2:]}
    assert {p.name for p in share.iterdir()} == kept | set(foreign)


def test_retention_off_keeps_everything(src: Path, share: Path) -> None:
    for i in range(3):
        publish_file(src, share, f"r{i}", POLICY, RETRY, now=NOW + timedelta(days=i))
    assert len(list(share.glob("sales__*.parquet"))) == 3


def test_publish_folder(tmp_path: Path, share: Path) -> None:
    dataset = tmp_path / "sales_dataset"
    (dataset / "year=2024").mkdir(parents=True)
    (dataset / "year=2024" / "part-0.parquet").write_bytes(os.urandom(1000))
    (dataset / "_SUCCESS").write_text("")
    result = publish_folder(dataset, share, "r1", PublishConfig(retries=0, keep_last=1), RETRY, now=NOW)

    assert result.path == share / "sales_dataset__20250131T020304Z__r1" and result.bytes == 1000
    assert (result.path / "year=2024" / "part-0.parquet").read_bytes() == (
        dataset / "year=2024" / "part-0.parquet"
    ).read_bytes()
    assert (result.path / "_SUCCESS").exists()
    assert json.loads(ready_path(result.path).read_text())["checksum"] == result.checksum
    later = publish_folder(
        dataset, share, "r2", PublishConfig(retries=0, keep_last=1), RETRY, now=NOW + timedelta(hours=1)
    )
    assert later.removed_old == [result.path] and sorted(p.name for p in share.iterdir()) == [
        later.path.name, ready_path(later.path).name]


def test_progress_log_lines(
    src: Path, share: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(copy_module, "LOG_EVERY_S", 0.0)  # a line per block instead of one per 10 s
    caplog.set_level(logging.INFO, logger="sf_assets")
    publish_file(src, share, "r1", POLICY, RETRY, now=NOW)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Copying sales.parquet")]
    assert len(lines) == 3 and lines[-1].startswith("Copying sales.parquet: 16.8 MB of 16.8 MB (100 %")


def test_retention_never_removes_the_copy_just_published(src: Path, share: Path) -> None:
    policy = PublishConfig(retries=0, keep_last=1)
    newer = publish_file(src, share, "r1", policy, RETRY, now=NOW)
    older = publish_file(src, share, "r2", policy, RETRY, now=NOW - timedelta(days=1))  # a clock set back
    assert older.path.exists() and newer.path.exists() and older.removed_old == []
