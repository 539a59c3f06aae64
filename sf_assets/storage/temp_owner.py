"""Temp files and folders tagged with the process that made them, so a later run removes only the dead ones.

A tag is ``p<pid>s<start>`` (the process start time in centiseconds), judged by the one liveness rule
(`process_liveness.process_alive`), so a reused pid does not make a dead owner look alive. A temp entry
of a live process is never touched: on Windows it may be open, and on every OS its owner is still writing it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.process_liveness import process_alive, this_process

log = logging.getLogger(__name__)

_TAG = re.compile(r"p(\d+)s(\d+)")


def owner_tag() -> str:
    """The tag of this process (embed it in a temp name)."""
    pid, started = this_process()
    return f"p{pid}s{int(started * 100)}"


def owner_alive(name: str) -> bool:
    """True unless ``name`` carries an owner tag whose process is gone (untagged names count as alive)."""
    match = _TAG.search(name)
    return match is None or process_alive(int(match.group(1)), int(match.group(2)) / 100)


def remove_dead_temps(folder: Path, is_temp: re.Pattern[str]) -> list[Path]:
    """Remove the entries of ``folder`` whose name matches ``is_temp`` and whose owner process is gone."""
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if not is_temp.search(entry.name) or owner_alive(entry.name):
            continue
        if delete_when_free(entry):  # one still open in another program (Windows) is deleted by a later refresh
            log.info("Removed left-over temp %s of a finished or killed run", entry)
            removed.append(entry)
    return removed
