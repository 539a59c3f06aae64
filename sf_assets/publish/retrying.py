"""Retries of a publish attempt on OSError (network shares drop), logged; PublishError once they run out."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sf_assets.config.models import PublishConfig, RetryConfig
from sf_assets.observability.redaction import redact
from sf_assets.salesforce.retry import call_with_retry

T = TypeVar("T")


class PublishError(Exception):
    """Publishing failed after every retry; the message is one line and secret-free."""


def with_retries(fn: Callable[[], T], what: str, policy: PublishConfig, retry: RetryConfig,
                 sleep: Callable[[float], None]) -> T:
    """Call `fn`, retrying OSError `policy.retries` times with RetryConfig's exponential backoff; PublishError at the
    end."""
    attempts = policy.retries + 1
    try:
        return call_with_retry(fn, f"publish of {what}", retry.model_copy(update={"attempts": attempts}), sleep,
                               retry_on=lambda exc: isinstance(exc, OSError))
    except OSError as exc:
        raise PublishError(f"Publish of {what} failed after {attempts} attempt(s): {_cause(exc)}") from exc


def _cause(exc: BaseException | None) -> str:
    """'FileNotFoundError: [Errno 2] ...' on one line, redacted, at most 300 characters."""
    text = f"{type(exc).__name__}: {exc}" if exc else "unknown error"
    return " ".join(redact(text).split())[:300]
