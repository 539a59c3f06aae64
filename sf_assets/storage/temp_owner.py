"""Temp files and folders tagged with the process that made them, so a later run removes only the dead ones.

A tag is ``p<pid>s<start>`` (the process start time in centiseconds, so a reused pid does not make
a dead owner look alive). A temp entry of a live process is never touched: on Windows it may be
open, and on every OS its owner is still writing it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

_TAG = re.compile(r"p(\d+)s(\d+)")


@lru_cache(maxsize=1)
def _tag_of(pid: int) -> str:
    return f"p{pid}s{int(psutil.Process(pid).create_time() * 100)}"


def owner_tag() -> str:
    """The tag of this process (embed it in a temp name)."""
    return _tag_of(os.getpid())


def owner_alive(name: str) -> bool:
    """True unless ``name`` carries an owner tag whose process is gone (untagged names count as alive)."""
    match = _TAG.search(name)
    if match is None:
        return True
    pid, started = int(match.group(1)), int(match.group(2))
    try:
        return abs(int(psutil.Process(pid).create_time() * 100) - started) <= 100
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True  # cannot tell (access denied): keep it


def remove_dead_temps(folder: Path, is_temp: re.Pattern[str]) -> list[Path]:
    """Remove the entries of ``folder`` whose name matches ``is_temp`` and whose owner process is gone."""
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if not is_temp.search(entry.name) or owner_alive(entry.name):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:  # e.g. Windows: still open by another program
            log.warning("Could not remove the left-over temp %s: %s", entry, exc)
            continue
        log.info("Removed left-over temp %s of a finished or killed run", entry)
        removed.append(entry)
    return removed
