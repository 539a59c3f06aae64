"""The metadata catalog of a refresh: describe() of every object and referenced parent, cached with a TTL."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone

from sf_assets.config.models import ObjectConfig, RetryConfig
from sf_assets.salesforce.catalog import CatalogError, Describe, describe_object, parents_in_soql
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.storage.catalog_cache import cached_describes, fresh_describe, store_describe

log = logging.getLogger(__name__)


def build_catalog(describe: Describe, objects: Iterable[ObjectConfig], conn: sqlite3.Connection, *, ttl_hours: float,
                  retry: RetryConfig, force_refresh: bool = False, now: datetime | None = None) -> dict[str, ObjectMeta]:
    """ObjectMeta of every configured object and of the parents its SOQL reaches through relationships.

    Cached describes younger than `ttl_hours` are reused unless `force_refresh`.
    """
    now = now or datetime.now(timezone.utc)
    catalog: dict[str, ObjectMeta] = {}
    parents: set[str] = set()
    for obj in objects:
        meta = _meta(describe, obj.name, conn, ttl_hours, retry, force_refresh, now)
        catalog[meta.name] = meta
        parents |= parents_in_soql(meta, obj.soql)
    for parent in sorted(parents - set(catalog)):
        meta = _meta(describe, parent, conn, ttl_hours, retry, force_refresh, now)
        catalog[meta.name] = meta
    return catalog


def _meta(describe: Describe, name: str, conn: sqlite3.Connection, ttl_hours: float, retry: RetryConfig,
          force_refresh: bool, now: datetime) -> ObjectMeta:
    cached = None if force_refresh else fresh_describe(conn, name, ttl_hours, now)
    if cached is not None:
        log.debug("Catalog of %s reused", name)
        return ObjectMeta.from_describe(cached)
    doc = describe_object(describe, name, retry)
    store_describe(conn, doc, now)
    log.info("Described %s: %d fields", name, len(doc.get("fields", [])))
    return ObjectMeta.from_describe(doc)


def load_cached_catalog(conn: sqlite3.Connection) -> dict[str, ObjectMeta]:
    """Every object described so far, from the state DB (CatalogError when empty)."""
    docs = cached_describes(conn)
    if not docs:
        raise CatalogError("the metadata catalog is empty: materialize metadata_catalog first")
    metas = [ObjectMeta.from_describe(doc) for doc in docs]
    return {meta.name: meta for meta in metas}
