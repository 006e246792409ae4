"""The floors of xero_connect hold (docs/architecture.md): imports run one way, with no cycle.

The contracts live in `.importlinter` at the repository root; this test runs them, so a cycle
or an upward import fails the suite, not a review. Imports inside functions count like any
other (grimp reads them all).
"""
import ast
import importlib
from pathlib import Path

import grimp
from importlinter import configuration
from importlinter.application.use_cases import lint_imports

from xero_connect import task_queue

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xero_connect"


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("xero_connect", cache_dir=None)


def test_the_import_contracts_are_kept(capsys):
    configuration.configure()
    kept = lint_imports(config_filename=str(ROOT / ".importlinter"), cache_dir=None, no_logo=True)
    report = capsys.readouterr().out
    assert kept, report  # the report names each broken contract and the offending import lines
    assert "8 kept, 0 broken" in report


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    adjacency = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(adjacency):
        if root in index:
            continue
        work = [(root, iter(adjacency[root]))]
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
                    work.append((child, iter(adjacency[child])))
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


def test_no_module_takes_part_in_an_import_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert _cycles(graph) == [["pkg.a", "pkg.b"]]


def test_services_import_each_other_at_module_level_only():
    """An import hidden inside a function was a way to dodge a cycle; with one-way floors
    there is none left to dodge (django-q2's and Django's own lazy imports are not ours)."""
    hidden = []
    for path in sorted((PACKAGE / "services").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.level > 0 or (inner.module or "").startswith(
                            "xero_connect")):
                        hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert hidden == []


def test_the_xero_seam_never_imports_the_orm():
    offenders = []
    for path in sorted((PACKAGE / "xero").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(("django.db", "django.contrib"))]
    assert offenders == []
    assert not _graph().find_modules_that_directly_import("xero_connect.models") & {
        m for m in _graph().modules if m.startswith("xero_connect.xero")}


def test_every_task_name_resolves_to_a_function():
    for dotted in task_queue.ALL:
        module, name = dotted.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), name)), dotted
