"""Promote the verified versions of every dataset of a refresh together: all become current, or none.

Per dataset, promotion renames the temp folder to ``v<refresh_id>/``, replaces the stable
``<dataset>.parquet`` (hard link of the version's consolidated file + ``os.replace``, a copy where
links are impossible; waiting up to ``output.in_use_wait_s`` while Power BI Desktop holds it open)
and rewrites ``current.json``. A journal (``output_dir/_promotion.json``, written before the first
change) lists every dataset with the previous ``current.json``:

* a failure (e.g. a file still in use after the wait) rolls the already promoted datasets back
  to their previous files, byte for byte, and removes the new version folders;
* a kill leaves the journal; the next run's ``recover_promotion`` completes the promotion
  (every version in it was verified before the journal was written), so the stable files and
  ``current.json`` end consistent either way.
"""

from __future__ import annotations

import filecmp
import json
import logging
import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import atomic_write_text, link_or_copy, replace_when_free, temp_path_for
from sf_assets.storage.manifest import SUCCESS
from sf_assets.storage.output import CURRENT, BuiltVersion, PromotedDataset, consolidated_name
from sf_assets.storage.temp_owner import owner_tag

log = logging.getLogger(__name__)

JOURNAL = "_promotion.json"


class PromotionError(RuntimeError):
    """Promoting one dataset failed; every dataset of the refresh was put back to its previous files."""

    def __init__(self, dataset: str, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.dataset = dataset


def promote_all(built: Sequence[BuiltVersion], output_dir: Path, in_use_wait_s: float) -> list[PromotedDataset]:
    """Make every built version current; on any failure none is (the previous files are restored)."""
    entries = [_entry(b) for b in built]
    journal = output_dir / JOURNAL
    atomic_write_text(journal, json.dumps({"entries": entries}, indent=2))
    started: list[dict[str, Any]] = []
    try:
        for entry in entries:
            started.append(entry)
            _promote_one(entry, in_use_wait_s)
    except BaseException as exc:
        log.error("Promoting the refresh's outputs failed at %s (%s): restoring the previous files of %s",
                  started[-1]["dataset"], exc, ", ".join(e["dataset"] for e in started))
        if _roll_back(started, in_use_wait_s):
            delete_when_free(journal)
        if isinstance(exc, Exception):
            raise PromotionError(started[-1]["dataset"], exc) from exc
        raise
    delete_when_free(journal)
    for b in built:
        log.info("Promoted %s: %d rows in %s", b.dataset, b.rows, b.final)
    return [PromotedDataset(b.dataset, b.refresh_id, b.final, _stable(e), b.rows, b.manifest)
            for b, e in zip(built, entries)]


def recover_promotion(output_dir: Path, in_use_wait_s: float) -> list[str]:
    """Complete a promotion a killed run left half done; returns the datasets it completed."""
    journal = output_dir / JOURNAL
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))["entries"]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(
            f"the promotion journal {journal} is unreadable ({exc}); check the output and delete it"
        ) from exc
    ready = [e for e in entries if Path(e["tmp"]).is_dir() or (Path(e["final"]) / SUCCESS).exists()]
    if len(ready) < len(entries):  # cannot happen unless someone deleted a version: put the previous files back
        log.error("Interrupted promotion %s lacks versions; restoring the previous files", journal)
        if _roll_back(entries, in_use_wait_s):
            delete_when_free(journal)
        return []
    for entry in entries:
        _promote_one(entry, in_use_wait_s)
    delete_when_free(journal)
    names = [e["dataset"] for e in entries]
    log.warning("Completed the promotion of refresh %s that a killed run left half done: %s",
                entries[0]["refresh_id"] if entries else "?", ", ".join(names))
    return names


def _entry(b: BuiltVersion) -> dict[str, Any]:
    try:
        previous = (b.root / CURRENT).read_text(encoding="utf-8")
    except FileNotFoundError:
        previous = None
    return {"dataset": b.dataset, "refresh_id": b.refresh_id, "root": str(b.root), "tmp": str(b.tmp),
            "final": str(b.final), "rows": b.rows, "consolidated": b.consolidated, "previous": previous}


def _stable(entry: dict[str, Any]) -> Path | None:
    return Path(entry["root"]) / consolidated_name(entry["dataset"]) if entry["consolidated"] else None


def _promote_one(entry: dict[str, Any], in_use_wait_s: float) -> None:
    """Idempotent: version folder in place, stable file replaced, then current.json."""
    root, tmp, final = Path(entry["root"]), Path(entry["tmp"]), Path(entry["final"])
    if tmp.is_dir():
        _move_into_place(tmp, final)
    stable = _stable(entry)
    if stable is not None:
        _replace_stable(final / entry["consolidated"], stable, in_use_wait_s)
    pointer = {
        "dataset": entry["dataset"], "refresh_id": entry["refresh_id"], "version": final.name, "folder": final.name,
        "stable_file": stable.name if stable else None, "consolidated": entry["consolidated"], "rows": entry["rows"],
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(root / CURRENT, json.dumps(pointer, indent=2))


def _move_into_place(tmp: Path, final: Path) -> None:
    """Rename the verified temp folder into place (replacing a same-refresh version)."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{owner_tag()}-{uuid.uuid4().hex[:8]}")
        replace_when_free(final, old)
    replace_when_free(tmp, final)
    if old is not None:
        delete_when_free(old)


def _replace_stable(source: Path, stable: Path, in_use_wait_s: float) -> None:
    staged = temp_path_for(stable)
    try:
        link_or_copy(source, staged)
        replace_when_free(staged, stable, in_use_wait_s, held_by="Power BI Desktop", wait_key="output.in_use_wait_s")
    finally:
        delete_when_free(staged)


def _same_content(a: Path, b: Path) -> bool:
    """True when `b` already holds `a`'s bytes (the same hard-linked file, or an identical copy)."""
    try:
        return os.path.samefile(a, b) or filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _roll_back(entries: Sequence[dict[str, Any]], in_use_wait_s: float) -> bool:
    """Put back each dataset's previous stable file and current.json; True when every one was restored."""
    ok = True
    for entry in reversed(entries):
        root, final = Path(entry["root"]), Path(entry["final"])
        try:
            previous = json.loads(entry["previous"]) if entry["previous"] else None
            stable = root / consolidated_name(entry["dataset"])
            if previous is None:
                if not (delete_when_free(stable) and delete_when_free(root / CURRENT)):
                    raise OSError(f"{stable} or {CURRENT} beside it is open in another program")
            else:
                if previous.get("stable_file"):
                    source = (
                        root / previous["folder"] / (previous.get("consolidated") or previous["folder"] + ".parquet")
                    )
                    if not _same_content(source, root / previous["stable_file"]):
                        _replace_stable(source, root / previous["stable_file"], in_use_wait_s)
                atomic_write_text(root / CURRENT, entry["previous"])
            if final.is_dir() and (previous is None or previous.get("folder") != final.name):
                delete_when_free(final)
            delete_when_free(Path(entry["tmp"]))
        except Exception as exc:  # keep restoring the others; the journal stays for the next run
            log.error("Could not restore the previous output of %s: %s", entry["dataset"], exc)
            ok = False
    return ok
