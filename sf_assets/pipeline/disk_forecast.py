"""The disk a refresh will use at its peak, per area (work, staging, output), predicted before it starts.

A refresh's files pile up at two moments (`moments`; measured with `bench/disk_peak.py`, docs/PERFORMANCE.md
"Disk: predicted and measured"): when staging swaps an object in, and when the datasets are promoted. Each area's
bytes come from rows (the preflight COUNT) x bytes per row: measured in the previous refresh (chunk files from the
job tracker, staged tables from the staging DB's pages) or, before any, estimated from the column types of the
object's last field plan or, before any plan, its SOQL's fields. What the areas hold now is measured.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sf_assets.config.models import PipelineConfig
from sf_assets.extract.tracker import extracted_sizes
from sf_assets.salesforce.soql import parse_soql
from sf_assets.schema.field_plan import FieldPlan
from sf_assets.storage.sqlite_util import connect_readonly
from sf_assets.storage.staging_loading import loading_folder
from sf_assets.transform.staged import referenced_tables

# SQLite bytes of one value by column kind (record header byte included), before any refresh measured them.
SQLITE_VALUE_BYTES = {"bool": 2, "int64": 4, "float64": 9, "decimal": 9, "date": 11, "timestamp": 25, "time": 16}
ID_BYTES, PICKLIST_BYTES, TEXT_BYTES = 19, 12, 24  # Ids and references; picklists; other text (first refresh)
ROW_OVERHEAD = 12  # cell pointer, rowid and record header of one SQLite row
INDEX_ROW_BYTES = 27  # one index entry on an Id-like key
CHUNK_PER_SQLITE = 0.3  # chunk Parquet (compressed) per SQLite byte, measured (docs/PERFORMANCE.md)


@dataclass(frozen=True)
class RowBytes:
    """Bytes per row of one object on disk: its chunk files, its loading file, its staged table with indexes."""

    chunk: float
    loading: float
    staged: float
    basis: str  # "previous refresh" or "column types"


@dataclass(frozen=True)
class DiskForecast:
    """Bytes of each area now and at each moment of the refresh; `share` is what publishing adds to the share."""

    present: dict[str, int]
    moments: dict[str, dict[str, int]]
    share: int
    basis: dict[str, str] = field(default_factory=dict)

    @property
    def peak(self) -> dict[str, int]:
        """The areas at the moment their total is largest."""
        return max(self.moments.values(), key=lambda m: sum(m.values()))

    def growth(self, areas: Iterable[str]) -> dict[str, int]:
        """Bytes `areas` (on one drive) will hold beyond what they hold now, at their own largest moment."""
        wanted = list(areas)
        moment = max(self.moments.values(), key=lambda m: sum(m[a] for a in wanted))
        return {a: max(0, moment[a] - self.present[a]) for a in wanted}

    def to_dict(self) -> dict[str, object]:
        """The health JSON's `disk_forecast`: bytes now, at the peak and at each moment, and what they come from."""
        peak = self.peak
        return {"peak_bytes": {**peak, "total": sum(peak.values())}, "present_bytes": self.present,
                "moments_bytes": self.moments, "share_bytes": self.share, "basis": self.basis}


def tree_bytes(path: Path, seen: set[tuple[int, int]]) -> int:
    """Bytes of a file or of every file under a folder (0 when missing), each file counted once across `seen`:
    a version's files are hard links of each other (held, promoted, the stable file)."""
    try:
        if path.is_dir():
            with os.scandir(path) as entries:
                return sum(tree_bytes(Path(entry.path), seen) for entry in entries)
        stat = path.lstat()
    except (FileNotFoundError, NotADirectoryError):  # a file deleted while we look
        return 0
    if (stat.st_dev, stat.st_ino) in seen:
        return 0
    seen.add((stat.st_dev, stat.st_ino))
    return stat.st_size


def area_bytes(areas: Mapping[str, Sequence[Path]]) -> dict[str, int]:
    """Bytes on disk of each area's files and folders now (a file linked into two areas counts in the first)."""
    seen: set[tuple[int, int]] = set()
    return {area: sum(tree_bytes(p, seen) for p in paths) for area, paths in areas.items()}


def drive_of(path: Path) -> str:
    """The drive holding `path` (or its nearest existing folder): its Windows drive or share (``D:\\``), else its
    mount point."""
    path = path.resolve()
    while not path.exists() and path.parent != path:
        path = path.parent
    if path.drive:
        return path.anchor
    device = path.stat().st_dev
    while path.parent != path and path.parent.stat().st_dev == device:
        path = path.parent
    return str(path)


def staging_files(staging_db: Path) -> list[Path]:
    """The staging DB with its -wal and -shm, and the folder of the loading files."""
    return [staging_db, staging_db.with_name(staging_db.name + "-wal"), staging_db.with_name(staging_db.name + "-shm"),
            loading_folder(staging_db)]


def area_paths(config: PipelineConfig) -> dict[str, list[Path]]:
    """The folders and files of each area."""
    paths = config.paths
    return {"work": [paths.work_dir], "staging": staging_files(paths.staging_db), "output": [paths.output_dir]}


def staged_table_bytes(staging_db: Path) -> dict[str, tuple[int, int, int]]:
    """(table bytes, index bytes, rows) of each staged object, from the staging DB's pages (empty when none).

    Pages are counted (`dbstat`'s aggregate `pageno`), not its `pgsize` summed: SQLite sums that in 32 bits (a
    2.2 GB table read as -2.1 GB). Reads every page: 2.5 s for a 2.8 GB staging DB (10 M rows) on this VM."""
    if not staging_db.exists():
        return {}
    conn = connect_readonly(staging_db)
    try:
        rows = dict(conn.execute("SELECT object, rows FROM _sf_tables").fetchall())
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        sizes: dict[str, list[int]] = {}
        for table, kind, pages in conn.execute(
            "SELECT s.tbl_name, s.type, SUM(d.pageno) FROM dbstat('main', 1) d JOIN sqlite_schema s ON s.name = d.name"
            " GROUP BY s.tbl_name, s.type"):
            sizes.setdefault(table, [0, 0])[kind == "index"] += pages * page
        return {obj: (sizes[obj][0], sizes[obj][1], n) for obj, n in rows.items() if obj in sizes and n}
    except sqlite3.Error:  # no bookkeeping tables yet, or an SQLite without dbstat: estimated instead
        return {}
    finally:
        conn.close()


def value_bytes(kind: str, sf_type: str) -> int:
    """SQLite bytes of one value of a column, before any refresh measured it."""
    if kind != "string":
        return SQLITE_VALUE_BYTES.get(kind, 9)
    return {"id": ID_BYTES, "reference": ID_BYTES, "picklist": PICKLIST_BYTES}.get(sf_type, TEXT_BYTES)


def estimated_row_bytes(plan: FieldPlan | None, soql: str, indexes: int) -> RowBytes:
    """Bytes per row from the column types of the field plan (or, without one, the SOQL's fields as text)."""
    if plan is not None:
        values = sum(value_bytes(c.kind, c.sf_type) for c in plan.columns)
    else:
        fields = parse_soql(soql).fields
        values = ID_BYTES + TEXT_BYTES * (40 if "*" in fields else len(fields) - 1)
    loading = ROW_OVERHEAD + values
    return RowBytes(CHUNK_PER_SQLITE * loading, loading, loading + INDEX_ROW_BYTES * indexes, "column types")


def row_bytes(config: PipelineConfig, conn: sqlite3.Connection,
              plans: Mapping[str, FieldPlan]) -> dict[str, RowBytes]:
    """Bytes per row of every configured object: measured by the previous refresh, else estimated from `plans`."""
    chunks = {obj: size / rows for obj, (size, rows) in extracted_sizes(conn).items() if rows}
    staged = staged_table_bytes(config.paths.staging_db)
    out = {}
    for obj in config.objects:
        if obj.name in chunks and obj.name in staged:
            table, index, rows = staged[obj.name]
            out[obj.name] = RowBytes(chunks[obj.name], table / rows, (table + index) / rows, "previous refresh")
        else:
            indexes = 1 + len(obj.join_keys) + len(obj.index_fields)
            out[obj.name] = estimated_row_bytes(plans.get(obj.name), obj.soql, indexes)
    return out


def moments(rows: Mapping[str, int], per_row: Mapping[str, RowBytes], present: Mapping[str, int],
            dataset_tables: Sequence[Sequence[str]], sqlite_engine: bool) -> dict[str, dict[str, int]]:
    """Each area's bytes at the two moments a refresh piles up its files, `rows` in staging order.

    Staging swaps object X in (the peak, bench/disk_peak.py): the staging DB (as it was, or the tables staged so far
    with X's) after the checkpoint, X's loading file and its new table + indexes still in the WAL, the loading files
    of the objects staged after it; work holds every chunk file. Promotion: the chunk files, the engine's result
    (parts, and for the sqlite engine its private SQLite result) and the held version in work; the new output
    version counts once more in output (a copy where work and output are on different drives, else a link).
    """
    chunk = {o: rows[o] * per_row[o].chunk for o in rows}
    loading = {o: rows[o] * per_row[o].loading for o in rows}
    staged = {o: rows[o] * per_row[o].staged for o in rows}
    order = list(rows)
    swaps = [max(present["staging"], sum(staged[o] for o in order[: i + 1])) + loading[x] + staged[x]
             + sum(loading[o] for o in order[i + 1:]) for i, x in enumerate(order)]
    dataset = sum(sum(chunk.get(t, 0) for t in tables) for tables in dataset_tables)  # its Parquet: about its input
    result = sum(sum(loading.get(t, 0) for t in tables) for tables in dataset_tables) if sqlite_engine else dataset
    work = present["work"] + sum(chunk.values())
    return {
        "staging swap": {"work": int(work), "staging": int(max(swaps, default=present["staging"])),
                         "output": present["output"]},
        "promotion": {"work": int(work + result + dataset),
                      "staging": int(max(present["staging"], sum(staged.values()))),
                      "output": int(present["output"] + dataset)},
    }


def forecast_disk(config: PipelineConfig, conn: sqlite3.Connection, rows: Mapping[str, int],
                  plans: Mapping[str, FieldPlan]) -> DiskForecast:
    """The forecast of a refresh of `rows` (each object's COUNT) with this configuration and state DB; `plans`: the
    field plans of objects no refresh measured yet."""
    per_row = row_bytes(config, conn, plans)
    present = area_bytes(area_paths(config))
    names = [o.name for o in config.objects]
    tables = [referenced_tables(d.sql, names) for d in config.datasets]
    found = moments({o: rows.get(o, 0) for o in names}, per_row, present, tables, config.transform.engine == "sqlite")
    share = int(sum(rows.get(t, 0) * per_row[t].chunk for ts in tables for t in ts))
    return DiskForecast(present, found, share, {o: r.basis for o, r in per_row.items()})
