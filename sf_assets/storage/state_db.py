"""The state DB (SQLite on local disk): opened once per use, schema created on first open."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sf_assets.storage.sqlite_util import connect

_SCHEMA = resources.files("sf_assets.storage").joinpath("state_schema.sql").read_text(encoding="utf-8")
# Columns added since the first release: added on open to a state DB made by an older version.
_ADDED_COLUMNS = (("chunks", "job_records", "INTEGER"), ("chunks", "retries", "INTEGER NOT NULL DEFAULT 0"),
                  ("chunks", "retry_causes", "TEXT"))


def open_state_db(path: Path) -> sqlite3.Connection:
    """A connection to the state DB at `path`, with every table present."""
    conn = connect(path)
    conn.executescript(_SCHEMA)
    _add_missing_columns(conn)
    return conn


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, column, declaration in _ADDED_COLUMNS:
        if column in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            continue
        try:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        except sqlite3.OperationalError as exc:  # another process added it in between
            if "duplicate column" not in str(exc):
                raise


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def state_session(path: Path) -> Iterator[sqlite3.Connection]:
    """The state DB at `path` for the duration of a `with` block (closed afterwards, whatever happens)."""
    conn = open_state_db(path)
    try:
        yield conn
    finally:
        conn.close()
