"""Held versions: a dataset's verified version of one refresh, kept outside the output folder until the
refresh's whole set is promoted together (``output_promote``).

Layout under ``work_dir/held/<dataset>/``: ``v<refresh_id>/`` is a complete version folder (the same
files a promoted version has) plus ``_held.json`` (the SQL it ran and when each staged table it read was
staged), so a version built from an older staging or an older SQL is never promoted. Nothing under
``output_dir`` changes while a version is held: the user and the share see the previous files.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sf_assets.storage.deletion import delete_when_free
from sf_assets.storage.files import atomic_write_text, link_or_copy, replace_when_free
from sf_assets.storage.manifest import SUCCESS, read_manifest
from sf_assets.storage.output import BuiltVersion, version_name
from sf_assets.storage.temp_owner import owner_tag

HELD_INFO = "_held.json"


@dataclass(frozen=True)
class HeldVersion:
    """A verified version of one dataset of one refresh, waiting for the rest of its refresh's set."""

    dataset: str
    refresh_id: str
    folder: Path
    sql: str
    sources_staged_at: dict[str, str]
    manifest: dict[str, Any]

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])


def held_folder(held_root: Path, dataset: str, refresh_id: str) -> Path:
    """Where the held version of `dataset` of `refresh_id` lives."""
    return held_root / dataset / version_name(refresh_id)


def hold(built: BuiltVersion, held_root: Path, sql: str, sources_staged_at: dict[str, str]) -> HeldVersion:
    """Move a version built under `held_root` into its held folder (replacing an earlier one of the same refresh)."""
    atomic_write_text(built.tmp / HELD_INFO, json.dumps({"sql": sql, "sources_staged_at": sources_staged_at}))
    final = held_folder(held_root, built.dataset, built.refresh_id)
    drop(final)
    replace_when_free(built.tmp, final)
    return HeldVersion(built.dataset, built.refresh_id, final, sql, dict(sources_staged_at), built.manifest)


def read_held(held_root: Path, dataset: str, refresh_id: str) -> HeldVersion | None:
    """The complete held version of `dataset` of `refresh_id`, or None."""
    folder = held_folder(held_root, dataset, refresh_id)
    try:
        info = json.loads((folder / HELD_INFO).read_text(encoding="utf-8"))
        manifest = read_manifest(folder)
    except (OSError, ValueError):
        return None
    if not (folder / SUCCESS).exists():
        return None
    return HeldVersion(dataset, refresh_id, folder, info["sql"], info["sources_staged_at"], manifest)


def drop(folder: Path) -> None:
    """Remove a held version folder (renamed aside first, so a half-removed folder never looks complete).

    When a file in it is open in another program (Windows refuses the rename), what is free is deleted in
    place, its ``_SUCCESS`` first, and the rest by a later refresh (``storage.deletion``).
    """
    if not folder.exists():
        return
    aside = folder.with_name(f".old-{owner_tag()}-{uuid.uuid4().hex[:8]}")
    try:
        replace_when_free(folder, aside)
    except OSError:
        aside = folder
        delete_when_free(folder / SUCCESS)
    delete_when_free(aside)


def drop_up_to(held_root: Path, dataset: str, refresh_id: str) -> None:
    """Remove the held versions of `dataset` of `refresh_id` and of every older refresh."""
    folder = held_root / dataset
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.startswith("v") and entry.name <= version_name(refresh_id):
                drop(entry)


def output_temp(held: HeldVersion, output_dir: Path) -> BuiltVersion:
    """The held version linked (copied where links are impossible) into a temp folder of the output, ready for
    ``promote_all``; the held folder stays until the promotion succeeded."""
    root = output_dir / held.dataset
    tmp = root / f".tmp-{owner_tag()}-{uuid.uuid4().hex[:8]}"
    try:
        for source in sorted(held.folder.rglob("*")):
            if source.name == HELD_INFO or source.is_dir():
                continue
            dest = tmp / source.relative_to(held.folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(source, dest)
    except BaseException:
        delete_when_free(tmp)
        raise
    return BuiltVersion(held.dataset, held.refresh_id, root, tmp, held.rows, held.manifest)
