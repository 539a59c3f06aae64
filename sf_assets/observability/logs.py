"""Structured logging: JSON (or key=value) lines carrying refresh id, run id, object and chunk id.

Domain code logs with `logging.getLogger(__name__)` inside `log_context(...)`; the context fields
are added to every record, secrets are redacted when a record is created
(`sf_assets.observability.redaction.install_record_factory`), and Dagster shows the same lines in the UI
(`python_logs.managed_python_loggers: [sf_assets]` in dagster_home/dagster.yaml).

One refresh's lines are in one folder, `<log_dir>/<refresh_id>/`, and each process writes its own file
there, `sf_assets_<UTC start>_<pid>.log` (the CLI, every run worker, the daemon's sensors): on Windows a
file another process holds open cannot be renamed, so a rotating file shared by processes would stop
rolling over and drop records. Lines of no refresh (a code server loading, a sensor with nothing to
do) go to the process's file in `<log_dir>` itself; a file is created at its first line only.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from sf_assets.observability.redaction import install_record_factory

CONTEXT_FIELDS = ("refresh_id", "run_id", "object", "chunk_id")
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "sf_assets_log_context", default=MappingProxyType({})
)
ROOT = "sf_assets"
LOG_FILE_GLOB = "sf_assets_*.log*"
LOG_RETENTION = timedelta(days=30)
_process_start = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


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
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        ctx = " ".join(f"{name}={getattr(record, name, '-')}" for name in CONTEXT_FIELDS)
        return f"ts={ts} level={record.levelname} {ctx} message={json.dumps(record.getMessage(), ensure_ascii=False)}"


class ConsoleFormatter(logging.Formatter):
    """Short human lines for a terminal: `WARNING Opportunity/c0003: message`."""

    def format(self, record: logging.LogRecord) -> str:
        where = "/".join(v for v in (getattr(record, "object", "-"), getattr(record, "chunk_id", "-")) if v != "-")
        return f"{record.levelname} {where + ': ' if where else ''}{record.getMessage()}"


class ProcessLogHandler(logging.handlers.RotatingFileHandler):
    """This process's rotating log file; a rollover that cannot rename (Windows: another program has the
    file open) keeps writing to the current file and is tried again `retry_s` later, so no record is lost."""

    def __init__(self, path: Path, max_bytes: int = 20_000_000, backup_count: int = 5, retry_s: float = 60.0) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")
        self.retry_s = retry_s
        self._next_try = 0.0

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # logging's name
        """Roll over when the file is full, unless the last attempt failed less than `retry_s` ago."""
        return time.monotonic() >= self._next_try and bool(super().shouldRollover(record))

    def doRollover(self) -> None:  # logging's name
        """Rotate; on PermissionError (the file or a backup is in use) reopen the current file instead."""
        try:
            super().doRollover()
        except OSError:
            self._next_try = time.monotonic() + self.retry_s
            if self.stream is None:
                self.stream = self._open()


def refresh_log_dir(log_dir: Path, refresh_id: str) -> Path:
    """The folder of one refresh's log files (one file per process that logged for it)."""
    return log_dir / refresh_id  # YYYYMMDDTHHMMSSZ-xxxx: a safe folder name on every OS


def process_log_file(log_dir: Path, refresh_id: str | None = None) -> Path:
    """This process's log file for `refresh_id` (its folder), or for lines of no refresh (`log_dir` itself)."""
    folder = refresh_log_dir(log_dir, refresh_id) if refresh_id and refresh_id != "-" else log_dir
    return folder / f"sf_assets_{_process_start}_{os.getpid()}.log"


class RefreshLogHandler(logging.Handler):
    """Routes each record to this process's file in the folder of its refresh (`process_log_file`); keeps the
    files of the last few refreshes open (a long-lived daemon logs for many)."""

    def __init__(self, log_dir: Path, formatter: logging.Formatter, keep_open: int = 4) -> None:
        super().__init__()
        self.log_dir, self.keep_open = log_dir, keep_open
        self.setFormatter(formatter)
        self._files: dict[str, ProcessLogHandler] = {}

    def file_for(self, refresh_id: str) -> ProcessLogHandler:
        """The (lazily opened) file handler of `refresh_id` ("-": no refresh)."""
        handler = self._files.pop(refresh_id, None)
        if handler is None:
            path = process_log_file(self.log_dir, refresh_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = ProcessLogHandler(path)
            handler.setFormatter(self.formatter)
        self._files[refresh_id] = handler  # most recently used last
        while len(self._files) > self.keep_open:
            self._files.pop(next(iter(self._files))).close()
        return handler

    def emit(self, record: logging.LogRecord) -> None:
        """Write `record` to its refresh's file."""
        try:
            self.file_for(str(getattr(record, "refresh_id", "-"))).handle(record)  # under this handler's lock
        except Exception:  # logging must never raise into the caller
            self.handleError(record)

    def close(self) -> None:
        """Close every open file."""
        for handler in self._files.values():
            handler.close()
        self._files.clear()
        super().close()


def current_log_file(refresh_id: str | None = None) -> Path | None:
    """The file this process logs `refresh_id`'s lines to (default: the refresh of the current log context), if
    `setup_logging` gave it a log folder."""
    for handler in logging.getLogger(ROOT).handlers:
        if isinstance(handler, RefreshLogHandler):
            return process_log_file(handler.log_dir, refresh_id or _context.get().get("refresh_id"))
    return None


def _remove_old_logs(log_dir: Path) -> None:
    """Delete log files not written to for LOG_RETENTION (a file still open elsewhere is left alone), and the
    refresh folders they leave empty (never a new, still empty one: its first file may be on its way)."""
    cutoff = time.time() - LOG_RETENTION.total_seconds()
    emptied: set[Path] = set()
    for path in [*log_dir.glob(LOG_FILE_GLOB), *log_dir.glob(f"*/{LOG_FILE_GLOB}")]:
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                emptied.add(path.parent)
        except OSError:
            continue
    for folder in emptied - {log_dir}:
        with contextlib.suppress(OSError):
            if not any(folder.iterdir()):
                folder.rmdir()


class ConsoleHandler(logging.StreamHandler):
    """Writes to `sys.stderr` as it is at each line: a stderr replaced later (a test's capture, an embedding
    program) is followed, and a closed one never written to."""

    @property
    def stream(self):
        """This moment's stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # StreamHandler.__init__ assigns it
        pass


def setup_logging(level: str = "INFO", log_dir: Path | None = None, fmt: str = "json", console: bool = True,
                  console_level: str = "WARNING") -> None:
    """Configure the `sf_assets` logger: this process's rotating file under `log_dir` and stderr (from
    `console_level`)."""
    install_record_factory()
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
        _remove_old_logs(log_dir)
        handlers.append(RefreshLogHandler(log_dir, formatter))
    if console:
        stream = ConsoleHandler()
        threshold = logging.getLevelName(console_level)
        stream.addFilter(lambda r: r.levelno >= threshold or getattr(r, "progress", False))
        stream.setFormatter(ConsoleFormatter())
        handlers.append(stream)
    for handler in handlers:
        if handler.formatter is None:
            handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        handler._sf_assets = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    for existing in logger.filters[:]:
        logger.removeFilter(existing)
    logger.addFilter(ContextFilter())


def ensure_logging(level: str, log_dir: Path, fmt: str) -> None:
    """`setup_logging` without console output, unless this process configured logging already (CLI, tests)."""
    if not any(getattr(h, "_sf_assets", False) for h in logging.getLogger(ROOT).handlers):
        setup_logging(level, log_dir, fmt, console=False)
