"""What a new version of a dataset changes for a Power BI model: its columns against the current version's.

A Power BI model refers to a file's columns by name and type: a column removed or retyped breaks the visuals and
measures that use it, one added appears in the model at the next refresh, and a new order shows in the model's
field list (Power Query's "Changed Type" step names every column). Compared from the versions' manifests
(``_metadata.json``: ``schema`` = names and Arrow types in file order).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sf_assets.storage.manifest import read_manifest
from sf_assets.storage.output import CURRENT


def column_changes(before: Sequence[Mapping[str, str]], after: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """``added``, ``removed``, ``retyped`` (column, from, to) and ``reordered`` (the columns both versions have,
    in a different order) between two manifest schemas; empty when nothing changed."""
    old = {c["name"]: c["type"] for c in before}
    new = {c["name"]: c["type"] for c in after}
    changes: dict[str, Any] = {
        "added": [name for name in new if name not in old],
        "removed": [name for name in old if name not in new],
        "retyped": [{"column": name, "from": old[name], "to": kind}
                    for name, kind in new.items() if name in old and old[name] != kind],
        "reordered": [n for n in old if n in new] != [n for n in new if n in old],
    }
    return changes if any(changes.values()) else {}


def current_columns(output_dir: Path, dataset: str) -> tuple[str, list[dict[str, str]]] | None:
    """(refresh id, manifest schema) of the dataset's current version in ``output_dir``, or None when it has none."""
    root = output_dir / dataset
    try:
        pointer = json.loads((root / CURRENT).read_text(encoding="utf-8"))
        return str(pointer["refresh_id"]), list(read_manifest(root / pointer["folder"])["schema"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
