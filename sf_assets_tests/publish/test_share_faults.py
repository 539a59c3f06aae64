"""The share read-only or vanishing mid-copy: a one-line error, nothing under a final name, the local file intact."""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path

import pytest

from sf_assets.publish import PublishError, publish_file
from sf_assets.publish import copy as copy_module
from sf_assets_tests.publish.test_publish import NOW, POLICY, RETRY, Sleeps, sha256


def test_a_share_that_vanishes_mid_copy_fails_cleanly(src: Path, share: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The share folder really disappears (unmounted) after the first block has been written."""
    before = sha256(src)
    real_open, gone = builtins.open, []

    class VanishingWriter:
        def __init__(self, handle) -> None:
            self._handle = handle

        def write(self, data) -> int:
            written = self._handle.write(data)
            if not gone:
                gone.append(True)
                self._handle.flush()
                shutil.rmtree(share)  # the share is gone; the next writes land nowhere
            return written

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self._handle.close()

    def fake_open(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        return VanishingWriter(handle) if Path(path).parent == share and "w" in mode else handle

    monkeypatch.setattr(copy_module, "open", fake_open, raising=False)
    with pytest.raises(PublishError) as info:
        publish_file(src, share, "r1", POLICY, RETRY, now=NOW, sleep=Sleeps())
    assert "\n" not in str(info.value)
    assert not share.exists(), "the vanished share is never re-created under the mount point"
    assert sha256(src) == before


def test_a_read_only_share_fails_with_a_one_line_error(src: Path, share: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulated: the tests run as root, for whom a read-only folder is still writable; the copy sees what
    a read-only SMB share raises on Windows (PermissionError, winerror 5)."""
    before = sha256(src)
    real_open = builtins.open

    def read_only(path, mode="r", *args, **kwargs):
        if Path(path).parent == share and any(m in mode for m in "wax"):
            raise PermissionError(13, "Access is denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(copy_module, "open", read_only, raising=False)
    with pytest.raises(PublishError, match="Access is denied") as info:
        publish_file(src, share, "r1", POLICY, RETRY, now=NOW, sleep=Sleeps())
    assert "\n" not in str(info.value)
    assert list(share.iterdir()) == [] and sha256(src) == before
