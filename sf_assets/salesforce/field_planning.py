"""The field plan of one object: the columns actually extracted, validated against describe().

Rules: fields are matched case-insensitively and carry their canonical names; deprecated and
base64 fields are dropped (Bulk refuses base64); address and location compounds (which Bulk
refuses) become their component fields in describe order, while any other field whose
components carry ``compoundFieldName`` (Contact/Lead/User ``Name``) is selected as itself, since
Bulk returns it as text; ``Rel.Field`` follows the lookup whose
relationshipName is ``Rel`` to its first referenceTo object, which must be in the catalog;
``*`` means every valid field (address and location
compounds through their components), and the plan records what it expanded to. Id always comes first when not
selected. Critical fields (Id,
join keys, configured ones) that are invalid raise FieldPlanError; critical fields missing
from the SELECT list are appended, since joins and checks need them. Invalid other fields are
dropped and reported in ``FieldPlan.dropped`` (the caller logs a WARNING for each), so no
requested field disappears silently. Given what earlier refreshes planned (`DriftRules`), a field the org
does not have follows the rules of ``field_drift`` instead: kept all null, or a one-line error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sf_assets.salesforce.field_drift import DriftRules, did_you_mean, keep_type_if_lossless, kept_absent
from sf_assets.salesforce.metadata import FieldMeta, ObjectMeta
from sf_assets.salesforce.soql import SoqlQuery
from sf_assets.schema.column_types import LONG_TEXT_LIMIT, FieldTypeError, map_sf_type
from sf_assets.schema.field_plan import FieldPlan, PlannedColumn

_COMPOUND_TYPES = {"address", "location"}


class FieldPlanError(ValueError):
    """The configured query cannot be planned (critical field or WHERE field invalid)."""


class UnknownFieldError(FieldPlanError):
    """A field the SOQL names that the org does not have and no refresh ever delivered (a configuration error)."""


class _Invalid(Exception):
    """Internal: the reason one field path is not extractable (``missing``: the org does not have it)."""

    def __init__(self, reason: str, missing: bool = False) -> None:
        super().__init__(reason)
        self.missing = missing


@dataclass(frozen=True)
class _Resolved:
    header: str
    meta: FieldMeta
    is_parent: bool


class _Resolver:
    """Resolves field paths of one object against a case-insensitive catalog."""

    def __init__(self, obj: ObjectMeta, catalog: Mapping[str, ObjectMeta]) -> None:
        self.obj = obj
        self.catalog = {name.lower(): meta for name, meta in catalog.items()}

    def _walk(self, path: str) -> tuple[ObjectMeta, str, FieldMeta]:
        """(object holding the last field, canonical relationship prefix, field)."""
        *relationships, field_name = path.split(".")
        obj, prefix = self.obj, ""
        for rel in relationships:
            lookup = obj.relationship(rel)
            if lookup is None:
                raise _Invalid(f"no relationship {rel!r} on {obj.name}", missing=True)
            if not lookup.reference_to:
                raise _Invalid(f"relationship {lookup.relationship_name!r} has no referenceTo")
            parent = self.catalog.get(lookup.reference_to[0].lower())
            if parent is None:
                raise _Invalid(f"parent object {lookup.reference_to[0]!r} is not in the catalog", missing=True)
            obj, prefix = parent, f"{prefix}{lookup.relationship_name}."
        meta = obj.field(field_name)
        if meta is None:
            raise _Invalid("no such field" if obj is self.obj else f"no such field on {obj.name}", missing=True)
        return obj, prefix, meta

    def names_near(self, path: str) -> list[str]:
        """Existing field names of the object that ``path`` ends on (for a 'did you mean')."""
        *relationships, _ = path.split(".")
        try:
            obj, prefix, _ = self._walk(".".join([*relationships, "Id"]))
        except _Invalid:
            return [m.relationship_name for m in self.obj.fields.values() if m.relationship_name]
        return [f"{prefix}{m.name}" for m in obj.fields.values()]

    @staticmethod
    def _check(meta: FieldMeta) -> None:
        if meta.deprecated_and_hidden:
            raise _Invalid("deprecated and hidden")
        if meta.type == "base64":
            raise _Invalid("base64 fields are not supported by Bulk API")

    def select(self, path: str) -> tuple[list[_Resolved], list[tuple[str, str]]]:
        """The columns a SELECT item becomes (components for an address/location compound),
        and the components left out with their reasons."""
        obj, prefix, meta = self._walk(path)
        self._check(meta)
        skipped: list[tuple[str, str]] = []
        if meta.type in _COMPOUND_TYPES:
            parts = []
            for component in obj.components(meta.name):
                try:
                    self._check(component)
                except _Invalid as exc:
                    skipped.append((f"{prefix}{component.name}", f"component of {path}: {exc}"))
                else:
                    parts.append(component)
            if not parts:
                raise _Invalid(f"{meta.type} compound without usable component fields")
        else:
            parts = [meta]
        return [_Resolved(f"{prefix}{m.name}", m, bool(prefix)) for m in parts], skipped

    def filter(self, path: str) -> None:
        """Raise _Invalid unless ``path`` may be used in a WHERE."""
        _, _, meta = self._walk(path)
        self._check(meta)
        if not meta.filterable:
            raise _Invalid("not filterable")


def _star_fields(obj: ObjectMeta) -> tuple[list[str], list[tuple[str, str]]]:
    """All valid fields in describe order except address/location compounds (their components
    are fields too), and the skipped invalid ones."""
    names, dropped = [], []
    for meta in obj.fields.values():
        if meta.type in _COMPOUND_TYPES:
            continue
        try:
            _Resolver._check(meta)
        except _Invalid as exc:
            dropped.append((meta.name, str(exc)))
        else:
            names.append(meta.name)
    return names, dropped


def build_field_plan(
    query: SoqlQuery,
    catalog: Mapping[str, ObjectMeta],
    critical_fields: Sequence[str],
    join_keys: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
    decimals_as_float: bool = False,
    drift: DriftRules | None = None,
) -> FieldPlan:
    """Validate ``query`` against ``catalog`` and type every extracted column.

    With ``drift`` (what earlier refreshes planned) the drift rules of ``field_drift`` apply to fields
    the org does not have; without it such a field is dropped like an invalid one.
    """
    obj = next((o for n, o in catalog.items() if n.lower() == query.object_name.lower()), None)
    if obj is None:
        raise FieldPlanError(f"Object {query.object_name!r} is not in the catalog")
    resolver = _Resolver(obj, catalog)
    critical = {name.lower() for name in ("Id", *join_keys, *critical_fields)}

    star = query.fields == ("*",)
    requested, dropped = _star_fields(obj) if star else (list(query.fields), [])
    if star and drift is not None:
        requested = _star_order(requested, dropped, drift)
    first = [] if "id" in {p.lower() for p in requested} else ["Id"]
    ordered: dict[str, str] = {}  # lower-case path -> path as configured, first one wins
    for path in (*first, *requested, *join_keys, *critical_fields):
        ordered.setdefault(path.lower(), path)

    resolved: dict[str, tuple[_Resolved, bool] | PlannedColumn] = {}  # a PlannedColumn: kept all null
    for path in ordered.values():
        is_critical = path.lower() in critical
        try:
            items, skipped = resolver.select(path)
        except _Invalid as exc:
            if is_critical:
                raise FieldPlanError(
                    f"Critical field {path!r} on {obj.name} is invalid: {exc}"
                ) from None
            if drift is not None and exc.missing:
                resolved.setdefault(path.lower(), _missing_field(obj.name, path, str(exc), drift, resolver))
                continue
            dropped.append((path, str(exc)))
            continue
        dropped.extend(skipped)
        for item in items:
            key = item.header.lower()
            resolved.setdefault(key, (item, is_critical or key in critical))

    for path in query.where_fields:
        try:
            resolver.filter(path)
        except _Invalid as exc:
            raise FieldPlanError(f"WHERE field {path!r} on {obj.name} is invalid: {exc}") from None

    overrides_by_name = {k.lower(): v for k, v in (overrides or {}).items()}
    warnings = [
        f"type override for {name!r} matches no column of {obj.name}"
        for name in overrides_by_name
        if name not in resolved
    ]
    columns = []
    for key, entry in resolved.items():
        if isinstance(entry, PlannedColumn):
            columns.append(entry)
            continue
        item, is_critical = entry
        column, warning = _plan_column(
            obj.name, item, is_critical, overrides_by_name.get(key), decimals_as_float
        )
        columns.append(column if key in overrides_by_name else _retyped(obj.name, column, drift))
        if warning:
            warnings.append(warning)
    return FieldPlan(
        obj.name, tuple(columns), tuple(dropped), query.where, tuple(warnings),
        tuple(requested) if star else (),
    )


def _star_order(names: list[str], dropped: list[tuple[str, str]], drift: DriftRules) -> list[str]:
    """``SELECT *`` in the last successful plan's order, removed fields kept for a while, new ones at the end."""
    now = {n.lower(): n for n in names}
    by_nature = {name.lower() for name, _ in dropped}
    earlier = [n for n in drift.previous_order if "." not in n and n.lower() not in by_nature]
    kept = [n if n.lower() not in now else now[n.lower()] for n in earlier
            if n.lower() in now or drift.keeps_removed(n)]
    seen = {n.lower() for n in kept}
    return kept + [n for n in names if n.lower() not in seen]


def _missing_field(object_name: str, path: str, reason: str, drift: DriftRules, resolver: _Resolver) -> PlannedColumn:
    """The all-null column of a field the org no longer delivers; FieldPlanError by the rules of ``field_drift``."""
    known = drift.last_known(path)
    if known is None:
        raise UnknownFieldError(f"{object_name}: field {path!r} does not exist in Salesforce ({reason}) and no "
                                f"refresh ever delivered it{did_you_mean(path, resolver.names_near(path))}")
    if drift.on_missing_field == "fail":
        raise FieldPlanError(f"{object_name}: field {path!r} is no longer delivered by Salesforce ({reason}: "
                             "deleted, renamed or hidden by a permission change) and on_missing_field is fail")
    return kept_absent(known)


def _retyped(object_name: str, column: PlannedColumn, drift: DriftRules | None) -> PlannedColumn:
    """``column``, keeping the type it had in earlier refreshes when its new values fit it without loss."""
    known = drift.last_known(column.name) if drift is not None else None
    if known is None:
        return column
    try:
        return keep_type_if_lossless(object_name, known, column)
    except ValueError as exc:
        raise FieldPlanError(str(exc)) from None


def _plan_column(
    object_name: str,
    item: _Resolved,
    critical: bool,
    override: str | None,
    decimals_as_float: bool,
) -> tuple[PlannedColumn, str | None]:
    meta = item.meta
    try:
        ctype, warning = map_sf_type(
            meta.type,
            meta.precision,
            meta.scale,
            name=item.header,
            critical=critical,
            decimals_as_float=decimals_as_float,
            override=override,
        )
    except FieldTypeError as exc:
        if override is not None:
            raise FieldPlanError(
                f"Type override for {item.header!r} on {object_name} is invalid: {exc}"
            ) from None
        raise FieldPlanError(
            f"Critical field {item.header!r} on {object_name} is invalid: "
            f"unmapped Salesforce type {meta.type!r}"
        ) from None
    is_id = item.header.lower() == "id"
    column = PlannedColumn(
        name=item.header,
        sf_type=meta.type,
        kind=ctype.kind,
        nullable=not is_id and (item.is_parent or meta.nillable),
        precision=ctype.precision,
        scale=ctype.scale,
        length=meta.length,
        long_text=ctype.kind == "string" and meta.length > LONG_TEXT_LIMIT,
        critical=critical,
    )
    return column, warning
