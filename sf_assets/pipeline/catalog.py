"""The metadata catalog of a refresh: describe() of every object and referenced parent, cached with a TTL."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from sf_assets.config.models import ObjectConfig, RetryConfig
from sf_assets.salesforce.catalog import CatalogError, Describe, describe_object, parent_fields
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.salesforce.soql import parse_soql
from sf_assets.storage.catalog_cache import cached_describes, fresh_describe, store_describe

log = logging.getLogger(__name__)


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

    Cached describes younger than `ttl_hours` are reused unless `force_refresh`, except for a `SELECT *` object
    (every field the org has today) and a describe lacking a field the SOQL names (added since, or a typo).
    """
    now = now or datetime.now(UTC)
    catalog: dict[str, ObjectMeta] = {}
    wanted: dict[str, set[str]] = {}  # parent -> field names the SOQLs read through a relationship
    for obj in objects:
        query = parse_soql(obj.soql)
        fresh = force_refresh or query.fields == ("*",)
        meta = _meta(describe, obj.name, conn, ttl_hours, retry, fresh, now, {*query.fields, *query.where_fields})
        catalog[meta.name] = meta
        for parent, field in parent_fields(meta, obj.soql):
            wanted.setdefault(parent, set()).add(field)
    for parent in sorted(set(wanted) - set(catalog)):
        meta = _meta(describe, parent, conn, ttl_hours, retry, force_refresh, now, wanted[parent])
        catalog[meta.name] = meta
    return catalog


def redescribe(describe: Describe, obj: ObjectConfig, conn: sqlite3.Connection,
               retry: RetryConfig) -> dict[str, ObjectMeta]:
    """Describe `obj` and the parents its SOQL reaches again, bypassing the cache; the whole cached catalog after."""
    build_catalog(describe, [obj], conn, ttl_hours=0, retry=retry, force_refresh=True)
    return load_cached_catalog(conn)


def _meta(describe: Describe, name: str, conn: sqlite3.Connection, ttl_hours: float, retry: RetryConfig,
          force_refresh: bool, now: datetime, names: Iterable[str] = ()) -> ObjectMeta:
    cached = None if force_refresh else fresh_describe(conn, name, ttl_hours, now)
    if cached is not None:
        meta = ObjectMeta.from_describe(cached)
        lacking = sorted(n for n in names if n != "*" and not _has(meta, n))
        if not lacking:
            log.debug("Catalog of %s reused", name)
            return meta
        log.info("Cached describe of %s lacks %s: described again", name, ", ".join(lacking))
    doc = describe_object(describe, name, retry)
    store_describe(conn, doc, now)
    log.info("Described %s: %d fields", name, len(doc.get("fields", [])))
    return ObjectMeta.from_describe(doc)


def _has(meta: ObjectMeta, path: str) -> bool:
    """Whether `meta` has the field `path` (or, for `Rel.Field`, the relationship `Rel`)."""
    head, dot, _ = path.partition(".")
    return meta.relationship(head) is not None if dot else meta.field(head) is not None


def load_cached_catalog(conn: sqlite3.Connection) -> dict[str, ObjectMeta]:
    """Every object described so far, from the state DB (CatalogError when empty)."""
    docs = cached_describes(conn)
    if not docs:
        raise CatalogError("the metadata catalog is empty: materialize metadata_catalog first")
    metas = [ObjectMeta.from_describe(doc) for doc in docs]
    return {meta.name: meta for meta in metas}
