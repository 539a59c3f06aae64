"""Deterministic data of the emulated org, generated on demand for any set of row indexes."""
from __future__ import annotations

import functools
import threading
from typing import Iterable, Mapping

import numpy as np
import pyarrow as pa

from .ids import IdSpace
from .objects import DEFAULT_ROWS, OBJECTS
from .schema import Field, SObject
from .values import Flag, Ref, salt_key, splitmix, with_nulls

USER_ROWS = 50
ADDRESS_KEYS = ("street", "city", "state", "postalCode", "country", "latitude", "longitude")
BLOCK = 1 << 20


class DataGenerator:
    """Typed values of every field of every emulated object, by row index (nothing is stored)."""

    def __init__(self, rows: Mapping[str, int] | None = None, seed: int = 7) -> None:
        self.seed = seed
        counts = dict(DEFAULT_ROWS if rows is None else rows)
        self._rows = {self.sobject(k).name: int(v) for k, v in counts.items()}
        self._ids = {o.name: IdSpace(o.prefix, self._rows.get(o.name, 0), seed) for o in OBJECTS.values()}
        self._ids["User"] = IdSpace("005", USER_ROWS, seed)
        self._local = threading.local()

    @staticmethod
    def sobject(name: str) -> SObject:
        """The object definition; KeyError for an unknown object."""
        return OBJECTS[name.lower()]

    def objects(self) -> list[SObject]:
        return list(OBJECTS.values())

    def rows(self, obj: str) -> int:
        """Number of rows of ``obj`` including deleted ones."""
        return USER_ROWS if obj == "User" else self._rows.get(self.sobject(obj).name, 0)

    @functools.lru_cache(maxsize=4096)
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

    def columns(self, obj: str, names: list[str], idx: np.ndarray) -> list[pa.Array]:
        """Several columns for the same rows, computing shared inputs (e.g. CreatedDate) once."""
        self._local.memo = {}
        try:
            return [self.column(obj, n, idx) for n in names]
        finally:
            self._local.memo = None

    def column(self, obj: str, name: str, idx: np.ndarray) -> pa.Array:
        """Typed values of field ``name`` (or a parent path like ``Account.Name``) for ``idx``."""
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
            keys = ADDRESS_KEYS if f.type == "address" else ("latitude", "longitude")
            return pa.StructArray.from_arrays(parts, names=list(keys))
        assert f.gen is not None
        return f.gen(self, f"{self.sobject(obj).name}.{f.name}", idx)

    def deleted(self, obj: str, idx: np.ndarray) -> np.ndarray:
        """Boolean mask of deleted rows."""
        gen = self.field(obj, "IsDeleted").gen
        assert isinstance(gen, Flag)
        return gen.mask(self, f"{self.sobject(obj).name}.IsDeleted", idx)

    def generate(self, object_name: str, start: int, stop: int, fields: Iterable[str] | None = None) -> pa.Table:
        """Typed expected values of rows [start, stop) for ``fields`` (default: every field)."""
        sobj = self.sobject(object_name)
        stop = min(stop, self.rows(sobj.name))
        idx = np.arange(start, max(start, stop), dtype=np.int64)
        names = list(fields) if fields is not None else [f.name for f in sobj.fields]
        return pa.Table.from_arrays(self.columns(sobj.name, names, idx), names=names)

    @functools.lru_cache(maxsize=64)
    def row_count(self, object_name: str, include_deleted: bool = False) -> int:
        """Number of rows, excluding deleted ones unless ``include_deleted``."""
        total = self.rows(object_name)
        if include_deleted:
            return total
        deleted = sum(int(self.deleted(object_name, np.arange(s, min(s + BLOCK, total))).sum())
                      for s in range(0, total, BLOCK))
        return total - deleted
