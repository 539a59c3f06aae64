"""The loading file: appended chunk by chunk (during extraction, by the preloader), used by staging only while it
holds exactly the chunk files being staged, rebuilt otherwise, removed once staged."""

import logging
import os
import sqlite3

import adbc_driver_sqlite.dbapi as adbc
import pytest

from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.chunk_schema import check_chunk
from sf_assets.storage.staging import stage_object
from sf_assets.storage.staging_loading import ChunkPreloader, append_chunk, load_chunks, loading_file, loading_folder
from sf_assets_tests.storage.emulated_chunks import write_chunks
from sf_assets_tests.storage.test_staging import CFG, OBJ, PLAN


@pytest.fixture()
def chunks(tmp_path):
    return write_chunks(DataGenerator({"Account": 100, "Opportunity": 2500}), PLAN, tmp_path / "chunks", 1000)


@pytest.fixture()
def adbc_opens(monkeypatch):
    opened = []
    real = adbc.connect

    def counting(uri, *args, **kwargs):
        opened.append(uri)
        return real(uri, *args, **kwargs)

    monkeypatch.setattr(adbc, "connect", counting)
    return opened


def test_a_chunk_is_appended_once_and_a_re_extracted_chunk_rebuilds_the_file(tmp_path, chunks, adbc_opens):
    db = tmp_path / "loading" / "Opportunity.db"
    append_chunk(db, PLAN, check_chunk(chunks[0], PLAN), 500)
    append_chunk(db, PLAN, check_chunk(chunks[0], PLAN), 500)
    assert len(adbc_opens) == 1
    assert load_chunks(db, PLAN, [check_chunk(c, PLAN) for c in chunks], 500) == 2500
    assert len(adbc_opens) == 3  # only the two missing chunks were appended
    stat = chunks[0].stat()
    os.utime(chunks[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # chunk 1 was re-extracted
    assert load_chunks(db, PLAN, [check_chunk(c, PLAN) for c in chunks], 500) == 2500
    assert len(adbc_opens) == 6, "a file holding an old version of a chunk is rebuilt from every chunk file"


def test_a_loading_file_with_other_chunks_is_not_used(tmp_path, chunks):
    db = tmp_path / "loading" / "Opportunity.db"
    load_chunks(db, PLAN, [check_chunk(c, PLAN) for c in chunks], 500)
    assert load_chunks(db, PLAN, [check_chunk(chunks[1], PLAN)], 500) == 1000  # a smaller set: rebuilt, exact


def test_preloaded_chunks_make_staging_copy_only(tmp_path, chunks, adbc_opens):
    db = tmp_path / "staging.db"
    with ChunkPreloader(db, PLAN, CFG.batch_rows) as preloader:
        for chunk in chunks:
            preloader.submit(chunk)
    assert loading_file(db, "Opportunity").exists() and len(adbc_opens) == len(chunks)
    assert stage_object(db, PLAN, chunks, OBJ, CFG).rows == 2500
    assert len(adbc_opens) == len(chunks), "staging loaded a chunk the preloader had appended"
    assert not list(loading_folder(db).iterdir()), "the loading file was removed once staged"


def test_a_failed_preload_is_only_a_warning_and_staging_loads_the_rest(tmp_path, chunks, caplog):
    db = tmp_path / "staging.db"
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with caplog.at_level(logging.WARNING), ChunkPreloader(db, PLAN, CFG.batch_rows) as preloader:
        preloader.submit(broken)
        preloader.submit(chunks[0])
    assert "Pre-loading chunk broken.parquet into SQLite failed" in caplog.text
    assert stage_object(db, PLAN, chunks, OBJ, CFG).rows == 2500


def test_an_object_without_chunk_files_is_staged_as_an_empty_table(tmp_path):
    db = tmp_path / "staging.db"
    assert stage_object(db, PLAN, [], OBJ, CFG).rows == 0
    conn = sqlite3.connect(db)
    try:
        assert conn.execute('SELECT count(*) FROM "Opportunity"').fetchone() == (0,)
    finally:
        conn.close()


def test_a_loading_file_whose_rows_disagree_with_its_records_is_rebuilt(tmp_path, chunks, caplog):
    db = tmp_path / "loading" / "Opportunity.db"
    load_chunks(db, PLAN, [check_chunk(c, PLAN) for c in chunks], 500)
    conn = sqlite3.connect(db)
    conn.execute('DELETE FROM "Opportunity" WHERE rowid % 7 = 0')  # rows lost behind the records' back
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING):
        assert load_chunks(db, PLAN, [check_chunk(c, PLAN) for c in chunks], 500) == 2500
    assert "rebuilding it" in caplog.text
    conn = sqlite3.connect(db)
    try:
        assert conn.execute('SELECT count(*), count(DISTINCT Id) FROM "Opportunity"').fetchone() == (2500, 2500)
    finally:
        conn.close()


def test_a_loading_file_left_by_another_refresh_is_started_over_by_the_first_append(tmp_path, chunks, adbc_opens):
    db = tmp_path / "loading" / "Opportunity.db"
    load_chunks(db, PLAN, [check_chunk(c, PLAN) for c in chunks], 500)  # staged never: left behind
    newer = write_chunks(DataGenerator({"Account": 100, "Opportunity": 1500}), PLAN, tmp_path / "refresh2", 1000)
    append_chunk(db, PLAN, check_chunk(newer[0], PLAN), 500)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute('SELECT count(*) FROM "Opportunity"').fetchone() == (1000,)
    finally:
        conn.close()
    opened = len(adbc_opens)
    assert load_chunks(db, PLAN, [check_chunk(c, PLAN) for c in newer], 500) == 1500
    assert len(adbc_opens) == opened + 1, "only the chunk not yet appended was loaded"


def test_a_stale_loading_file_another_program_holds_open_never_fails_staging(tmp_path, chunks, monkeypatch):
    """Windows (simulated by `held_files`): a virus scanner holding the loading file; it cannot be deleted."""
    from sf_assets_tests.held_files import HeldFiles

    db = tmp_path / "staging.db"
    load_chunks(loading_file(db, "Opportunity"), PLAN, [check_chunk(chunks[1], PLAN)], 500)  # another set: stale
    HeldFiles(monkeypatch).hold(loading_file(db, "Opportunity"))
    assert stage_object(db, PLAN, chunks, OBJ, CFG).rows == 2500  # emptied in place, loaded, swapped in
    conn = sqlite3.connect(db)
    try:
        assert conn.execute('SELECT count(*), count(DISTINCT "Id") FROM "Opportunity"').fetchone() == (2500, 2500)
    finally:
        conn.close()
    assert loading_file(db, "Opportunity").exists()  # left for a later refresh to delete
