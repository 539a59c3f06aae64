"""The package's layers, measured from its imports (function-local ones too): each imports only below it."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sf_assets"
RANK = {  # higher may import lower, never the reverse
    "cli": 6, "defs": 5, "definitions": 5, "instance": 5, "pipeline": 4,
    "salesforce": 3, "extract": 3, "storage": 3, "transform": 3, "publish": 3, "health": 3, "powerbi": 3,
    "schema": 1, "config": 1, "observability": 1,
}
FORBIDDEN = {("salesforce", "storage"), ("storage", "salesforce"), ("transform", "salesforce"),
             ("salesforce", "extract"), ("storage", "extract"), ("transform", "extract")}
ROOT_MODULES = {"__init__", "definitions"}
MAX_LINES = 350


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(p for p in parts if p != "__init__") or "__init__"] = path
    return found


def _imports(path: Path, name: str) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.removeprefix("sf_assets.") for a in node.names if a.name.startswith("sf_assets.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [node.module or ""])
                out.add(base.strip("."))
            elif (node.module or "").startswith("sf_assets."):
                out.add(node.module.removeprefix("sf_assets."))
    return out


def _top(module: str) -> str:
    return module.split(".")[0]


def test_each_layer_imports_only_those_below_it():
    wrong = []
    for name, path in _modules().items():
        for target in _imports(path, name):
            src, dst = _top(name), _top(target)
            if src == dst:
                continue
            if src == "emulator" or dst == "emulator" and src not in ("cli", "pipeline"):
                wrong.append(f"{name} -> {target} (the emulator stands alone; only cli/ and pipeline/ reach it)")
            elif RANK.get(src, 0) < RANK.get(dst, 0) or (RANK.get(src) == RANK.get(dst) == 1):
                wrong.append(f"{name} -> {target} (upward or sideways at the bottom)")
            elif (src, dst) in FORBIDDEN:
                wrong.append(f"{name} -> {target} (forbidden between domain packages)")
    assert wrong == []


def test_no_import_cycles():
    modules = _modules()
    graph = {n: {t for t in _imports(p, n) if t in modules and t != n} for n, p in modules.items()}
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_small_modules_and_nothing_loose_at_the_root():
    modules = _modules()
    assert {n for n in modules if "." not in n and (PACKAGE / f"{n}.py").is_file()} <= ROOT_MODULES
    long = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in modules.items()}
    assert {n: lines for n, lines in long.items() if lines > MAX_LINES} == {}
