"""Staging survives a kill at any point and never opens staging.db with two SQLite libraries.

The kills are real: a child process stages chunk files and is killed with ``Popen.kill()``
(SIGKILL on POSIX, TerminateProcess on Windows) while paused inside the load or the swap.
"""

import sqlite3
import subprocess
import sys
from pathlib import Path

import adbc_driver_sqlite.dbapi as adbc
import pytest

from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.sqlite_util import DatabaseLocked
from sf_assets.storage.staging import loading_folder, stage_object
from sf_assets_tests.storage.emulated_chunks import write_chunks
from sf_assets_tests.storage.test_staging import CFG, OBJ, PLAN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def chunks(tmp_path):
    return write_chunks(DataGenerator({"Account": 100, "Opportunity": 2500}), PLAN, tmp_path / "chunks", 1000)


def _child(db: Path, chunks: list[Path], pause_in: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "sf_assets_tests.storage.staging_child", "--db", str(db),
           "--chunks", *map(str, chunks)] + (["--pause-in", pause_in] if pause_in else [])
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when_paused(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    assert line.strip() == "PAUSED", line + proc.stderr.read()
    proc.kill()
    proc.wait(10)


def _exact(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute('SELECT count(*), count(DISTINCT Id) FROM "Opportunity"').fetchone() == (2500, 2500)
        assert conn.execute("SELECT rows FROM _sf_tables WHERE object = 'Opportunity'").fetchone() == (2500,)
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%loading%'").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("pause_in", ["load", "swap"])
def test_kill_mid_staging_then_rerun_in_a_new_and_in_this_process(tmp_path, chunks, pause_in):
    db = tmp_path / "staging.db"
    first = _child(db, chunks[:1])
    assert first.communicate(timeout=60)[0].strip() == "STAGED 1000"
    _kill_when_paused(_child(db, chunks, pause_in))
    assert list(loading_folder(db).iterdir()), "the killed load left its loading file"
    conn = sqlite3.connect(db)  # the previous table is intact after the kill
    assert conn.execute('SELECT count(*) FROM "Opportunity"').fetchone() == (1000,)
    conn.close()

    _kill_when_paused(_child(db, chunks, pause_in))  # killed twice: the rerun still ends exact
    rerun = _child(db, chunks)
    assert rerun.communicate(timeout=60)[0].strip() == "STAGED 2500"
    _exact(db)
    assert not list(loading_folder(db).iterdir()), "the dead runs' loading files were removed"

    _kill_when_paused(_child(db, chunks, pause_in))
    reader = sqlite3.connect(db)  # a stdlib reader open in this process during the rerun (as the engines do)
    try:
        assert reader.execute('SELECT count(*) FROM "Opportunity"').fetchone() == (2500,)
        assert stage_object(db, PLAN, chunks, OBJ, CFG).rows == 2500
        assert reader.execute('SELECT count(*) FROM "Opportunity"').fetchone() == (2500,)
    finally:
        reader.close()
    _exact(db)


def test_a_left_over_loading_table_is_dropped_by_the_next_load(tmp_path, chunks):
    db = tmp_path / "staging.db"
    conn = sqlite3.connect(db)
    conn.execute('CREATE TABLE "Opportunity__loading" (Id TEXT)')
    conn.executemany('INSERT INTO "Opportunity__loading" VALUES (?)', [(str(i),) for i in range(5000)])
    conn.commit()
    conn.close()
    stage_object(db, PLAN, chunks, OBJ, CFG)
    _exact(db)


def test_adbc_never_opens_a_file_that_stdlib_sqlite3_has_open(tmp_path, chunks, monkeypatch):
    """The invariant behind the SIGBUS: at every ADBC connect, no sqlite3 connection of this process is open on that
    file."""
    open_files: dict[int, Path] = {}
    real_connect, real_adbc = sqlite3.connect, adbc.connect

    class Tracked(sqlite3.Connection):
        def close(self):
            open_files.pop(id(self), None)
            super().close()

    def tracking_connect(database, *args, **kwargs):
        conn = real_connect(database, *args, factory=Tracked, **kwargs)
        name = str(database).removeprefix("file:").split("?")[0]
        open_files[id(conn)] = Path(name).resolve()
        return conn

    adbc_files: list[Path] = []

    def checking_adbc(uri, *args, **kwargs):
        path = Path(uri).resolve()
        assert path not in open_files.values(), f"sqlite3 has {path} open while ADBC opens it"
        assert path != db.resolve(), "ADBC must never open the staging DB itself"
        adbc_files.append(path)
        return real_adbc(uri, *args, **kwargs)

    db = tmp_path / "staging.db"
    monkeypatch.setattr(sqlite3, "connect", tracking_connect)
    monkeypatch.setattr(adbc, "connect", checking_adbc)
    reader = sqlite3.connect(db)  # a reader held open all along
    stage_object(db, PLAN, chunks, OBJ, CFG)
    stage_object(db, PLAN, chunks, OBJ, CFG)
    reader.close()
    assert len(adbc_files) == 2 * len(chunks) and not open_files  # one append per chunk file and load
    _exact(db)


def test_a_staging_db_locked_by_another_program_fails_with_a_clear_message(tmp_path, chunks):
    db = tmp_path / "staging.db"
    stage_object(db, PLAN, chunks, OBJ, CFG)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('BEGIN EXCLUSIVE'); print('LOCKED', flush=True); time.sleep(60)"), str(db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        cfg = CFG.model_copy(update={"lock_timeout_s": 1.5})
        with pytest.raises(DatabaseLocked, match=r"staging DB .*staging\.db is locked by another program"):
            stage_object(db, PLAN, chunks, OBJ, cfg)
    finally:
        holder.kill()
        holder.wait(10)
    stage_object(db, PLAN, chunks, OBJ, CFG)
    _exact(db)
