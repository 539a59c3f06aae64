"""How many stable chunk partition keys each object should have, learnt from its last chunk plan."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime


def set_key_target(conn: sqlite3.Connection, object_name: str, keys: int) -> None:
    """Remember that `object_name` needs `keys` chunks of ~chunk_size rows."""
    conn.execute("INSERT OR REPLACE INTO chunk_key_targets VALUES (?, ?, ?)",
                 (object_name, max(1, int(keys)), datetime.now(UTC).isoformat(timespec="seconds")))


def key_target(conn: sqlite3.Connection, object_name: str) -> int:
    """The number of chunk keys the object should have (1 before its first plan)."""
    row = conn.execute("SELECT keys FROM chunk_key_targets WHERE object = ?", (object_name,)).fetchone()
    return int(row[0]) if row else 1
