"""Windows' rule that a file open in another program cannot be deleted or renamed, simulated on Linux.

On Windows, a virus scanner, Explorer's preview pane or Power BI Desktop holding a file open makes
`DeleteFile` and `MoveFile` fail with WinError 32 ("being used by another process"), and a folder
holding such a file cannot be renamed or removed. Linux deletes open files, so `HeldFiles` patches
`os.unlink`/`os.remove`/`os.rename`/`os.replace` (what `Path.unlink`, `shutil.rmtree` and our atomic
renames call) to raise that error for the held paths; a folder holding one then stays non-empty and
`rmdir` fails by itself. Mocked because Linux cannot show the rule (docs/WINDOWS.md, rule 16).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

SHARING_VIOLATION = "The process cannot access the file because it is being used by another process"


class HeldFiles:
    """The files another program holds open: exact paths, or every existing path a rule matches."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: set[Path] = set()
        self.rules: list[Callable[[Path], bool]] = []
        self.refused: list[Path] = []
        real = {name: getattr(os, name) for name in ("unlink", "remove", "rename", "replace")}

        def refusing_delete(name: str) -> Callable[..., None]:
            def delete(path, *, dir_fd=None):
                if self.held(_full(path, dir_fd)):
                    raise self._refuse(_full(path, dir_fd))
                return real[name](path, dir_fd=dir_fd)
            return delete

        def refusing_move(name: str) -> Callable[..., None]:
            def move(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
                source, target = _full(src, src_dir_fd), _full(dst, dst_dir_fd)
                if self.held(source) or self.holds_inside(source) or self.held(target):
                    raise self._refuse(source)
                return real[name](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
            return move

        for name in ("unlink", "remove"):
            monkeypatch.setattr(os, name, refusing_delete(name))
        for name in ("rename", "replace"):
            monkeypatch.setattr(os, name, refusing_move(name))

    def hold(self, what: Path | Callable[[Path], bool]) -> None:
        """Hold a path, or every path a rule matches from the moment it exists (a scanner opening new files)."""
        if isinstance(what, Path):
            self.paths.add(Path(os.path.abspath(what)))
        else:
            self.rules.append(what)

    def release_all(self) -> None:
        """The other program closed everything."""
        self.paths.clear()
        self.rules.clear()

    def held(self, path: Path) -> bool:
        return path.exists() and not path.is_dir() and (path in self.paths or any(rule(path) for rule in self.rules))

    def holds_inside(self, folder: Path) -> bool:
        return folder.is_dir() and any(self.held(p) for p in folder.rglob("*"))

    def _refuse(self, path: Path) -> PermissionError:
        self.refused.append(path)
        return PermissionError(13, SHARING_VIOLATION, str(path))


def _full(path, dir_fd: int | None) -> Path:
    """The absolute path `shutil.rmtree`'s fd-relative calls mean."""
    path = Path(os.fsdecode(path))
    if dir_fd is not None and not path.is_absolute():
        path = Path(os.readlink(f"/proc/self/fd/{dir_fd}")) / path
    return Path(os.path.abspath(path))
