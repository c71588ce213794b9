"""The house's rules, read from the code: one-way layers, no cycles, modest sizes.

* Every import in ``sim/`` -- at the top of a module, inside a function, or for the type
  checker only -- goes down the layers of docs/architecture.md (or stays in its own package).
* No module imports one that imports it back, directly or through others (imports made only
  for the type checker, under ``if TYPE_CHECKING:``, are never executed and do not count).
* No module of ``sim/`` is over 600 lines and no function over 50 lines of code (its
  docstring aside), but for the exceptions named, with why, in docs/architecture.md.

The checks are functions of a source tree, so the last tests feed them a small package with
each fault planted: an empty report means something.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SIM = REPO / "sim"
ARCHITECTURE = REPO / "docs" / "architecture.md"

#: The layers, bottom first: a module may import its own package and the layers below.
LAYERS = (
    "sim.errors",
    "sim.engine",
    "sim.policies",
    "sim.scenario",
    "sim.results",
    "sim.analysis",
    "sim.present",
    "sim.experiments",
    "sim.plots",
    "sim.report",
    "sim.cli",
    "sim",
)

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 50

#: Modules allowed to be longer, and why (each is named in docs/architecture.md).
LONG_MODULES = {
    "sim/engine/kernels.py": "the engine's numba kernels (decisions and plays over the world's "
    "arrays, bit-identical to the Python engine); owned by the fast-engine work (issue 13)",
    "sim/engine/world.py": "the world's state as arrays and the simpy glue around the kernels; "
    "owned by the fast-engine work (issue 13)",
    "sim/scenario/schema.py": "the scenario format: one pydantic model per YAML mapping, "
    "with their descriptions (the JSON Schema); owned by the schema's documentation work "
    "and the lead's vocabulary work, not split here",
}

#: Functions allowed to be longer, and why (each is named in docs/architecture.md).
LONG_FUNCTIONS = {
    "sim/engine/kernels.py:gather": "a numba kernel: one compiled loop over an actor's options, "
    "inlined for speed (a call per option costs in nopython code); owned by issue 13",
    "sim/engine/kernels.py:decide_logit": "a numba kernel, one compiled decision; owned by "
    "issue 13",
    "sim/engine/kernels.py:available": "a numba kernel, the checks of one option inlined; "
    "owned by issue 13",
    "sim/scenario/compile.py:_lever": "the compilation of one lever into the engine's plain "
    "spec, field by field; owned by the fast-engine work (issue 13), which rewrites it",
}


@dataclass(frozen=True)
class Import:
    """One import of a sim module by another."""

    importer: str
    imported: str
    line: int
    typing_only: bool


def module_name(path: Path, root: Path) -> str:
    """The dotted name of a module file under ``root`` (the folder holding the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(package: Path) -> dict[str, Path]:
    """Every module of a package, by dotted name."""
    return {module_name(p, package.parent): p for p in sorted(package.rglob("*.py"))}


def _typing_blocks(tree: ast.Module) -> set[int]:
    """The ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(sub) for sub in ast.walk(node))
    return inside


def imports(package: Path) -> list[Import]:
    """Every import of one module of ``package`` by another (resolved to the module)."""
    known = modules(package)
    top = package.name

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing = _typing_blocks(tree)
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target != top and not target.startswith(top + "."):
                    continue
                resolved = resolve(target)
                if resolved and resolved != name and not name.startswith(resolved + "."):
                    found.append(Import(name, resolved, node.lineno, id(node) in typing))
    return found


def layer(module: str, layers: tuple[str, ...]) -> int:
    """The index of a module's layer: the longest layer name it lies in."""
    best = [i for i, lay in enumerate(layers) if module == lay or module.startswith(lay + ".")]
    return max(best, key=lambda i: len(layers[i]))


def upward(package: Path, layers: tuple[str, ...] = LAYERS) -> list[str]:
    """Every import that runs up the layers, as ``importer:line -> imported``."""
    return [
        f"{i.importer}:{i.line} -> {i.imported}"
        for i in imports(package)
        if layer(i.imported, layers) > layer(i.importer, layers)
    ]


def cycles(package: Path) -> list[list[str]]:
    """Every set of modules that import each other in a loop (executed imports only)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for i in imports(package):
        if not i.typing_only:
            graph[i.importer].add(i.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def function_lengths(path: Path) -> dict[str, int]:
    """Each function's lines of code (from its first decorator to its end, docstring aside)."""
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
            assert node.end_lineno is not None
            n = node.end_lineno - start + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    assert first.end_lineno is not None
                    n -= first.end_lineno - first.lineno + 1
            out[node.name] = max(out.get(node.name, 0), n)
    return out


def oversized(package: Path) -> tuple[dict[str, int], dict[str, int]]:
    """The modules over the line limit and the functions over theirs, by relative name."""
    long_modules, long_functions = {}, {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            long_modules[rel] = lines
        for name, n in function_lengths(path).items():
            if n > MAX_FUNCTION_LINES:
                long_functions[f"{rel}:{name}"] = n
    return long_modules, long_functions


# --- the house ----------------------------------------------------------------------------------


def test_every_module_of_sim_is_in_a_layer() -> None:
    for name in modules(SIM):
        assert layer(name, LAYERS) >= 0


def test_no_import_runs_up_the_layers() -> None:
    assert upward(SIM) == []


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(SIM) == []


def test_no_module_or_function_is_too_long_but_the_named_exceptions() -> None:
    long_modules, long_functions = oversized(SIM)
    assert set(long_modules) <= set(LONG_MODULES), long_modules
    assert set(long_functions) <= set(LONG_FUNCTIONS), long_functions


def test_every_exception_is_still_needed_and_named_in_the_architecture_page() -> None:
    long_modules, long_functions = oversized(SIM)
    page = ARCHITECTURE.read_text(encoding="utf-8")
    for name in LONG_MODULES:
        assert name in long_modules, f"{name} is no longer too long: drop its exception"
        assert f"`{name}`" in page
    for name in LONG_FUNCTIONS:
        assert name in long_functions, f"{name} is no longer too long: drop its exception"
        path, function = name.split(":")
        assert f"`{function}`" in page and f"`{path}`" in page


def test_the_architecture_page_names_every_layer() -> None:
    page = ARCHITECTURE.read_text(encoding="utf-8")
    for name in LAYERS[:-1]:
        assert f"`{name.replace('.', '/')}" in page, name


# --- the checks find what they look for ---------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """A package ``pkg`` with a back-arrow, a loop, a long module and a long function."""
    pkg = tmp_path / "pkg"
    (pkg / "low").mkdir(parents=True)
    (pkg / "high").mkdir()
    for folder in (pkg, pkg / "low", pkg / "high"):
        (folder / "__init__.py").write_text("")
    (pkg / "high" / "top.py").write_text("from pkg.low import base\n")
    (pkg / "low" / "base.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.low import b\n\n"
        "def f():\n    from pkg.high.top import x  # runs up\n"
    )
    (pkg / "low" / "a.py").write_text("from pkg.low import b\n")
    (pkg / "low" / "b.py").write_text("import pkg.low.a\n")
    body = "".join(f"    x{i} = {i}\n" for i in range(51))
    (pkg / "low" / "long.py").write_text(f'def g():\n    """Doc."""\n{body}' + "\n" * 600)
    return pkg


def test_the_checks_find_a_back_arrow_a_loop_and_long_code(planted: Path) -> None:
    layers = ("pkg.low", "pkg.high", "pkg")
    assert upward(planted, layers) == ["pkg.low.base:7 -> pkg.high.top"]
    # top and base import each other (one of them inside a function); a and b at the top;
    # base -> b is for the type checker only.
    assert sorted(cycles(planted)) == [["pkg.high.top", "pkg.low.base"], ["pkg.low.a", "pkg.low.b"]]
    long_modules, long_functions = oversized(planted)
    assert list(long_modules) == ["pkg/low/long.py"]
    assert long_functions == {"pkg/low/long.py:g": 52}
