"""Keep secrets (tokens, passwords, session ids) out of logs, errors, metadata and files.

Redaction happens where text is made: `install_record_factory` makes every `LogRecord` of the
process redacted when it is created, so every handler (files, console, Dagster's event log
handler) only ever sees masked text; stored errors and user-facing strings go through `redact`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
_factory_installed = False
# Salesforce session ids look like 00D...!AQ...; bearer tokens appear in headers.
_PATTERNS = (
    re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]{20,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._!\-]{8,}"),
    re.compile(r"(?i)(<sessionId>)[^<]+"),
    re.compile(r"(?i)(\"?(?:access_token|session_id|sessionId|password|client_secret)\"?\s*[:=]\s*\"?)[^\"\s,&}]+"),
)


def register_secret(value: str | None) -> None:
    """Remember `value` so that `redact` masks it wherever it appears (and redact every log record from now on)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.update({value, json.dumps(value)[1:-1]})  # also as it appears inside JSON text
        install_record_factory()


def redact(text: str) -> str:
    """`text` with every registered secret and every token-shaped value masked."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, _MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + _MASK, text)
    return text


def redact_json(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings, numbers) with every string, keys included, redacted."""
    if isinstance(value, dict):
        return {redact(str(k)): redact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask secrets in `record`'s message, exception and stack text, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it when it formats the record
        return record
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install_record_factory() -> None:
    """Wrap the process's log-record factory so that every record is redacted as it is created (idempotent).

    Handlers, not only ours, see records of child loggers without their parents' filters (Dagster adds its
    event-log handler to the `sf_assets` logger at step start); a factory reaches every one of them.
    """
    global _factory_installed
    with _lock:
        if _factory_installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _factory_installed = True
