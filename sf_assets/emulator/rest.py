"""REST API payloads: describe, sObject list, and query results as JSON records."""
from __future__ import annotations

import datetime as dt
import decimal
import itertools
import threading
from typing import Any

import numpy as np

from .datagen import DataGenerator
from .plan import QueryPlan
from .schema import SObject

BATCH = 2000


def describe(sobj: SObject, version: str) -> dict[str, Any]:
    """describe() of one object."""
    base = f"/services/data/v{version}/sobjects/{sobj.name}"
    return {
        **sobject_summary(sobj, version), "fields": [f.describe() for f in sobj.fields],
        "childRelationships": [], "recordTypeInfos": [], "urls": {"sobject": base, "describe": f"{base}/describe",
                                                                   "rowTemplate": f"{base}/{{ID}}"},
    }


def sobject_summary(sobj: SObject, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{sobj.name}"
    return {"name": sobj.name, "label": sobj.label, "labelPlural": sobj.label + "s", "keyPrefix": sobj.prefix,
            "custom": sobj.name.endswith("__c"), "queryable": True, "retrieveable": True, "searchable": True,
            "createable": True, "updateable": True, "deletable": True, "replicateable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}}


def _json_value(value: Any, ftype: str) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        out = {k: _json_value(v, "") for k, v in value.items()}
        if ftype == "address":
            out["geocodeAccuracy"] = None
        return out
    return value


def records(plan: QueryPlan, idx: np.ndarray, version: str) -> list[dict[str, Any]]:
    """Query rows as REST records with ``attributes`` and nested parent records."""
    obj = plan.sobject.name
    ids = plan.data.column(obj, "Id", idx).to_pylist()
    out: list[dict[str, Any]] = [
        {"attributes": {"type": obj, "url": f"/services/data/v{version}/sobjects/{obj}/{i}"}} for i in ids
    ]
    for name, f, arr in plan.columns(idx):
        values = arr.to_pylist()
        parts = name.split(".")
        if f.type == "base64":
            values = [f"/services/data/v{version}/sobjects/{obj}/{i}/{f.name}" for i in ids]
        for rec, value in zip(out, values):
            target: dict[str, Any] = rec
            for depth, rel in enumerate(parts[:-1]):
                if rel not in target:
                    target[rel] = None
                if value is None and target[rel] is None:
                    break
                if target[rel] is None:
                    parent = rel
                    if depth == 0:
                        lookup = plan.sobject.relationship(rel)
                        assert lookup is not None  # the query plan resolved every relationship it selects
                        parent = plan.data.sobject(lookup.reference_to[0]).name
                    target[rel] = {
                        "attributes": {"type": parent, "url": f"/services/data/v{version}/sobjects/{parent}"}
                    }
                target = target[rel]
            else:
                target[parts[-1]] = _json_value(value, f.type)
    return out


class Cursors:
    """Server-side state of REST query paging (nextRecordsUrl)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._cursors: dict[str, tuple[QueryPlan, dict[int, int], int]] = {}

    def open(self, plan: QueryPlan, total: int) -> str:
        cursor = f"01g5g00000{next(self._seq):05d}EMU"
        with self._lock:
            self._cursors[cursor] = (plan, {0: plan.start}, total)
        return cursor

    def page(self, data: DataGenerator, cursor: str, offset: int, version: str) -> dict[str, Any] | None:
        """One batch of records at ``offset``; None for an unknown cursor or offset."""
        with self._lock:
            entry = self._cursors.get(cursor)
        if entry is None or offset not in entry[1]:
            return None
        plan, positions, total = entry
        idx, position = plan.scan(positions[offset], min(BATCH, total - offset))
        nxt = offset + len(idx)
        result: dict[str, Any] = {"totalSize": total, "done": nxt >= total, "records": records(plan, idx, version)}
        if nxt < total:
            with self._lock:
                positions[nxt] = position
            result["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor}-{nxt}"
        return result
