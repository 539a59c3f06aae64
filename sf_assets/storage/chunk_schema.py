"""Schema check across an object's chunk files, and reading a chunk conformed to the master schema.

Only each file's Parquet footer is read. The master schema is the field plan's
(``plan.arrow_schema()``). A chunk is:

- ``ok``: exactly the master columns and types;
- ``fixed``: readable after conforming: missing nillable columns are added as nulls, extra
  columns dropped, castable type differences cast;
- ``invalid``: unreadable, or missing Id / a critical or non-nillable column, or a column that
  cannot be cast, or written with another field plan than the current one (the org's fields changed:
  conforming would leave a column with values in some chunks and nulls in others). Invalid chunks are skipped and
  reported so the caller re-extracts them; more
  than ``max_invalid_pct`` percent invalid raises TooManyInvalidChunks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from sf_assets.schema.field_plan import PLAN_FINGERPRINT_KEY, FieldPlan

log = logging.getLogger(__name__)

Status = Literal["ok", "fixed", "invalid"]


class TooManyInvalidChunks(RuntimeError):
    """More chunks are invalid than ``max_invalid_chunk_pct`` allows."""


@dataclass(frozen=True)
class ChunkCheck:
    """The verdict on one chunk file."""

    path: Path
    status: Status
    rows: int = 0
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class SchemaCheck:
    """Per-chunk verdicts of one object plus the master schema."""

    object_name: str
    master: pa.Schema
    chunks: tuple[ChunkCheck, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> list[ChunkCheck]:
        return [c for c in self.chunks if c.status != "invalid"]

    @property
    def invalid(self) -> list[ChunkCheck]:
        return [c for c in self.chunks if c.status == "invalid"]

    def counts(self) -> dict[str, int]:
        """Chunks per status."""
        return {s: sum(c.status == s for c in self.chunks) for s in ("ok", "fixed", "invalid")}

    def batches(self, chunk: ChunkCheck, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Record batches of a valid chunk with exactly the master schema."""
        yield from read_conformed(chunk.path, self.master, batch_rows)


def check_chunk(path: Path, plan: FieldPlan) -> ChunkCheck:
    """Compare one chunk file's Parquet schema with the plan's (footer only)."""
    master = plan.arrow_schema()
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except (OSError, pa.ArrowException) as exc:
        return ChunkCheck(path, "invalid", reason=f"unreadable: {exc}")
    written_with = (schema.metadata or {}).get(PLAN_FINGERPRINT_KEY)
    if written_with is not None and written_with.decode() != plan.fingerprint:
        return ChunkCheck(path, "invalid", meta.num_rows, reason="extracted with an earlier field plan")
    have = {f.name: f.type for f in schema}
    required = {c.name for c in plan.columns if c.critical or not c.nullable or c.name == "Id"}
    missing = [f.name for f in master if f.name not in have]
    bad_required = [n for n in missing if n in required]
    if bad_required:
        return ChunkCheck(path, "invalid", meta.num_rows, reason=f"missing critical columns {bad_required}")
    uncastable = [f.name for f in master if f.name in have and not _castable(have[f.name], f.type)]
    if uncastable:
        return ChunkCheck(path, "invalid", meta.num_rows, reason=f"uncastable columns {uncastable}")
    cast = tuple(f.name for f in master if f.name in have and have[f.name] != f.type)
    dropped = tuple(n for n in have if n not in master.names)
    status: Status = "fixed" if missing or cast or dropped or schema.names != master.names else "ok"
    if missing:
        log.debug(
            "Chunk file %s has columns [%s] vs master [%s]: added %s as null",
            path.name, ",".join(schema.names), ",".join(master.names), ",".join(missing),
        )
    return ChunkCheck(path, status, meta.num_rows, tuple(missing), dropped, cast)


def check_chunks(plan: FieldPlan, files: Sequence[Path], max_invalid_pct: float) -> SchemaCheck:
    """Check every chunk file of an object; raise TooManyInvalidChunks above ``max_invalid_pct``."""
    result = SchemaCheck(plan.object_name, plan.arrow_schema(), tuple(check_chunk(Path(f), plan) for f in files))
    counts = result.counts()
    log.info(
        "Validated %d chunks: %d OK, %d fixed, %d skipped",
        len(files), counts["ok"], counts["fixed"], counts["invalid"],
    )
    for chunk in result.invalid:
        log.warning("Chunk file %s is invalid (%s): skipped, re-extract it", chunk.path, chunk.reason)
    pct = 100.0 * counts["invalid"] / len(files) if files else 0.0
    if pct > max_invalid_pct:
        reasons = "; ".join(f"{c.path.name}: {c.reason}" for c in result.invalid[:5])
        raise TooManyInvalidChunks(
            f"{plan.object_name}: {counts['invalid']} of {len(files)} chunks ({pct:.1f}%) are invalid, "
            f"above max_invalid_chunk_pct={max_invalid_pct}: {reasons}"
        )
    return result


def read_conformed(path: Path, master: pa.Schema, batch_rows: int = 65_536,
                   row_groups: Sequence[int] | None = None) -> Iterator[pa.RecordBatch]:
    """Stream a chunk file (only ``row_groups``, when given) as batches conformed to ``master`` (see conform_batch)."""
    if row_groups is not None and not row_groups:
        return
    with pq.ParquetFile(path) as handle:
        present = [n for n in master.names if n in handle.schema_arrow.names]
        for batch in handle.iter_batches(batch_size=batch_rows, columns=present,
                                         row_groups=None if row_groups is None else list(row_groups)):
            yield conform_batch(batch, master)


def conform_batch(batch: pa.RecordBatch, master: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``master``'s columns: missing ones null, others cast, extras dropped."""
    arrays = []
    for fld in master:
        idx = batch.schema.get_field_index(fld.name)
        if idx < 0:
            arrays.append(pa.nulls(batch.num_rows, fld.type))
        else:
            col = batch.column(idx)
            arrays.append(col if col.type == fld.type else col.cast(fld.type))
    return pa.RecordBatch.from_arrays(arrays, schema=master)


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    if source == target:
        return True
    try:
        pa.array([], source).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
