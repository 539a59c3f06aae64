"""The staged tables as the dataset engines see them: plan, rows and the chunk files they came from."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets.storage.staging_types import sql_names


@dataclass(frozen=True)
class StagedFile:
    """A chunk file as it was when staged."""

    path: Path
    bytes: int
    mtime_ns: int
    rows: int

    def unchanged(self) -> bool:
        """True while the file still has the staged size and modification time."""
        try:
            stat = self.path.stat()
        except OSError:
            return False
        return stat.st_size == self.bytes and stat.st_mtime_ns == self.mtime_ns


@dataclass(frozen=True)
class StagedTable:
    """One staged object."""

    name: str
    plan: FieldPlan
    rows: int
    files: tuple[StagedFile, ...]

    @property
    def columns(self) -> list[str]:
        return sql_names(self.plan)

    def files_unchanged(self) -> bool:
        """True when the chunk files are exactly those staged (then they may be read instead)."""
        return bool(self.files) and all(f.unchanged() for f in self.files)


def staged_tables(staging_db: Path) -> dict[str, StagedTable]:
    """Every staged table of the staging DB, by object name."""
    conn = connect_readonly(staging_db)
    try:
        files: dict[str, list[StagedFile]] = {}
        for obj, path, size, mtime, rows in conn.execute(
            "SELECT object, path, bytes, mtime_ns, rows FROM _sf_staged_files ORDER BY object, path"
        ):
            files.setdefault(obj, []).append(StagedFile(Path(path), size, mtime, rows))
        return {
            name: StagedTable(name, FieldPlan.from_json(plan), rows, tuple(files.get(name, ())))
            for name, plan, rows in conn.execute("SELECT object, plan_json, rows FROM _sf_tables")
        }
    finally:
        conn.close()


def referenced_tables(sql: str, tables: Iterable[str]) -> list[str]:
    """The table names of ``tables`` (staged, or configured objects) that appear as a word in ``sql``
    (case-insensitive): what a dataset reads."""
    return [name for name in tables if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", sql, re.IGNORECASE)]


def rows_read(sqls: Iterable[str], tables: dict[str, StagedTable]) -> int:
    """The staged rows the statements read together (each table counted once): what sizes a dataset build."""
    read = {name for sql in sqls for name in referenced_tables(sql, tables)}
    return sum(tables[name].rows for name in read)
