"""Structured logging: JSON (or key=value) lines carrying refresh id, run id, object and chunk id.

Domain code logs with `logging.getLogger(__name__)` inside `log_context(...)`; the context fields
are added to every record, secrets are redacted, and Dagster shows the same lines in the UI
(`python_logs.managed_python_loggers: [sf_assets]` in dagster_home/dagster.yaml).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import logging.handlers
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from sf_assets.redaction import RedactingFilter

CONTEXT_FIELDS = ("refresh_id", "run_id", "object", "chunk_id")
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("sf_assets_log_context", default={})
ROOT = "sf_assets"


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` (refresh_id, run_id, object, chunk_id) to every log line inside the block."""
    merged = {**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def bind_log_context(**fields: object) -> None:
    """Set log context fields until the next bind (for a Dagster step: its run id and refresh id)."""
    _context.set({**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}})


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record (missing fields as '-')."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _context.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, ctx.get(name, "-"))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            **{name: getattr(record, name, "-") for name in CONTEXT_FIELDS},
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=… refresh_id=… object=… chunk_id=… message="…"` lines."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        ctx = " ".join(f"{name}={getattr(record, name, '-')}" for name in CONTEXT_FIELDS)
        return f"ts={ts} level={record.levelname} {ctx} message={json.dumps(record.getMessage(), ensure_ascii=False)}"


class ConsoleFormatter(logging.Formatter):
    """Short human lines for a terminal: `WARNING Opportunity/c0003: message`."""

    def format(self, record: logging.LogRecord) -> str:
        where = "/".join(v for v in (getattr(record, "object", "-"), getattr(record, "chunk_id", "-")) if v != "-")
        return f"{record.levelname} {where + ': ' if where else ''}{record.getMessage()}"


def setup_logging(level: str = "INFO", log_dir: Path | None = None, fmt: str = "json", console: bool = True,
                  console_level: str = "WARNING") -> None:
    """Configure the `sf_assets` logger: rotating file under `log_dir` and stderr (from `console_level`)."""
    logger = logging.getLogger(ROOT)
    logger.setLevel(level)
    logger.propagate = not console  # with our own console handler, the root logger must not print them again
    for handler in list(logger.handlers):
        if getattr(handler, "_sf_assets", False):
            logger.removeHandler(handler)
            handler.close()
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else KeyValueFormatter()
    handlers: list[logging.Handler] = []
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(log_dir / "sf_assets.log", maxBytes=20_000_000, backupCount=10, encoding="utf-8")
        )
    if console:
        stream = logging.StreamHandler()
        threshold = logging.getLevelName(console_level)
        stream.addFilter(lambda r: r.levelno >= threshold or getattr(r, "progress", False))
        stream.setFormatter(ConsoleFormatter())
        handlers.append(stream)
    for handler in handlers:
        if handler.formatter is None:
            handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        handler.addFilter(RedactingFilter())
        handler._sf_assets = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    for existing in logger.filters[:]:
        logger.removeFilter(existing)
    logger.addFilter(ContextFilter())
    logger.addFilter(RedactingFilter())


def ensure_logging(level: str, log_dir: Path, fmt: str) -> None:
    """`setup_logging` without console output, unless this process configured logging already (CLI, tests)."""
    if not any(getattr(h, "_sf_assets", False) for h in logging.getLogger(ROOT).handlers):
        setup_logging(level, log_dir, fmt, console=False)
