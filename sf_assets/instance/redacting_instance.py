"""The laptop's Dagster instance (`instance_class` in dagster_home/dagster.yaml): every event is redacted
before it is stored.

Log records are redacted when they are created (`sf_assets.observability.redaction`), but Dagster also stores
structured events: a step's failure is kept with the exception's message, traceback and causes as
raised, metadata as given. This instance masks every string of each event before the event log (the
run shards and `index.db` under `history/runs/`) sees it, so no registered secret or token-shaped
value is stored, whatever raised it. Storage, folders and schema stay Dagster's defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from sf_assets.defs.dagster_internals import default_instance_storages
from sf_assets.observability.redaction import redact, redact_json


def redact_event(event: dg.EventLogEntry) -> dg.EventLogEntry:
    """`event` with every string of its serialized form redacted (the same object when nothing needed masking)."""
    text = dg.serialize_value(event)
    if redact(text) == text:
        return event
    return dg.deserialize_value(json.dumps(redact_json(json.loads(text))), dg.EventLogEntry)


class RedactingInstance(dg.DagsterInstance):
    """A `DagsterInstance` that redacts each event before storing it (and before telling subscribers)."""

    @classmethod
    def config_schema(cls) -> dict:
        """No settings of its own (Dagster asks every custom instance class for its extra keys)."""
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, object]:
        """Dagster's default storages, under `base_dir` (the DAGSTER_HOME folder)."""
        return default_instance_storages(base_dir)

    def store_event(self, event: dg.EventLogEntry) -> None:
        """Store `event`, redacted."""
        super().store_event(redact_event(event))

    def handle_new_event(self, event: dg.EventLogEntry, *, batch_metadata: Any = None) -> None:
        """Store `event`, redacted, and notify subscribers."""
        super().handle_new_event(redact_event(event), batch_metadata=batch_metadata)
