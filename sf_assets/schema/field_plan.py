"""A field plan: the validated, typed columns of one object and its WHERE text (what every stage reads)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from sf_assets.schema.column_types import ColumnType, Kind

PLAN_FORMAT_VERSION = 1
PLAN_FINGERPRINT_KEY = b"sf_assets.field_plan"  # Parquet schema metadata: the plan a chunk file was written with


@dataclass(frozen=True)
class PlannedColumn:
    """One extracted column; ``name`` is the Bulk CSV header (e.g. ``Account.Name``).

    ``absent``: the org no longer delivers the field; the column is kept all null with its last known type.
    """

    name: str
    sf_type: str
    kind: Kind
    nullable: bool
    precision: int | None = None
    scale: int | None = None
    length: int = 0
    long_text: bool = False
    critical: bool = False
    absent: bool = False

    @property
    def column_type(self) -> ColumnType:
        return ColumnType(self.kind, self.precision, self.scale)

    @property
    def arrow_type(self) -> pa.DataType:
        return self.column_type.arrow_type()

    @property
    def sqlite_type(self) -> str:
        return self.column_type.sqlite_type()

    @property
    def pandas_dtype(self) -> str:
        return self.column_type.pandas_dtype()

    def to_dict(self) -> dict[str, Any]:
        """Stored fields plus the derived types (informative; ignored by from_dict)."""
        return {
            **asdict(self),
            "arrow_type": str(self.arrow_type),
            "sqlite_type": self.sqlite_type,
            "pandas_dtype": self.pandas_dtype,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlannedColumn:
        derived = {"arrow_type", "sqlite_type", "pandas_dtype"}
        return cls(**{k: v for k, v in data.items() if k not in derived})


@dataclass(frozen=True)
class FieldPlan:
    """Validated, typed columns of one object plus its WHERE text."""

    object_name: str
    columns: tuple[PlannedColumn, ...]
    dropped: tuple[tuple[str, str], ...] = ()
    where: str | None = None
    warnings: tuple[str, ...] = ()
    star_fields: tuple[str, ...] = ()  # what ``SELECT *`` expanded to (empty without ``*``)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def query_column_names(self) -> tuple[str, ...]:
        """The columns asked of Salesforce (every column but the absent ones), in plan order."""
        return tuple(c.name for c in self.columns if not c.absent)

    @property
    def fingerprint(self) -> str:
        """Identifies what the chunk files hold: the columns (absent ones included) and the WHERE."""
        text = json.dumps([[asdict(c) for c in self.columns], self.where], sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def arrow_schema(self) -> pa.Schema:
        """Parquet schema of the chunks, with nullability and the plan's fingerprint as metadata."""
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns],
            metadata={PLAN_FINGERPRINT_KEY: self.fingerprint.encode()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "object_name": self.object_name,
            "where": self.where,
            "columns": [c.to_dict() for c in self.columns],
            "dropped": [list(d) for d in self.dropped],
            "warnings": list(self.warnings),
            "star_fields": list(self.star_fields),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldPlan:
        if data.get("format_version") != PLAN_FORMAT_VERSION:
            raise ValueError(f"unsupported field plan format {data.get('format_version')!r}")
        return cls(
            object_name=data["object_name"],
            columns=tuple(PlannedColumn.from_dict(c) for c in data["columns"]),
            dropped=tuple((str(f), str(r)) for f, r in data.get("dropped", ())),
            where=data.get("where"),
            warnings=tuple(data.get("warnings", ())),
            star_fields=tuple(data.get("star_fields", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> FieldPlan:
        return cls.from_dict(json.loads(text))
