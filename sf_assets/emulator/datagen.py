"""Deterministic data of the emulated org, generated on demand for any set of row indexes."""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import threading
from collections.abc import Iterable, Iterator, Mapping

import numpy as np
import pyarrow as pa

from .ids import IdSpace
from .live import ChangeCounts, ChangeLog, Snapshot
from .objects import DEFAULT_ROWS, OBJECTS
from .schema import Field, SObject
from .values import Flag, Ref, salt_key, splitmix, with_nulls

USER_ROWS = 50
BLOCK = 1 << 20


class DataGenerator:
    """Typed values of every field of every emulated object, by row index (nothing is stored), with the
    changes of ``live`` (rows inserted, updated, deleted while the org serves) as an overlay. Reads take a
    ``view`` (a Snapshot: the org at one change version); None is the org as it is now."""

    def __init__(self, rows: Mapping[str, int] | None = None, seed: int = 7) -> None:
        self.seed = seed
        counts = dict(DEFAULT_ROWS if rows is None else rows)
        self._rows = {self.sobject(k).name: int(v) for k, v in counts.items()}
        self._ids = {o.name: IdSpace(o.prefix, self._rows.get(o.name, 0), seed) for o in OBJECTS.values()}
        self._ids["User"] = IdSpace("005", USER_ROWS, seed)
        self._local = threading.local()
        self.live = ChangeLog(seed, {o.name: self._rows.get(o.name, 0) for o in OBJECTS.values()},
                              self._generated_deleted, lambda obj, rows: self._ids[obj].grow(rows))

    @staticmethod
    def sobject(name: str) -> SObject:
        """The object definition; KeyError for an unknown object."""
        return OBJECTS[name.lower()]

    def objects(self) -> list[SObject]:
        return list(OBJECTS.values())

    def rows(self, obj: str) -> int:
        """Number of generated rows of ``obj`` including deleted ones (inserted rows not counted)."""
        return USER_ROWS if obj == "User" else self._rows.get(self.sobject(obj).name, 0)

    def total_rows(self, obj: str, view: Snapshot | None = None) -> int:
        """Number of rows of ``obj`` (generated and inserted, deleted ones included) in ``view``."""
        state = (view or self.live.snapshot()).state(self.sobject(obj).name)
        return self.rows(obj) if state is None else state.total

    @contextlib.contextmanager
    def _viewing(self, view: Snapshot | None) -> Iterator[Snapshot]:
        """Reads on this thread see ``view`` (default: the enclosing read's, else the org now)."""
        outer = getattr(self._local, "view", None)
        self._local.view = view or outer or self.live.snapshot()
        try:
            yield self._local.view
        finally:
            self._local.view = outer

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - bounded: keeps at most this many generators alive
    def _key(self, salt: str) -> int:
        return salt_key(self.seed, salt)

    def hash(self, salt: str, idx: np.ndarray) -> np.ndarray:
        return splitmix(self._key(salt), idx)

    def ids(self, obj: str, idx: np.ndarray) -> pa.Array:
        return self._ids[obj if obj == "User" else self.sobject(obj).name].ids(idx)

    def id_for(self, obj: str, index: int) -> str:
        """18-character Id of row ``index`` of ``obj``."""
        return self._ids[self.sobject(obj).name].id_for(index)

    def index_range_for(self, obj: str, lo_id: str | None, hi_id: str | None) -> tuple[int, int]:
        """Row index range [start, stop) of rows with lo_id <= Id < hi_id."""
        return self._ids[self.sobject(obj).name].index_range_for(lo_id, hi_id)

    def id_space(self, obj: str) -> IdSpace:
        return self._ids[self.sobject(obj).name]

    def field(self, obj: str, name: str) -> Field:
        f = self.sobject(obj).get(name)
        if f is None:
            raise KeyError(f"No such column '{name}' on entity '{self.sobject(obj).name}'")
        return f

    def ref_index(self, obj: str, name: str, idx: np.ndarray) -> np.ndarray:
        f = self.field(obj, name)
        assert isinstance(f.gen, Ref)
        return f.gen.indices(self, f"{self.sobject(obj).name}.{f.name}", idx)

    def columns(self, obj: str, names: list[str], idx: np.ndarray, view: Snapshot | None = None) -> list[pa.Array]:
        """Several columns for the same rows, computing shared inputs (e.g. CreatedDate) once."""
        self._local.memo = {}
        try:
            with self._viewing(view):
                return [self.column(obj, n, idx) for n in names]
        finally:
            self._local.memo = None

    def column(self, obj: str, name: str, idx: np.ndarray, view: Snapshot | None = None) -> pa.Array:
        """Typed values of field ``name`` (or a parent path like ``Account.Name``) for ``idx``."""
        with self._viewing(view):
            memo = getattr(self._local, "memo", None)
            if memo is None:
                return self._column(obj, name, idx)
            key = (obj.lower(), name.lower(), len(idx), int(idx[0]) if len(idx) else 0)
            if key not in memo:
                memo[key] = self._column(obj, name, idx)
            return memo[key]

    def _column(self, obj: str, name: str, idx: np.ndarray) -> pa.Array:
        head, dot, rest = name.partition(".")
        if dot:
            ref = self.sobject(obj).relationship(head)
            if ref is None or not isinstance(ref.gen, Ref) or ref.gen.target == "User":
                raise KeyError(f"Didn't understand relationship '{head}' in field path")
            parent = self.ref_index(obj, ref.name, idx)
            values = self.column(ref.gen.target, rest, np.maximum(parent, 0))
            return with_nulls(values, parent < 0)
        f = self.field(obj, name)
        if f.type == "id":
            return self.ids(obj, idx)
        if f.type in ("address", "location"):
            parts = [self.column(obj, c, idx) for c in f.components]
            prefix = f.name.removesuffix("Address")
            keys = ([_lower_first(c.removeprefix(prefix)) for c in f.components] if f.type == "address"
                    else ("latitude", "longitude"))
            return pa.StructArray.from_arrays(parts, names=list(keys))
        assert f.gen is not None
        sobj = self.sobject(obj)
        values = f.gen(self, f"{sobj.name}.{f.name}", idx)
        state = self._local.view.state(sobj.name)
        return values if state is None else state.apply(self, sobj, f, idx, values)

    def _generated_deleted(self, obj: str, idx: np.ndarray) -> np.ndarray:
        gen = self.field(obj, "IsDeleted").gen
        assert isinstance(gen, Flag)
        return gen.mask(self, f"{self.sobject(obj).name}.IsDeleted", idx)

    def deleted(self, obj: str, idx: np.ndarray, view: Snapshot | None = None) -> np.ndarray:
        """Boolean mask of deleted rows."""
        state = (view or self.live.snapshot()).state(self.sobject(obj).name)
        generated = self._generated_deleted(obj, idx)
        return generated if state is None else state.deleted(idx, generated)

    def generate(self, object_name: str, start: int, stop: int, fields: Iterable[str] | None = None,
                 view: Snapshot | None = None) -> pa.Table:
        """Typed expected values of rows [start, stop) for ``fields`` (default: every field)."""
        sobj = self.sobject(object_name)
        stop = min(stop, self.total_rows(sobj.name, view))
        return self.values(sobj.name, np.arange(start, max(start, stop), dtype=np.int64), fields, view)

    def values(self, object_name: str, idx: np.ndarray, fields: Iterable[str] | None = None,
               view: Snapshot | None = None) -> pa.Table:
        """Typed expected values of rows ``idx`` for ``fields`` (default: every field) in ``view``."""
        sobj = self.sobject(object_name)
        names = list(fields) if fields is not None else [f.name for f in sobj.fields]
        return pa.Table.from_arrays(self.columns(sobj.name, names, np.asarray(idx, np.int64), view), names=names)

    def row_count(self, object_name: str, include_deleted: bool = False, view: Snapshot | None = None) -> int:
        """Number of rows, excluding deleted ones unless ``include_deleted``."""
        name = self.sobject(object_name).name
        state = (view or self.live.snapshot()).state(name)
        if state is None:
            return self._generated_count(name, include_deleted)
        if include_deleted:
            return state.total
        return self._generated_count(name, False) + state.total - state.base - len(state.del_idx)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - bounded: keeps at most this many generators alive
    def _generated_count(self, object_name: str, include_deleted: bool) -> int:
        total = self.rows(object_name)
        if include_deleted:
            return total
        deleted = sum(int(self._generated_deleted(object_name, np.arange(s, min(s + BLOCK, total))).sum())
                      for s in range(0, total, BLOCK))
        return total - deleted

    # the truth of a changing org, for tests
    def held_still(self, object_name: str, fields: Iterable[str] = ("Id",), since: dt.datetime | None = None,
                   until: dt.datetime | None = None) -> pa.Table:
        """``fields`` of the rows of ``object_name`` that existed, unchanged and not deleted, from ``since``
        (default: when live changes were first switched on) to ``until`` (default: now), in Id order: the values
        every read in that window saw."""
        name = self.sobject(object_name).name
        after, upto = self.live.window(since, until)
        start = Snapshot(self.live, after)
        rows = np.arange(self.total_rows(name, start), dtype=np.int64)
        keep = ~self.deleted(name, rows, start)
        touched = self.live.touched(name, after, upto)
        keep[touched[touched < len(rows)]] = False
        return self.values(name, rows[keep], fields, Snapshot(self.live, upto))

    def change_counts(self, object_name: str, since: dt.datetime | None = None,
                      until: dt.datetime | None = None) -> ChangeCounts:
        """Rows of ``object_name`` created, updated and deleted from ``since`` to ``until`` (defaults as in
        ``held_still``): what the org's SOQL counts by CreatedDate / SystemModstamp / queryAll."""
        return self.live.counts(self.sobject(object_name).name, *self.live.window(since, until))


def _lower_first(part: str) -> str:
    """A component's key in an address's REST value (PostalCode → postalCode)."""
    return part[:1].lower() + part[1:]
