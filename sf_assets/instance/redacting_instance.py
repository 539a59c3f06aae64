"""The laptop's Dagster instance (`instance_class` in dagster_home/dagster.yaml): every event is redacted
before it is stored, and the daemon's backfill and sensor loops run at `daemon_cadence` (docs/ARCHITECTURE.md,
"A refresh from the UI").

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

from sf_assets.defs.dagster_internals import (
    EventRewritingInstance,
    default_instance_storages,
    is_daemon_process,
    set_daemon_cadence,
)
from sf_assets.instance.warm_launcher import WarmRunLauncher
from sf_assets.observability.redaction import redact, redact_json

DAEMON_CADENCE_DEFAULTS = {"backfill_seconds": 1, "sensor_loop_seconds": 1}  # Dagster's own: 30 and 5


def redact_event(event: dg.EventLogEntry) -> dg.EventLogEntry:
    """`event` with every string of its serialized form redacted (the same object when nothing needed masking)."""
    text = dg.serialize_value(event)
    if redact(text) == text:
        return event
    return dg.deserialize_value(json.dumps(redact_json(json.loads(text))), dg.EventLogEntry)


class RedactingInstance(EventRewritingInstance):
    """A `DagsterInstance` that redacts each event before storing it (and before telling subscribers), sets
    the daemon's loop cadence of the process that creates it (only the daemon's process runs those loops) and, in
    the daemon, starts the run workers of its launcher."""

    def __init__(self, *args: Any, daemon_cadence: Mapping[str, int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cadence = {**DAEMON_CADENCE_DEFAULTS, **(daemon_cadence or {})}
        set_daemon_cadence(cadence["backfill_seconds"], cadence["sensor_loop_seconds"])
        if is_daemon_process() and isinstance(self.run_launcher, WarmRunLauncher):
            self.run_launcher.warm_up()  # its first run starts in a waiting worker too

    @classmethod
    def config_schema(cls) -> dict:
        """Its one extra key in dagster.yaml: `daemon_cadence` (Dagster asks every custom instance class)."""
        return {"daemon_cadence": dg.Field(
            {name: dg.Field(dg.IntSource, is_required=False, default_value=seconds)
             for name, seconds in DAEMON_CADENCE_DEFAULTS.items()},
            is_required=False,
            description="How often the daemon's backfill loop and sensor loop run, in seconds.")}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, object]:
        """Dagster's default storages, under `base_dir` (the DAGSTER_HOME folder)."""
        return default_instance_storages(base_dir)

    def rewrite_event(self, event: dg.EventLogEntry) -> dg.EventLogEntry:
        """`event` redacted: what is stored and what subscribers hear."""
        return redact_event(event)
