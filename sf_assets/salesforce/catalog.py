"""Metadata catalog: describe() of each configured object and referenced parents, cached in the state DB."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sf_assets.config.models import ObjectConfig, RetryConfig
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.salesforce.retry import call_with_retry, describe_cause
from sf_assets.salesforce.soql import parse_soql
from sf_assets.storage.state_db import transaction

log = logging.getLogger(__name__)
Describe = Callable[[str], Mapping[str, Any]]


class CatalogError(RuntimeError):
    """describe() of an object kept failing, or the object does not exist."""


def sf_describer(sf: Any) -> Describe:
    """A `Describe` backed by simple-salesforce (`sf.<Object>.describe()`)."""
    return lambda name: getattr(sf, name).describe()


def build_catalog(
    describe: Describe,
    objects: Iterable[ObjectConfig],
    conn: sqlite3.Connection,
    *,
    ttl_hours: float,
    retry: RetryConfig,
    force_refresh: bool = False,
    now: datetime | None = None,
) -> dict[str, ObjectMeta]:
    """ObjectMeta of every configured object and of the parents its SOQL reaches through relationships.

    Cached describes younger than `ttl_hours` are reused unless `force_refresh`.
    """
    now = now or datetime.now(timezone.utc)
    catalog: dict[str, ObjectMeta] = {}
    parents: set[str] = set()
    for obj in objects:
        meta = _get(describe, obj.name, conn, ttl_hours, retry, force_refresh, now)
        catalog[meta.name] = meta
        for field in parse_soql(obj.soql).fields:
            if "." in field:
                rel = meta.relationship(field.split(".", 1)[0])
                if rel is not None and rel.reference_to:
                    parents.add(rel.reference_to[0])
    for parent in sorted(parents - set(catalog)):
        meta = _get(describe, parent, conn, ttl_hours, retry, force_refresh, now)
        catalog[meta.name] = meta
    return catalog


def _get(
    describe: Describe, name: str, conn: sqlite3.Connection, ttl_hours: float, retry: RetryConfig,
    force_refresh: bool, now: datetime,
) -> ObjectMeta:
    if not force_refresh:
        row = conn.execute("SELECT describe_json, last_fetched FROM catalog_objects WHERE object = ?", (name,)).fetchone()
        if row and now - datetime.fromisoformat(row[1]) < timedelta(hours=ttl_hours):
            log.debug("Catalog of %s reused (fetched %s)", name, row[1])
            return ObjectMeta.from_describe(json.loads(row[0]))
    try:
        doc = dict(call_with_retry(lambda: describe(name), f"describe of {name}", retry))
    except Exception as exc:  # noqa: BLE001 - any failure becomes one clear message naming the object
        raise CatalogError(f"describe of {name} failed: {describe_cause(exc)}") from None
    _store(conn, doc, now)
    log.info("Described %s: %d fields", name, len(doc.get("fields", [])))
    return ObjectMeta.from_describe(doc)


def _store(conn: sqlite3.Connection, doc: Mapping[str, Any], now: datetime) -> None:
    name, fetched = doc["name"], now.isoformat()
    queryable = int(bool(doc.get("queryable", True)))
    rows = [
        (
            name, f["name"], f.get("type", ""), f.get("soapType"), int(bool(f.get("nillable", True))), queryable,
            int(bool(f.get("filterable", True))), int(bool(f.get("idLookup", False))), int(bool(f.get("calculated", False))),
            f.get("compoundFieldName"), int(bool(f.get("deprecatedAndHidden", False))), f.get("precision"), f.get("scale"),
            f.get("length"), json.dumps(f.get("referenceTo") or []),
            json.dumps([p.get("value") for p in f.get("picklistValues") or []]),
            int(bool(f.get("createable", False))), int(bool(f.get("updateable", False))), fetched,
        )
        for f in doc.get("fields", [])
    ]
    with transaction(conn):
        conn.execute("DELETE FROM metadata_catalog WHERE object = ?", (name,))
        conn.executemany(f"INSERT INTO metadata_catalog VALUES ({','.join('?' * 19)})", rows)
        conn.execute("INSERT OR REPLACE INTO catalog_objects VALUES (?, ?, ?)", (name, json.dumps(doc), fetched))


def load_cached_catalog(conn: sqlite3.Connection) -> dict[str, ObjectMeta]:
    """Every object described so far, from the state DB (CatalogError when empty)."""
    rows = conn.execute("SELECT describe_json FROM catalog_objects").fetchall()
    if not rows:
        raise CatalogError("the metadata catalog is empty: materialize metadata_catalog first")
    metas = [ObjectMeta.from_describe(json.loads(row[0])) for row in rows]
    return {meta.name: meta for meta in metas}
