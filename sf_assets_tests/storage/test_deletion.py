"""Deleting what another program holds open (Windows, simulated): never raised, recorded, deleted later."""

import json
import logging
import os
import time

from sf_assets.config.models import PathsConfig
from sf_assets.storage.deletion import PENDING_LIST, delete_when_free, retry_pending_deletes, track_deletes
from sf_assets.storage.manifest import SUCCESS
from sf_assets.storage.output_cleanup import prune_versions
from sf_assets_tests.held_files import HeldFiles


def _paths(tmp_path) -> PathsConfig:
    return PathsConfig(work_dir=tmp_path / "work", output_dir=tmp_path / "out", log_dir=tmp_path / "logs",
                       state_db=tmp_path / "state" / "state.db", staging_db=tmp_path / "state" / "staging.db")


def _version(folder, mtime: float) -> None:
    (folder / "dataset").mkdir(parents=True)
    (folder / "dataset" / "part-0.parquet").write_bytes(b"rows")
    (folder / "opps.parquet").write_bytes(b"rows")
    (folder / SUCCESS).write_text("")
    os.utime(folder, (mtime, mtime))


def test_a_held_file_is_left_and_recorded_then_deleted_by_a_later_refresh_once_free(tmp_path, monkeypatch, caplog):
    paths = _paths(tmp_path)
    pending = track_deletes(paths)
    held = HeldFiles(monkeypatch)
    folder = tmp_path / "work" / "chunks" / "r1" / "Account"
    folder.mkdir(parents=True)
    (folder / "c0001.parquet").write_bytes(b"free")
    held.hold(folder / "c0002.parquet")
    (folder / "c0002.parquet").write_bytes(b"open in a virus scanner")
    with caplog.at_level(logging.WARNING):
        assert delete_when_free(folder) is False  # no exception
    assert "another program may have it open; a later refresh deletes it" in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == ["c0002.parquet"]  # what was free is gone
    assert list(json.loads(pending.read_text())) == [str(folder)]

    assert retry_pending_deletes(paths) == [] and folder.exists()  # still open: kept, still recorded
    assert list(json.loads(pending.read_text())) == [str(folder)]
    held.release_all()
    assert retry_pending_deletes(paths) == [folder] and not folder.exists()
    assert json.loads(pending.read_text()) == {}


def test_a_recorded_file_written_again_since_is_never_deleted(tmp_path, monkeypatch):
    paths = _paths(tmp_path)
    pending = track_deletes(paths)
    held = HeldFiles(monkeypatch)
    loading = tmp_path / "state" / "staging.db.loading" / "Account.db"
    loading.parent.mkdir(parents=True)
    loading.write_bytes(b"old")
    held.hold(loading)
    assert delete_when_free(loading) is False
    held.release_all()
    time.sleep(0.01)
    loading.write_bytes(b"the next refresh's rows")  # the path belongs to its new writer now
    assert retry_pending_deletes(paths) == []
    assert loading.read_bytes() == b"the next refresh's rows" and json.loads(pending.read_text()) == {}


def test_a_path_outside_the_tracked_folders_is_left_and_logged(tmp_path, monkeypatch, caplog):
    held = HeldFiles(monkeypatch)
    stray = tmp_path / "elsewhere" / "file.bin"
    stray.parent.mkdir()
    stray.write_bytes(b"x")
    held.hold(stray)
    with caplog.at_level(logging.WARNING):
        assert delete_when_free(stray) is False
    assert "it stays" in caplog.text and not (tmp_path / "work" / PENDING_LIST).exists()
    assert delete_when_free(tmp_path / "never-existed") is True


def test_prune_finds_a_version_it_half_deleted_again(tmp_path, monkeypatch):
    root = tmp_path / "out" / "opps"
    now = time.time()
    for age, name in ((300, "vr1"), (200, "vr2"), (100, "vr3")):
        _version(root / name, now - age)
    (root / "current.json").write_text(json.dumps({"folder": "vr3"}))
    held = HeldFiles(monkeypatch)
    held.hold(root / "vr1" / "dataset" / "part-0.parquet")  # Power BI Desktop has the old version open
    assert prune_versions(root, keep=2) == []
    assert not (root / "vr1" / SUCCESS).exists() and (root / "vr1").is_dir()  # half deleted
    held.release_all()
    assert prune_versions(root, keep=2) == [root / "vr1"]  # no longer looks like a version, still found
    assert sorted(p.name for p in root.iterdir()) == ["current.json", "vr2", "vr3"]


def test_a_held_version_holding_an_open_file_is_dropped_in_place_and_never_looks_complete(tmp_path, monkeypatch):
    from sf_assets.storage.output_held import HELD_INFO, drop, read_held

    folder = tmp_path / "work" / "held" / "opps" / "vr1"
    _version(folder, time.time())
    (folder / HELD_INFO).write_text(json.dumps({"sql": "x", "sources_staged_at": {}}))
    HeldFiles(monkeypatch).hold(folder / "dataset" / "part-0.parquet")  # Windows refuses to rename the folder too
    drop(folder)  # no exception
    assert [p.name for p in folder.rglob("*") if p.is_file()] == ["part-0.parquet"]
    assert read_held(tmp_path / "work" / "held", "opps", "r1") is None
