"""How changed rows read: the changes of one object up to one version, and the values they override."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .schema import Field, SObject
from .values import Flag, Integer, Lookup, Moment, Number, Pattern, Source, Text, WideDouble, bool_numpy

SYSTEM = frozenset(("id", "isdeleted", "createddate", "lastmodifieddate", "systemmodstamp"))
CHANGEABLE = (Text, Integer, Number, WideDouble, Moment, Pattern, Flag)  # generators that only hash (salt, index)
UPDATE_SALTS = 8  # an update's values come from one of these salts (by its version): a row changes each time


def _find(keys: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask of ``idx`` found in the sorted ``keys``, their positions there)."""
    if not len(keys):
        return np.zeros(len(idx), dtype=bool), np.zeros(len(idx), dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, idx), len(keys) - 1)
    return keys[pos] == idx, pos


def changeable(sobj: SObject, f: Field) -> bool:
    """True for a field an update gives a new value: a plain generated field, not a system, formula or
    reference field, nor the base of a value derived without reading it (e.g. StageName → Probability)."""
    if f.name.lower() in SYSTEM or f.formula or not f.updateable or not isinstance(f.gen, CHANGEABLE):
        return False
    return all(not (isinstance(g.gen, Lookup) and g.gen.base.lower() == f.name.lower()) for g in sobj.fields)


@dataclass(frozen=True)
class ObjectState:
    """The changes of one object up to one version, as sorted arrays (small: one entry per changed row)."""

    base: int  # generated rows; inserted rows follow them
    total: int  # generated + inserted rows
    created_ms: np.ndarray  # CreatedDate of inserted rows base..total-1
    upd_idx: np.ndarray  # updated rows (sorted), their last update's version and time
    upd_ver: np.ndarray
    upd_ms: np.ndarray
    del_idx: np.ndarray  # deleted rows (sorted) and when
    del_ms: np.ndarray

    def deleted(self, idx: np.ndarray, generated: np.ndarray) -> np.ndarray:
        """IsDeleted of rows ``idx`` given the generated flags: inserted rows live, deleted ones not."""
        out = np.where(idx >= self.base, False, generated)
        hit, _ = _find(self.del_idx, idx)
        return out | hit

    def apply(self, src: Source, sobj: SObject, f: Field, idx: np.ndarray, values: pa.Array) -> pa.Array:
        """``values`` of field ``f`` for rows ``idx`` with this state's changes applied."""
        name = f.name.lower()
        if name == "isdeleted":
            return pa.array(self.deleted(idx, bool_numpy(values)))
        if name in ("createddate", "lastmodifieddate", "systemmodstamp"):
            return self._audit(name, idx, values)
        if not changeable(sobj, f):
            return values
        hit, pos = _find(self.upd_idx, idx)
        if not hit.any():
            return values
        rows, salts = idx[hit], self.upd_ver[pos[hit]] % UPDATE_SALTS
        parts, order = [], []
        for salt in np.unique(salts):
            sel = np.flatnonzero(salts == salt)
            parts.append(f.gen(src, f"{sobj.name}.{f.name}~{int(salt)}", rows[sel]))  # type: ignore[misc]
            order.append(sel)
        changed = pa.concat_arrays(parts).take(pa.array(np.argsort(np.concatenate(order))))
        return pc.replace_with_mask(values, pa.array(hit), changed.cast(values.type))

    def _audit(self, name: str, idx: np.ndarray, values: pa.Array) -> pa.Array:
        ms = values.cast(pa.int64()).to_numpy(zero_copy_only=False).copy()
        inserted = idx >= self.base
        ms[inserted] = self.created_ms[idx[inserted] - self.base]
        if name != "createddate":
            hit, pos = _find(self.upd_idx, idx)
            ms[hit] = self.upd_ms[pos[hit]]
        if name == "systemmodstamp":
            hit, pos = _find(self.del_idx, idx)
            ms[hit] = self.del_ms[pos[hit]]
        return pa.array(ms, values.type)
