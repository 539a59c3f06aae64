"""After a successful refresh, once its health JSON is written: delete what it no longer needs; never raises.

What goes: the deletes earlier refreshes had to put off (a file another program held open on Windows,
``storage.deletion``), the held versions of this refresh and older ones, output versions beyond
``output.keep_versions`` (and versions an earlier prune half deleted), and the chunk files of finished
refreshes. A file still open in another program stays and is deleted by a later refresh; nothing here can
fail a refresh that succeeded, so the publish that follows it always happens.
"""

from __future__ import annotations

import logging

from sf_assets.config import PipelineConfig
from sf_assets.extract.refresh import finished_refreshes
from sf_assets.extract.tracker import chunk_files_of
from sf_assets.observability.redaction import redact
from sf_assets.pipeline.build import held_root
from sf_assets.storage.deletion import delete_when_free, retry_pending_deletes
from sf_assets.storage.output_cleanup import delete_finished_chunk_files, prune_versions
from sf_assets.storage.output_held import drop_up_to
from sf_assets.storage.state_db import state_session

log = logging.getLogger(__name__)


def clean_up_after_success(config: PipelineConfig, refresh_id: str) -> None:
    """Delete what the finished refresh `refresh_id` and earlier ones no longer need (see the module doc)."""
    try:
        retry_pending_deletes(config.paths)
        for dataset in config.datasets:
            drop_up_to(held_root(config), dataset.name, refresh_id)
            folder = config.paths.output_dir / dataset.name
            for old in prune_versions(folder, config.output.keep_versions) if folder.is_dir() else []:
                log.info("Removed old output version %s of %s", old.name, dataset.name)
        with state_session(config.paths.state_db) as conn:
            finished = chunk_files_of(conn, finished_refreshes(conn))
        delete_finished_chunk_files(finished)
        delete_when_free(config.paths.work_dir / "chunks" / refresh_id)
    except Exception as exc:  # the refresh succeeded and its health JSON is written: cleanup must not undo that
        log.warning("Cleaning up after refresh %s failed: %s; a later refresh tries again", refresh_id,
                    redact(str(exc)))
