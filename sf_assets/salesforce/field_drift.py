"""Fields that changed in the org since an earlier refresh: how the change shows, and the rules that apply.

Salesforce answers a query naming a field it no longer delivers (deleted, renamed, hidden by a permission
change) with ``INVALID_FIELD: No such column 'X' on entity 'Y'``; a results header that differs from the
plan means the same. The rules (``build_field_plan`` applies them with a `DriftRules`):

- a field an earlier refresh delivered and the org no longer has is kept as an all-null column of its last
  known type (while the SOQL names it; under ``SELECT *`` for ``keep_removed_refreshes`` successful
  refreshes, then dropped), unless ``on_missing_field`` is ``fail``;
- a field no refresh ever delivered is a configuration error naming the closest existing names;
- a retyped field keeps its old column type when the new values fit it without loss, else the plan fails;
- a field that appeared is picked up by ``SELECT *`` at the end of the object's columns.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sf_assets.schema.column_types import holds_losslessly
from sf_assets.schema.field_plan import FieldPlan, PlannedColumn

_NO_SUCH_FIELD = ("No such column", "Didn't understand relationship")


def is_invalid_field(exc: BaseException) -> bool:
    """True for Salesforce's answer to a query naming a field it does not deliver (INVALID_FIELD: No such column)."""
    text = f"{exc} {getattr(exc, 'content', '') or ''}"
    return "INVALID_FIELD" in text and any(marker in text for marker in _NO_SUCH_FIELD)


@dataclass(frozen=True)
class DriftRules:
    """What earlier refreshes planned for one object, and the configured rules for fields the org stopped delivering.

    ``known``: lower-case column name → its last known column (from the last successful refresh's plan, or
    the plan this refresh started with). ``absent_streak``: successful refreshes in a row that kept the column
    all null. ``previous_order``: the columns of the last successful plan (``SELECT *`` keeps their order).
    """

    known: Mapping[str, PlannedColumn] = field(default_factory=dict)
    absent_streak: Mapping[str, int] = field(default_factory=dict)
    previous_order: tuple[str, ...] = ()
    on_missing_field: str = "keep_null"
    keep_removed_refreshes: int = 3

    def last_known(self, name: str) -> PlannedColumn | None:
        """The last known column of ``name`` (case-insensitive), if a refresh ever planned it."""
        return self.known.get(name.lower())

    def keeps_removed(self, name: str) -> bool:
        """Whether ``SELECT *`` still keeps the removed column ``name`` (all null) in this refresh."""
        return self.absent_streak.get(name.lower(), 0) < self.keep_removed_refreshes


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """' (did you mean StageName?)' naming the closest existing names, or ''."""
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(by_lower[c] for c in close)}?)" if close else ""


def kept_absent(column: PlannedColumn) -> PlannedColumn:
    """``column`` kept all null: not asked of Salesforce, nullable, no longer critical."""
    return replace(column, absent=True, nullable=True, critical=False)


def keep_type_if_lossless(object_name: str, old: PlannedColumn, new: PlannedColumn) -> PlannedColumn:
    """The column of a retyped field: its old type when the new values fit it without loss, else ValueError."""
    if old.column_type == new.column_type:
        return new
    exact_int = not (new.kind == "int64" and old.kind == "float64") or new.sf_type == "int"
    if exact_int and holds_losslessly(new.column_type, old.column_type):
        return replace(new, kind=old.kind, precision=old.precision, scale=old.scale, long_text=old.long_text)
    raise ValueError(
        f"{object_name}.{new.name} changed type in Salesforce from {old.sf_type} to {new.sf_type}: its values "
        f"cannot be kept as {old.arrow_type} without loss; to accept the new type, add {new.name} to the "
        f"type_overrides of {object_name}")


def schema_changes(previous: FieldPlan | None, current: FieldPlan) -> dict[str, Any]:
    """Fields added, removed and retyped in ``current`` since ``previous`` (the last successful plan)."""
    before = {c.name.lower(): c for c in previous.columns} if previous else {}
    delivered_before = {k for k, c in before.items() if not c.absent}
    now = {c.name.lower(): c for c in current.columns}
    retyped = [
        {"field": c.name, "from": _type_text(before[k]), "to": _type_text(c), "column_type": str(c.arrow_type)}
        for k, c in now.items()
        if k in delivered_before and not c.absent and _type_text(before[k]) != _type_text(c)
    ]
    return {
        "added": [c.name for k, c in now.items() if not c.absent and k not in delivered_before] if previous else [],
        "removed": [before[k].name for k in delivered_before if k not in now or now[k].absent],
        "retyped": retyped,
        "kept_null": [c.name for c in current.columns if c.absent],
        "dropped": [c.name for k, c in before.items() if k not in now],
    }


def _type_text(column: PlannedColumn) -> str:
    return f"{column.sf_type}({column.length})" if column.kind == "string" and column.length else column.sf_type
