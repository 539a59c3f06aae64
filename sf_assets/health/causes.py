"""The one line a user should read for an exception: its real cause, not the wrappers around it."""

from __future__ import annotations

import sqlite3
import ssl
from collections.abc import Iterator

import requests
from simple_salesforce.exceptions import SalesforceError

from sf_assets.observability.redaction import redact
from sf_assets.salesforce.errors import RefreshStop

MAX_CHARS = 400


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _known(exc: BaseException) -> str | None:
    text = str(exc)
    if isinstance(exc, RefreshStop):  # a daily limit, an expired access token: its line already says it all
        return _first_line(text)
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        reason = getattr(exc, "verify_message", None) or "certificate verify failed"
        return f"TLS certificate not trusted ({reason}): set salesforce.ca_bundle to the CA that signs the server's certificate"
    if "INVALID_SESSION_ID" in text:
        return "Salesforce refused the session: INVALID_SESSION_ID (token expired or revoked; check the credentials)"
    if isinstance(exc, SalesforceError):
        return f"Salesforce answered {type(exc).__name__}: {_first_line(text)}"
    if isinstance(exc, requests.ConnectionError):
        host = getattr(getattr(exc, "request", None), "url", None) or ""
        why = "connection refused" if "refused" in text.lower() else _first_line(text)
        return f"cannot reach Salesforce{' at ' + host.split('/services')[0] if host else ''}: {why}"
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return f"a SQLite database (state or staging DB) is locked by another program: {text}"
    return None


def describe_error(exc: BaseException) -> str:
    """`<cause>` in one redacted line: a known root cause in plain words, else the innermost error's message."""
    chain = list(_chain(exc))
    for link in chain:
        known = _known(link)
        if known:
            return redact(known)[:MAX_CHARS]
    outer = chain[0]
    message = _first_line(str(outer)) or type(outer).__name__
    if isinstance(outer, (RuntimeError, ValueError)) and type(outer).__module__.startswith("sf_assets"):
        return redact(message)[:MAX_CHARS]  # our own errors already say what happened
    inner = chain[-1]
    text = _first_line(str(inner)) or type(inner).__name__
    return redact(f"{type(inner).__name__}: {text}")[:MAX_CHARS]
