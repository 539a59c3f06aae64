"""Stage "stage": an object's chunk files of the refresh loaded into the SQLite staging DB (Dagster-free)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from sf_assets.config import PipelineConfig
from sf_assets.config.models import ObjectConfig
from sf_assets.extract.tracker import ChunkTracker
from sf_assets.observability.logs import log_context
from sf_assets.pipeline.plan import estimate
from sf_assets.storage.field_mapping import load_plan
from sf_assets.storage.refresh_facts import put_health
from sf_assets.storage.staging import StagingResult, stage_object

log = logging.getLogger(__name__)


class IncompleteExtraction(RuntimeError):
    """Some chunks of the refresh are not extracted (or were found invalid): they must be (re-)extracted first."""


def chunk_files(conn: sqlite3.Connection, refresh_id: str, object_name: str) -> list[Path]:
    """The chunk files of the object in this refresh; raises IncompleteExtraction unless every chunk succeeded."""
    chunks = ChunkTracker(conn).chunks(refresh_id, object_name)
    pending = [c.key.chunk_id for c in chunks if c.status != "success" or not c.file_path]
    if not chunks or pending:
        raise IncompleteExtraction(
            f"{len(pending) if chunks else 'all'} chunk(s) of {object_name} in refresh {refresh_id} are not extracted"
            f"{': ' + ', '.join(pending[:10]) if pending else ''}; materialize them first (or run `sf-assets run`)"
        )
    return [Path(c.file_path) for c in chunks if c.file_path]  # every one of them (none pending)


def stage(config: PipelineConfig, conn: sqlite3.Connection, refresh_id: str, obj: ObjectConfig) -> StagingResult:
    """Load the object's chunks into the staging DB; invalid chunks are marked failed for re-extraction."""
    with log_context(refresh_id=refresh_id, object=obj.name):
        files = chunk_files(conn, refresh_id, obj.name)
        result = stage_object(config.paths.staging_db, load_plan(conn, obj.name), files, obj, config.staging)
        if result.invalid_chunks:
            tracker = ChunkTracker(conn)
            invalid = {str(p) for p in result.invalid_chunks}
            for state in tracker.chunks(refresh_id, obj.name):
                if state.file_path in invalid:
                    tracker.mark_failed(state.key, "chunk file failed the schema check: re-extract it")
            raise IncompleteExtraction(
                f"{len(invalid)} chunk file(s) of {obj.name} failed the schema check and were marked for re-extraction"
            )
        if result.rows == 0:  # normal (a new object, a filter that matches nothing today): said, not warned
            expected = estimate(conn, refresh_id, obj.name)
            log.info("%s has no rows in this refresh (Salesforce counted %s at preflight): staged as an empty table",
                     obj.name, expected)
            put_health(conn, refresh_id, "empty_objects", {"rows": 0, "expected": expected}, object_name=obj.name)
        return result
