"""Executable query plans: validate a parsed query against the schema, then scan rows in blocks."""
from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .datagen import DataGenerator
from .live import Snapshot
from .schema import Field, SchemaChanges, SObject, retyped_values
from .soql import BoolOp, Compare, Literal, Node, Query, SoqlError, parse
from .values import bool_numpy

SCAN_BLOCK = 65536
NUMERIC = {"int", "double", "currency", "percent"}
NO_SUCH = ("No such column '{f}' on entity '{o}'. If you are attempting to use a custom field, be sure to "
           "append the '__c' after the custom field name. Please reference your WSDL or the describe call "
           "for the appropriate names.")


class QueryPlan:
    """A validated query over one object: which rows match, and their selected values, in one ``view`` of the
    org (default: as it is when the plan is made)."""

    def __init__(self, data: DataGenerator, soql: str, all_rows: bool = False, bulk: bool = False,
                 view: Snapshot | None = None, schema: SchemaChanges | None = None) -> None:
        self.data, self.soql, self.all_rows = data, soql, all_rows
        self.schema = schema or SchemaChanges()
        self.view = view or data.live.snapshot()
        self.query: Query = parse(soql)
        try:
            self.sobject: SObject = self.schema.view(data.sobject(self.query.object))
        except KeyError:
            raise SoqlError("INVALID_TYPE", f"sObject type '{self.query.object}' is not supported. If you are "
                            "attempting to use a custom object, be sure to append the '__c' after the entity name."
                            ) from None
        self.fields = [(name, self._resolve(name)) for name in self.query.fields]
        for name in self.query.order_by:
            if self._resolve(name).name != "Id":
                raise SoqlError("MALFORMED_QUERY", "only ORDER BY Id is supported by this org")
        if self.query.where is not None:
            self._check(self.query.where)
        if bulk:
            self._check_bulk()
        self.start, self.stop = self._id_range(self.query.where)

    def pinned(self) -> QueryPlan:
        """This query over the org as it is now: a Bulk job's one snapshot, taken when the job is processed."""
        plan = copy.copy(self)
        plan.view = self.data.live.snapshot()
        plan.start, plan.stop = plan._id_range(plan.query.where)
        return plan

    def _resolve(self, path: str) -> Field:
        obj = self.sobject
        parts = path.split(".")
        for rel in parts[:-1]:
            ref = obj.relationship(rel)
            if ref is None or ref.reference_to[0] == "User":
                raise SoqlError("INVALID_FIELD", f"Didn't understand relationship '{rel}' in field path. If you "
                                "are attempting to use a custom relationship, be sure to append the '__r' after "
                                "the custom relationship name.")
            obj = self.schema.view(self.data.sobject(ref.reference_to[0]))
        f = obj.get(parts[-1])
        if f is None:
            raise SoqlError("INVALID_FIELD", _at(self.soql, path) + NO_SUCH.format(f=parts[-1], o=obj.name))
        return f

    def _check(self, node: Node) -> None:
        if isinstance(node, BoolOp):
            for arg in node.args:
                self._check(arg)
            return
        f = self._resolve(node.field)
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        for lit in values:
            _coerce(f, lit, node.field)

    def _check_bulk(self) -> None:
        q = self.query
        refused = list(q.unsupported_in_bulk) + (["COUNT()"] if q.count else [])
        if refused:
            raise SoqlError("FUNCTIONALITY_NOT_ENABLED", f"{refused[0]} is not supported in Bulk API 2.0 queries")
        for name, f in self.fields:
            if f.type in ("address", "location"):
                raise SoqlError("FUNCTIONALITY_NOT_ENABLED", "Selecting compound data not supported in Bulk Query")
            if f.type == "base64":
                raise SoqlError(
                    "FUNCTIONALITY_NOT_ENABLED", f"Selecting base64 data ({name}) not supported in Bulk Query"
                )

    def _id_range(self, node: Node | None) -> tuple[int, int]:
        """Row range implied by top-level Id comparisons (the rest is filtered per block)."""
        space = self.data.id_space(self.sobject.name)
        lo, hi = 0, self.data.total_rows(self.sobject.name, self.view)
        conjuncts = node.args if isinstance(node, BoolOp) and node.op == "and" else (node,) if node else ()
        for c in conjuncts:
            if not isinstance(c, Compare) or c.field.lower() != "id" or not isinstance(c.value, Literal):
                continue
            lit = str(c.value.value)
            if c.op in (">=", "=", ">"):
                lo = max(lo, space.first_index_at_or_above(lit, c.op != ">"))
            if c.op in ("<", "<=", "="):
                hi = min(hi, space.first_index_at_or_above(lit, c.op == "<"))
        return lo, max(lo, hi)

    def mask(self, idx: np.ndarray) -> np.ndarray:
        """Boolean mask of rows of ``idx`` that the query returns."""
        if self.all_rows:
            keep = np.ones(len(idx), dtype=bool)
        else:
            keep = ~self.data.deleted(self.sobject.name, idx, self.view)
        if self.query.where is not None:
            keep &= self._eval(self.query.where, idx, {})
        return keep

    def _eval(self, node: Node, idx: np.ndarray, cache: dict[str, pa.Array]) -> np.ndarray:
        if isinstance(node, BoolOp):
            parts = [self._eval(a, idx, cache) for a in node.args]
            if node.op == "not":
                return ~parts[0]
            return np.logical_and.reduce(parts) if node.op == "and" else np.logical_or.reduce(parts)
        f = self._resolve(node.field)
        key = node.field.lower()
        if key not in cache:
            cache[key] = self.data.column(self.sobject.name, node.field, idx, self.view)
        return _compare(cache[key], f, node)

    def scan(self, position: int, limit: int) -> tuple[np.ndarray, int]:
        """Indexes of up to ``limit`` matching rows from row ``position``, and the next position."""
        found: list[np.ndarray] = []
        total = 0
        while position < self.stop and total < limit:
            idx = np.arange(position, min(position + SCAN_BLOCK, self.stop), dtype=np.int64)
            hit = idx[self.mask(idx)]
            if total + len(hit) > limit:
                hit = hit[:limit - total]
                position = int(hit[-1]) + 1
            else:
                position = int(idx[-1]) + 1
            found.append(hit)
            total += len(hit)
        return (np.concatenate(found) if found else np.empty(0, np.int64)), position

    def count(self) -> int:
        """Number of matching rows (LIMIT applied)."""
        limit = self.query.limit if self.query.limit is not None else 1 << 62
        total, pos = 0, self.start
        while pos < self.stop and total < limit:
            hit, pos = self.scan(pos, min(limit - total, 1 << 22))
            total += len(hit)
        return total

    def columns(self, idx: np.ndarray) -> Iterator[tuple[str, Field, pa.Array]]:
        """Selected (name as written, field, typed values) for rows ``idx``."""
        obj = self.sobject.name
        original = self.data.sobject(obj)
        stored = [(name, f) for name, f in self.fields if "." in name or original.get(f.name) is not None]
        values = dict(zip((name for name, _ in stored), self.data.columns(obj, [n for n, _ in stored], idx, self.view)))
        for name, f in self.fields:
            if name not in values:  # a field added at run time: generated here, never changed by live updates
                assert f.gen is not None  # every emulated field has its generator
                yield name, f, f.gen(self.data, f"{obj}.{f.name}", idx)
            elif "." in name:
                yield name, f, values[name]
            else:
                known = original.get(f.name)
                assert known is not None  # `stored` holds only the fields the object had
                yield name, f, retyped_values(known, f, values[name])


def _at(soql: str, path: str) -> str:
    """The position prefix of Salesforce's INVALID_FIELD message: the SOQL, a caret under the field, its column."""
    column = soql.lower().find(path.lower())
    column = column if column >= 0 else 0
    return f"\n{soql}\n{' ' * column}^\nERROR at Row:1:Column:{column + 1}\n"


def _coerce(f: Field, lit: Literal, name: str) -> object:
    """Literal as a value comparable with the field's typed values; INVALID_FIELD when it cannot be."""
    if lit.kind == "null":
        return None
    expected = {"boolean": "bool", "date": "date", "datetime": "datetime"}.get(
        f.type, "number" if f.type in NUMERIC else "string"
    )
    if lit.kind != expected:
        kind = "double" if expected == "number" else f.type
        raise SoqlError("INVALID_FIELD", f"value of filter criterion for field '{name}' must be of type {kind} "
                        "and should not be enclosed in quotes" if lit.kind == "string" else
                        f"value of filter criterion for field '{name}' must be of type {kind}")
    if expected == "datetime":
        return pa.scalar(lit.value.astimezone(dt.UTC), pa.timestamp("ms", tz="UTC"))
    return lit.value


def _compare(col: pa.Array, f: Field, node: Compare) -> np.ndarray:
    if pa.types.is_decimal(col.type):
        col = col.cast(pa.float64())
    if node.op in ("in", "notin"):
        assert isinstance(node.value, tuple)
        values = [_coerce(f, v, node.field) for v in node.value]
        hit = bool_numpy(pc.is_in(col, value_set=pa.array([v for v in values if v is not None], col.type)))
        if None in values:
            hit |= bool_numpy(col.is_null())
        return ~hit if node.op == "notin" else hit
    assert isinstance(node.value, Literal)
    value = _coerce(f, node.value, node.field)
    if value is None:
        nulls = bool_numpy(col.is_null())
        return nulls if node.op == "=" else ~nulls
    if node.op == "like":
        return bool_numpy(pc.match_like(col, str(value), ignore_case=True))
    fn = {"=": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater,
          ">=": pc.greater_equal}[node.op]
    out = fn(col, value)
    return bool_numpy(out.fill_null(node.op == "!="))
