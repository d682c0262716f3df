"""The import rules of platform/README.md, checked on the source: one-way layers, no cycles, no ml.tasks.

Every import statement counts, also those inside functions: a function-level import hides a
dependency, it does not remove it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLATFORM = REPO / "platform"

#: The platform's layers, lowest first: an app imports only apps below it (the same order as in
#: platform/README.md). `ml` (the pure core) is below them all and imports none of them, except its
#: Celery entry points `ml.tasks`, which sit above them all and which nothing imports.
LAYERS = ["core", "api", "accounts", "studies", "annotations", "modelling", "agreement", "exchange", "pacs", "viewer",
          "workflows", "pleura"]
TASKS = "ml.tasks"


@dataclass(frozen=True)
class Import:
    source: str  # importing module, e.g. "modelling.services"
    target: str  # imported module, e.g. "studies.models"
    line: int


def _module_name(path: Path) -> str:
    relative = path.relative_to(PLATFORM if path.is_relative_to(PLATFORM) else REPO).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _source_files() -> Iterator[Path]:
    yield from sorted(PLATFORM.rglob("*.py"))
    yield from sorted((REPO / "ml").rglob("*.py"))


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in _source_files()}


def _resolve(known: dict[str, Path], name: str) -> str:
    """The longest known module that `name` (a module or module.attribute) starts with."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def _imports() -> list[Import]:
    known = _modules()
    found: list[Import] = []
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import sub` imports the submodule pkg.sub when there is one
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            else:
                continue
            for name in names:
                target = _resolve(known, name)
                if target and target != module:
                    found.append(Import(module, target, node.lineno))
    return found


def _app(module: str) -> str:
    return TASKS if module == TASKS or module.startswith(TASKS + ".") else module.split(".")[0]


def test_every_platform_package_has_a_layer():
    packages = {p.name for p in PLATFORM.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS), "add new apps to LAYERS here and in platform/README.md"


def test_nothing_in_platform_imports_ml_tasks():
    offenders = [i for i in _imports() if _app(i.target) == TASKS and _app(i.source) in LAYERS]
    assert not offenders, "the platform queues tasks by name (core.queue): " + ", ".join(
        f"{i.source}:{i.line}" for i in offenders)
    assert not [i for i in _imports() if _app(i.target) == TASKS], "nothing imports ml.tasks"


def test_no_app_imports_an_app_above_it():
    rank = {app: position for position, app in enumerate(LAYERS)}
    upward = []
    for i in _imports():
        source, target = _app(i.source), _app(i.target)
        if source in (TASKS, target) or target not in rank:
            continue  # ml.tasks may import any app; imports of ml.tasks are the test above's
        if source == "ml" or rank[target] > rank[source]:  # the pure core imports no app
            upward.append(i)
    assert not upward, "upward imports: " + ", ".join(f"{i.source}:{i.line} -> {i.target}" for i in upward)


def test_ml_core_never_imports_django():
    offenders = [i for i in _imports() if _app(i.source) == "ml" and i.target.split(".")[0] in ("django", "celery")]
    assert not offenders, ", ".join(f"{i.source}:{i.line}" for i in offenders)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_between_modules():
    edges: dict[str, set[str]] = defaultdict(set)
    for i in _imports():
        # a package's __init__ re-exporting its own modules is how packages work, not a cycle
        if i.target.startswith(i.source + "."):
            continue
        edges[i.source].add(i.target)
    assert not _cycles(edges), f"import cycles: {_cycles(edges)}"


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
