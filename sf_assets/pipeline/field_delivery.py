"""Which requested fields of an object a refresh did not deliver: left out, kept all null or dropped from the output.

What the closing lines of `sf-assets run` and the object's `fields_delivered` WARN check say. A field the
SOQL names that the org cannot deliver by nature (base64, an invalid or hidden field) is left out; one
gone since an earlier refresh is kept all null (`field_missing:*` health warnings), then dropped
(`field_dropped:*`). With ``SELECT *`` the fields left out by nature were never asked for by name: they
are listed as information and do not fail the check.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sf_assets.storage.field_mapping import refresh_plan
from sf_assets.storage.refresh_facts import all_facts, health_sections

DROPPED_KEY = "field_dropped:"


@dataclass(frozen=True)
class FieldDelivery:
    """What one object's plan in a refresh delivers of its SOQL's fields."""

    object_name: str
    delivered: int
    left_out: tuple[tuple[str, str], ...] = ()  # (field, why) named in the SOQL, not extracted
    kept_null: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()  # in the last successful refresh's output, not in this one's
    not_by_name: tuple[tuple[str, str], ...] = ()  # left out of a ``SELECT *``: information only

    @property
    def passed(self) -> bool:
        """No requested field is missing, left out or dropped."""
        return not (self.left_out or self.kept_null or self.dropped)

    def problems(self) -> list[str]:
        """One phrase per field not delivered, with why."""
        return ([f"{name} left out ({why})" for name, why in self.left_out]
                + [f"{name} kept all null (no longer delivered by Salesforce)" for name in self.kept_null]
                + [f"{name} dropped from the output" for name in self.dropped])

    def describe(self) -> str:
        """The check's one line."""
        if self.passed:
            extra = f"; {len(self.not_by_name)} field(s) of SELECT * left out by nature" if self.not_by_name else ""
            return f"{self.object_name}: all {self.delivered} planned column(s) delivered{extra}"
        return f"{self.object_name}: " + "; ".join(self.problems())


def field_delivery(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> FieldDelivery | None:
    """The object's field delivery in the refresh (None before its field plan is recorded)."""
    plan = refresh_plan(conn, refresh_id, object_name)
    if plan is None:
        return None
    _, warnings = health_sections(all_facts(conn, refresh_id))
    prefix = f"{DROPPED_KEY}{object_name}."
    dropped = tuple(key[len(prefix):] for key in warnings if key.startswith(prefix))
    by_name = not plan.star_fields
    return FieldDelivery(
        object_name, delivered=sum(not c.absent for c in plan.columns),
        left_out=plan.dropped if by_name else (), kept_null=tuple(c.name for c in plan.columns if c.absent),
        dropped=dropped, not_by_name=() if by_name else plan.dropped)
