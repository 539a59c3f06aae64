"""`SELECT COUNT()` through REST with retries: the one "count now" of preflight, the row check and staging."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sf_assets.config.models import RetryConfig
from sf_assets.salesforce.retry import call_with_retry
from sf_assets.salesforce.soql import compose_count_soql

Query = Callable[..., Mapping[str, Any]]


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal in UTC (``2026-12-03T07:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def count_rows(query: Query, object_name: str, where: str | None, retry: RetryConfig, *,
               include_deleted: bool = False, extra: Sequence[str] = ()) -> int:
    """Salesforce's COUNT() of the object for `where` AND every `extra` condition; transient errors retried."""
    soql = compose_count_soql(object_name, where, extra)
    result = call_with_retry(lambda: query(soql, include_deleted=include_deleted), f"row count of {object_name}", retry)
    return int(result["totalSize"])
