"""Chunk DBs: built once per chunk file (during extraction, by the preloader), reused by staging only while
they match the chunk file and plan, and removed once staged."""

import logging
import os

import adbc_driver_sqlite.dbapi as adbc
import pytest

from sf_assets.emulator.datagen import DataGenerator
from sf_assets.storage.chunk_schema import check_chunk
from sf_assets.storage.staging import stage_object
from sf_assets.storage.staging_chunks import ChunkPreloader, chunk_db_path, ensure_chunk_db, loading_folder
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


def test_a_chunk_db_is_reused_while_it_matches_its_chunk_file(tmp_path, chunks, adbc_opens):
    folder = tmp_path / "loading"
    first = ensure_chunk_db(folder, PLAN, check_chunk(chunks[0], PLAN), 500)
    assert ensure_chunk_db(folder, PLAN, check_chunk(chunks[0], PLAN), 500) == first and len(adbc_opens) == 1
    stat = chunks[0].stat()
    os.utime(chunks[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # the chunk file was re-extracted
    assert ensure_chunk_db(folder, PLAN, check_chunk(chunks[0], PLAN), 500) == first and len(adbc_opens) == 2


def test_preloaded_chunks_make_staging_copy_only(tmp_path, chunks, adbc_opens):
    db = tmp_path / "staging.db"
    with ChunkPreloader(db, PLAN, CFG.batch_rows) as preloader:
        for chunk in chunks:
            preloader.submit(chunk)
    assert all(chunk_db_path(loading_folder(db), "Opportunity", c).exists() for c in chunks)
    assert len(adbc_opens) == len(chunks)
    assert stage_object(db, PLAN, chunks, OBJ, CFG).rows == 2500
    assert len(adbc_opens) == len(chunks), "staging loaded a chunk the preloader had loaded"
    assert not list(loading_folder(db).iterdir()), "the chunk DBs were removed once staged"


def test_a_failed_preload_is_only_a_warning_and_staging_loads_that_chunk(tmp_path, chunks, caplog):
    db = tmp_path / "staging.db"
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with caplog.at_level(logging.WARNING), ChunkPreloader(db, PLAN, CFG.batch_rows) as preloader:
        preloader.submit(broken)
        preloader.submit(chunks[0])
    assert "Pre-loading chunk broken.parquet into SQLite failed" in caplog.text
    chunk_db_path(loading_folder(db), "Opportunity", chunks[0]).unlink()  # lost: staging builds it again
    assert stage_object(db, PLAN, chunks, OBJ, CFG).rows == 2500
