"""Log files: a folder per refresh, one file per process in it, Windows' locked-file rollover simulated,
context fields and redaction on every line."""

import contextvars
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from sf_assets.observability.logs import (
    CONTEXT_FIELDS,
    ROOT,
    ProcessLogHandler,
    current_log_file,
    log_context,
    setup_logging,
)
from sf_assets.observability.redaction import register_secret

CHILD = textwrap.dedent("""
    import logging, sys
    from pathlib import Path
    from sf_assets.observability.logs import log_context, setup_logging
    setup_logging("INFO", Path(sys.argv[1]), "json", console=False)
    logging.getLogger("sf_assets.child").info("before any refresh")
    for refresh_id in ("20261203T080000Z-aaaa", "20261203T090000Z-bbbb"):
        with log_context(refresh_id=refresh_id, run_id=sys.argv[2], object="Account", chunk_id="c0001"):
            for i in range(100):
                logging.getLogger("sf_assets.child").info("line %d of %s", i, sys.argv[2])
""")
REFRESHES = ("20261203T080000Z-aaaa", "20261203T090000Z-bbbb")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_folder_per_refresh_and_a_file_per_process_with_context_on_every_line(tmp_path):
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), f"run{n}"]) for n in range(3)]
    assert [child.wait(timeout=60) for child in children] == [0, 0, 0]
    pids = sorted(child.pid for child in children)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == list(REFRESHES)  # one folder per refresh
    for refresh_id in REFRESHES:
        files = sorted((tmp_path / refresh_id).glob("sf_assets_*.log"))
        # no file shared by two processes: nothing to rename under another's open handle
        assert sorted(int(path.stem.rsplit("_", 1)[1]) for path in files) == pids
        for path in files:
            lines = _lines(path)
            assert len(lines) == 100 and len({line["run_id"] for line in lines}) == 1
            assert all(line["refresh_id"] == refresh_id and line["object"] == "Account" and line["chunk_id"] == "c0001"
                       for line in lines)
    outside = sorted(tmp_path.glob("sf_assets_*.log"))  # lines of no refresh: each process's own file, at the top
    assert sorted(int(path.stem.rsplit("_", 1)[1]) for path in outside) == pids
    assert all([line["message"] for line in _lines(path)] == ["before any refresh"] for path in outside)


def test_rollover_blocked_by_another_program_keeps_every_record(tmp_path, monkeypatch):
    """Windows refuses to rename a file another program has open (WinError 32); simulated with os.rename."""
    path = tmp_path / "sf_assets_test.log"
    handler = ProcessLogHandler(path, max_bytes=2_000, backup_count=2, retry_s=3600)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("sf_assets_tests.rollover")
    logger.propagate = False
    logger.addHandler(handler)
    real_rename = os.rename

    def locked_rename(src, dst):
        if Path(src) == path:
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", locked_rename)
    try:
        for i in range(100):
            logger.warning("record %03d %s", i, "x" * 40)
        assert not (tmp_path / "sf_assets_test.log.1").exists()
        assert [line.split()[1] for line in path.read_text().splitlines()] == [f"{i:03d}" for i in range(100)]
        monkeypatch.setattr(os, "rename", real_rename)  # the other program closed the file
        handler.retry_s, handler._next_try = 0, 0
        logger.warning("record 100 after the lock")
        assert (tmp_path / "sf_assets_test.log.1").exists()  # rolled over once the file was free
        assert "record 100" in path.read_text()
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_redacted_before_any_handler_even_from_child_loggers(tmp_path):
    """A handler on the parent logger (as Dagster's is at step start) sees child records unfiltered: only
    redaction at record creation protects it."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    collector = Collect()
    collector.setFormatter(logging.Formatter("%(message)s %(exc_text)s"))
    logging.getLogger(ROOT).addHandler(collector)  # first in line, as Dagster's is in a run worker
    setup_logging("INFO", tmp_path, "json", console=False)
    register_secret("s3cr3t-value-42")
    try:
        with log_context(refresh_id="r9"):
            log = logging.getLogger("sf_assets.deep.child")
            log.warning("password is %s", "s3cr3t-value-42")
            try:
                raise RuntimeError("token s3cr3t-value-42 rejected")
            except RuntimeError:
                log.exception("failed")
    finally:
        logging.getLogger(ROOT).removeHandler(collector)
    text = current_log_file("r9").read_text(encoding="utf-8")
    assert seen and all("s3cr3t-value-42" not in line for line in seen)
    assert "s3cr3t-value-42" not in text and text.count("***") >= 2
    assert all(set(CONTEXT_FIELDS) <= set(line) for line in _lines(current_log_file("r9")))


def test_old_log_files_are_removed_at_setup(tmp_path):
    old, old_refresh = tmp_path / "sf_assets_20200101T000000Z_1.log", tmp_path / "20200101T000000Z-aaaa"
    old_refresh.mkdir()
    recent = tmp_path / "20261201T000000Z-bbbb" / "sf_assets_20261201T000000Z_2.log"
    recent.parent.mkdir()
    for path in (old, old_refresh / "sf_assets_20200101T000000Z_1.log", recent):
        path.write_text("line\n")
    for path in (old, old_refresh / "sf_assets_20200101T000000Z_1.log"):
        os.utime(path, (0, 0))
    setup_logging("INFO", tmp_path, "json", console=False)
    assert not old.exists() and not old_refresh.exists() and recent.exists()  # the refresh's folder went with it
    unbound = contextvars.Context()  # no refresh bound yet (an earlier test in this worker may have bound one)
    assert unbound.run(current_log_file).parent == tmp_path and current_log_file("r2").parent == tmp_path / "r2"
