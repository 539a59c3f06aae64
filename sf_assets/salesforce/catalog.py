"""describe() of Salesforce objects: the call with its retries, and which parents a SOQL reaches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sf_assets.config.models import RetryConfig
from sf_assets.salesforce.errors import RefreshStop
from sf_assets.salesforce.metadata import ObjectMeta
from sf_assets.salesforce.retry import call_with_retry, describe_cause
from sf_assets.salesforce.soql import parse_soql

Describe = Callable[[str], Mapping[str, Any]]


class CatalogError(RuntimeError):
    """describe() of an object kept failing, or the object does not exist."""


def sf_describer(sf: Any) -> Describe:
    """A `Describe` backed by simple-salesforce (`sf.<Object>.describe()`)."""
    return lambda name: getattr(sf, name).describe()


def describe_object(describe: Describe, name: str, retry: RetryConfig) -> dict[str, Any]:
    """describe() of `name`, retried; CatalogError names the object when it keeps failing (a `RefreshStop`
    passes as it is: it concerns the whole refresh)."""
    try:
        return dict(call_with_retry(lambda: describe(name), f"describe of {name}", retry))
    except RefreshStop:
        raise
    except Exception as exc:  # any failure becomes one clear message naming the object
        raise CatalogError(f"describe of {name} failed: {describe_cause(exc)}") from None


def parent_fields(meta: ObjectMeta, soql: str) -> set[tuple[str, str]]:
    """(parent object, field) of each `Rel.Field` path of the SOQL, following `Rel` from `meta` (one level)."""
    found = set()
    for path in parse_soql(soql).fields:
        rel_name, dot, field = path.partition(".")
        rel = meta.relationship(rel_name) if dot else None
        if rel is not None and rel.reference_to:
            found.add((rel.reference_to[0], field))
    return found
