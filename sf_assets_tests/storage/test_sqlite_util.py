"""The read-only SQLite helper opens files whose paths hold '#', '?', '%' and spaces, and UNC paths."""

import sqlite3
from pathlib import PurePosixPath, PureWindowsPath

import pytest

from sf_assets.storage.sqlite_util import connect, connect_readonly, readonly_uri
from sf_assets.storage.staging import staging_stats


@pytest.mark.parametrize(("path", "uri"), [
    (PurePosixPath("/data/a #1/b?c/50% off.db"), "file:///data/a%20%231/b%3Fc/50%25%20off.db?mode=ro"),
    (PureWindowsPath(r"C:\Users\me\sf #1\state.db"), "file:///C:/Users/me/sf%20%231/state.db?mode=ro"),
    (PureWindowsPath(r"\\server\share\sf assets\state.db"), "file:////server/share/sf%20assets/state.db?mode=ro"),
])
def test_uri_is_percent_encoded_and_unc_has_no_authority(path, uri):
    assert readonly_uri(path) == uri  # SQLite refuses a URI authority other than localhost


def test_reads_a_database_under_a_path_with_special_characters(tmp_path):
    db = tmp_path / "sf #1 ?x" / "50% off" / "staging.db"
    conn = connect(db)
    conn.execute("CREATE TABLE Account (Id TEXT PRIMARY KEY, Name TEXT)")
    conn.execute("INSERT INTO Account VALUES ('001', 'Acme')")
    conn.execute("CREATE TABLE _sf_tables (object TEXT, rows INTEGER, staged_at TEXT)")  # staging's own record
    conn.execute("INSERT INTO _sf_tables VALUES ('Account', 1, '2026-01-01T00:00:00Z')")
    conn.close()
    with pytest.raises(sqlite3.OperationalError):  # what the 7 call sites did before: the path is cut at '#'/'?'
        sqlite3.connect(f"file:{db.as_posix()}?mode=ro", uri=True).execute("SELECT 1 FROM Account")
    ro = connect_readonly(db)
    try:
        assert ro.execute("SELECT Name FROM Account").fetchall() == [("Acme",)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            ro.execute("INSERT INTO Account VALUES ('002', 'B')")
    finally:
        ro.close()
    assert staging_stats(db)["tables"]["Account"]["rows"] == 1  # a call site
