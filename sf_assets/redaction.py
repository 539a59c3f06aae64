"""Keep secrets (tokens, passwords, session ids) out of logs, errors, metadata and files."""

from __future__ import annotations

import logging
import re
import threading

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
# Salesforce session ids look like 00D...!AQ...; bearer tokens appear in headers.
_PATTERNS = (
    re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]{20,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._!\-]{8,}"),
    re.compile(r"(?i)(<sessionId>)[^<]+"),
    re.compile(r"(?i)(\"?(?:access_token|session_id|sessionId|password|client_secret)\"?\s*[:=]\s*\"?)[^\"\s,&}]+"),
)


def register_secret(value: str | None) -> None:
    """Remember `value` so that `redact` masks it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret and every token-shaped value masked."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, _MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + _MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's rendered message and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True
