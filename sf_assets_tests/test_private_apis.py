"""Private names of Dagster and of dask-sql (and Dask) are reached only through their guard modules.

Every module of the package is parsed (ast, function-local code too). Only `defs/dagster_internals.py` may import
`dagster._…` or use a member of `DagsterInstance` that Dagster does not mark public (`@public`), on an instance or
by overriding it; only `transform/dask_sql_internals.py` may import a private module or name of dask_sql, dask or
distributed, or reach an underscore attribute of one (in a module that imports them, of any object but its own).
When this fails, move the use into the guard, with a behaviour test beside the guard's others.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import dagster as dg
from dagster._annotations import is_public

PACKAGE = Path(__file__).resolve().parents[1] / "sf_assets"
DAGSTER_GUARD = "defs/dagster_internals.py"
DASK_GUARD = "transform/dask_sql_internals.py"
DASK_PACKAGES = ("dask_sql", "dask", "distributed")
PRIVATE_INSTANCE_MEMBERS = {
    name for name in dir(dg.DagsterInstance)
    if not name.startswith("__") and not is_public(inspect.getattr_static(dg.DagsterInstance, name))
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _top(module: str) -> str:
    return module.split(".")[0]


def _imports(tree: ast.AST) -> tuple[list[tuple[int, str]], dict[str, str]]:
    """Every (line, imported dotted name) of the module, and the local names bound to third-party modules/names."""
    found, bound = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name))
                bound[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else _top(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found.append((node.lineno, f"{node.module}.{alias.name}"))
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found, bound


def _receiver(node: ast.expr) -> str:
    """The last identifier of an attribute's receiver (`context.instance` -> `instance`), `super()` for super()."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super":
        return "super()"
    return ""


def _dagster_offences(tree: ast.AST) -> list[str]:
    imports, bound = _imports(tree)
    wrong = [f"{line}: imports {name}" for line, name in imports
             if _top(name) == "dagster" and any(_private(part) for part in name.split("."))]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE_INSTANCE_MEMBERS:
            receiver = _receiver(node.value)
            if receiver.endswith("instance") or receiver == "super()":
                wrong.append(f"{node.lineno}: {receiver}.{node.attr} (DagsterInstance, not public)")
        elif isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name) \
                and _top(bound.get(node.value.id, "")) == "dagster":
            wrong.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith("Instance") for b in node.bases):
            wrong += [f"{item.lineno}: {node.name} overrides DagsterInstance.{item.name} (not public)"
                      for item in node.body
                      if isinstance(item, ast.FunctionDef) and item.name in PRIVATE_INSTANCE_MEMBERS]
    return wrong


def _dask_offences(tree: ast.AST) -> list[str]:
    imports, bound = _imports(tree)
    dask_names = [(line, name) for line, name in imports if _top(name) in DASK_PACKAGES]
    wrong = [f"{line}: imports {name}" for line, name in dask_names if any(_private(p) for p in name.split("."))]
    if not dask_names:
        return wrong
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and _receiver(node.value) not in ("self", "cls"):
            wrong.append(f"{node.lineno}: {ast.unparse(node)}")
    return wrong


def _offences(check, guard: str) -> list[str]:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name != guard:
            wrong += [f"{name}:{what}" for what in check(ast.parse(path.read_text(encoding="utf-8")))]
    return wrong


def test_only_the_dagster_guard_reaches_dagster_internals():
    assert {"report_run_failed", "store_event", "handle_new_event", "get_runs"} <= PRIVATE_INSTANCE_MEMBERS
    assert _offences(_dagster_offences, DAGSTER_GUARD) == []


def test_only_the_dask_sql_guard_reaches_private_names_of_dask_sql_and_dask():
    assert _offences(_dask_offences, DASK_GUARD) == []


def test_the_checks_catch_what_they_look_for():
    """The patterns this file exists for, as they were written before the guards (each must be caught)."""
    dagster_code = ast.parse(
        "import dagster as dg\nfrom dagster._core.storage.tags import BACKFILL_ID_TAG\n"
        "def reap(instance, run):\n    instance.report_run_failed(run)\n    dg._core.x\n"
        "class Mine(dg.DagsterInstance):\n    def store_event(self, event):\n        super().store_event(event)\n")
    assert sorted(o.split(":")[0] for o in _dagster_offences(dagster_code)) == ["2", "4", "5", "7", "8"]
    dask_code = ast.parse(
        "from dask_sql import mappings\nfrom dask_sql._datafusion_lib import SqlTypeName\n"
        "mappings._PYTHON_TO_SQL.setdefault(1, SqlTypeName.VARCHAR)\ndef f(result):\n    return result._meta\n")
    assert sorted(o.split(":")[0] for o in _dask_offences(dask_code)) == ["2", "3", "5"]
