"""Retries of a publish attempt on OSError (network shares drop), logged; PublishError once they run out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

from sf_assets.config.models import PublishConfig, RetryConfig
from sf_assets.redaction import redact

log = logging.getLogger(__name__)
T = TypeVar("T")


class PublishError(Exception):
    """Publishing failed after every retry; the message is one line and secret-free."""


def with_retries(fn: Callable[[], T], what: str, policy: PublishConfig, retry: RetryConfig,
                 sleep: Callable[[float], None]) -> T:
    """Call `fn`, retrying OSError `policy.retries` times with RetryConfig's exponential backoff; PublishError at the end."""
    attempts = policy.retries + 1

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("Retrying publish of %s due to %s. Attempt %d of %d", what, _cause(exc),
                    state.attempt_number + 1, attempts)

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=retry.backoff_base_s, max=retry.backoff_max_s) + wait_random(0, retry.jitter_s),
        retry=retry_if_exception_type(OSError),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    try:
        return retrying(fn)
    except OSError as exc:
        raise PublishError(f"Publish of {what} failed after {attempts} attempt(s): {_cause(exc)}") from exc


def _cause(exc: BaseException | None) -> str:
    """'FileNotFoundError: [Errno 2] ...' on one line, redacted, at most 300 characters."""
    text = f"{type(exc).__name__}: {exc}" if exc else "unknown error"
    return " ".join(redact(text).split())[:300]
