"""SQLite connections for local state and staging files: WAL, busy timeout, `database is locked` retries."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from sf_assets.storage.staging_types import register_decimal_collation

T = TypeVar("T")


def connect(path: Path, cache_size_mb: int = 64, busy_timeout_s: float = 30,
            page_size: int | None = None) -> sqlite3.Connection:
    """Open `path` (creating its folder) with WAL, synchronous=NORMAL and a busy timeout.

    `page_size` applies when the file is new (SQLite keeps an existing file's page size).

    Only Python's sqlite3 may open these files: a second SQLite library (such as the one bundled
    by adbc-driver-sqlite) on the same file in the same process corrupts it (see storage.staging).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    if page_size is not None:
        conn.execute(f"PRAGMA page_size={int(page_size)}")  # before WAL: a new file takes it at its first write
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{int(cache_size_mb) * 1024}")
    conn.execute("PRAGMA foreign_keys=ON")
    return register_decimal_collation(conn)  # staged wide decimals compare as numbers


class DatabaseLocked(RuntimeError):
    """Another program kept a SQLite file locked for the whole retry budget."""


def retry_locked(fn: Callable[[], T], attempts: int = 3, wait_s: float = 1.0, *, what: str = "the database") -> T:
    """Run `fn`, retrying `database is locked` errors (`wait_s` apart, `attempts` in all).

    When the lock outlasts the attempts, raises DatabaseLocked naming `what`.
    """
    retrying = Retrying(stop=stop_after_attempt(attempts), wait=wait_fixed(wait_s), reraise=True,
                        retry=retry_if_exception(_is_locked))  # sqlite3's or ADBC's OperationalError alike
    try:
        return retrying(fn)
    except Exception as exc:
        if not _is_locked(exc):
            raise
        raise DatabaseLocked(
            f"{what} is locked by another program (still locked after {attempts} tries); "
            "close the program that has it open (a DB browser, another refresh) and run again") from exc


def _is_locked(exc: BaseException) -> bool:
    return "database is locked" in str(exc)


def readonly_uri(path: PurePath) -> str:
    """The `file:` URI opening `path` read-only: percent-encoded by `Path.as_uri()` ('#', '?', '%', spaces);
    a UNC path (\\\\server\\share\\x.db) gets SQLite's empty-authority form file:////server/share/x.db."""
    uri = path.as_uri()
    if uri.startswith("file://") and not uri.startswith("file:///"):  # UNC: SQLite refuses a URI authority
        uri = "file:////" + uri[len("file://"):]
    return f"{uri}?mode=ro"


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the existing SQLite file at `path` (relative to the working folder), with the
    decimal collation staging uses (what the engines, health and clean-up read through)."""
    return register_decimal_collation(sqlite3.connect(readonly_uri(Path(path).absolute()), uri=True))
