"""The `chunks` and `refreshes` tables of the state DB are read and written only by the modules that own them."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sf_assets"
OWNERS = {"chunks": "extract/tracker.py", "refreshes": "extract/refresh.py"}
# SQL naming one of the tables: SELECT … FROM / JOIN, INSERT INTO, UPDATE, DELETE FROM, CREATE/ALTER/DROP TABLE.
SQL_ON_TABLE = re.compile(rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+({'|'.join(OWNERS)})\b", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes (prose, not SQL)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def tables_queried(path: Path) -> set[str]:
    """The owned tables that SQL in the string literals of `path` names (f-strings included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = _docstrings(tree)
    tables = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            tables |= {m.lower() for m in SQL_ON_TABLE.findall(node.value)}
    return tables


def test_only_the_owner_modules_query_chunks_and_refreshes():
    by_module = {p.relative_to(PACKAGE).as_posix(): tables_queried(p) for p in PACKAGE.rglob("*.py")}
    assert by_module["extract/tracker.py"] >= {"chunks"} and "refreshes" in by_module["extract/refresh.py"]
    strays = {module: sorted(t for t in tables if OWNERS[t] != module)
              for module, tables in by_module.items() if any(OWNERS[t] != module for t in tables)}
    assert strays == {}, (f"SQL on an owned table outside its owner: {strays}; add a named function to "
                          f"{' / '.join(sorted(OWNERS.values()))} and call it")
