"""Configuration keys renamed by a release: still read in their old place for one more release, with a warning.

`RENAMED` maps each old dotted key to its new one (one line per rename; drop it the release after). The loader
moves a value written under an old key to its new key before validation; the warning is logged and shown by
`sf-assets config check`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

RENAMED = {
    "dask.engine": "transform.engine",  # 2026-12: the dataset engine is not a Dask setting (sqlite needs no Dask)
}


class RenamedKeyConflict(ValueError):
    """A renamed key is written both under its old and its new name."""


def move_renamed(data: dict[str, Any], renamed: Mapping[str, str] = RENAMED,
                 advice: str = "write it as") -> tuple[dict[str, Any], list[str]]:
    """`data` (not changed) with every old key of `renamed` (the configuration's by default; the health JSON has
    its own) moved to its new place, and one warning line per key moved."""
    moved, warnings = copy.deepcopy(data), []
    for old, new in renamed.items():
        old_section, old_name = _parent(moved, old)
        if old_section is None or old_name not in old_section:
            continue
        new_section, new_name = _parent(moved, new, create=True)
        if new_section is None:
            continue  # the new key's section is not a mapping: validation names it
        if new_name in new_section:
            raise RenamedKeyConflict(f"{old} and {new} are both set: {old} is the old name of {new}, keep only {new}")
        new_section[new_name] = old_section.pop(old_name)
        warnings.append(f"{old} is deprecated and read for one more release: {advice} {new}")
    return moved, warnings


def _parent(data: dict[str, Any], key: str, create: bool = False) -> tuple[dict[str, Any] | None, str]:
    """The mapping that holds the last part of the dotted `key` (made on the way when `create`), and that part."""
    *sections, name = key.split(".")
    node: Any = data
    for section in sections:
        if create and node.get(section) is None:
            node[section] = {}
        node = node.get(section)
        if not isinstance(node, dict):
            return None, name
    return node, name
