"""SQLite instance storage whose event log masks secrets in every event before it is written.

Log records are redacted when they are created (`sf_assets.redaction`), but Dagster also stores
structured events: a step's failure is kept with the exception's message and traceback as raised,
run metadata as given. This storage redacts every string of each event before storing it, so the
event log (the run shards and `index.db` under `history/runs/`) never holds a registered secret or a
token-shaped value, whatever raised it. Same folders and schema as Dagster's default SQLite storage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Self

from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData, deserialize_value, serialize_value

from sf_assets.redaction import redact, redact_json


def redact_event(event: EventLogEntry) -> EventLogEntry:
    """`event` with every string of its serialized form redacted (the same object when nothing needed masking)."""
    text = serialize_value(event)
    if redact(text) == text:
        return event
    return deserialize_value(json.dumps(redact_json(json.loads(text))), EventLogEntry)


class RedactingSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, redacting each event before it is written."""

    def store_event(self, event: EventLogEntry) -> None:
        """Store `event` redacted."""
        super().store_event(redact_event(event))


class RedactingSqliteStorage(DagsterSqliteStorage):
    """`storage: custom:` of dagster.yaml: Dagster's SQLite storage with a redacting event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage.dispose()
        self._event_log_storage = RedactingSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> Self:
        """Built from dagster.yaml (the parent's version would build the parent class)."""
        return cls.from_local(inst_data=inst_data, **config_value)
