"""No code from data: safe YAML, no evaluation, confined ``extends``, results without pickles.

* A Python tag in a scenario (in a value, a key, an anchor, a base file, a ``--set`` value or
  behind a ``%TAG`` directive) is an error, and its payload -- which would create a marker
  file -- never runs.
* The package itself contains no way to run data as code: a scan of its syntax trees finds
  no ``eval``/``exec``/``compile``/``__import__``, no pickle-family module, no YAML loader
  that is not a ``SafeLoader``, and no ``np.load``/``np.save`` that allows pickles.
* ``extends:`` resolves only beside the file and on the scenario search path: traversal,
  absolute paths and symlinks that leave it are refused with a clear error.
* A results folder holds JSON, parquet and ``.npy`` only, readable without pickles, and an
  existing results folder is never written over.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

import sim
from sim.errors import SimError, UsageError
from sim.results import files, store
from sim.scenario.registry import resolve

NAME = "taiwan-flashpoint-2025"
PACKAGE = Path(sim.__file__).resolve().parent
TIMEOUT = 120  # seconds for one `sim` subprocess; about 1.5 s on an idle machine

# A small valid scenario, written beside the files that extend it.
BASE = """\
name: base
title: A base for extends tests
start: 2025-01-01
horizon_days: 30
ladder: [{name: calm}, {name: protest}, {name: threat}]
military_rung: 2
outcomes:
  classes:
    - {id: tense, when: {peak_at_least: 2}}
    - {id: calm}
actors:
  - id: A
    name: Alpha
    levers:
      - {id: protest, name: protest, rung: 1, cameo: "111", goldstein: -2.0, targets: [B]}
  - id: B
    name: Beta
"""


def sim_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``sim ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


# --- Python tags never run ------------------------------------------------------------------

# Each payload would create {marker} if a loader constructed it.
PAYLOADS = {
    "os.system": 'title: !!python/object/apply:os.system ["touch {marker}"]\n',
    "subprocess": 'title: !!python/object/apply:subprocess.check_call [["touch", "{marker}"]]\n',
    "open": 'title: !!python/object/new:builtins.open ["{marker}", "w"]\n',
    "verbatim-tag": "title: !<tag:yaml.org,2002:python/object/apply:os.system> "
    '["touch {marker}"]\n',
    "tag-directive": "%TAG !! tag:yaml.org,2002:python/\n---\ntitle: !!object/apply:os.system "
    '["touch {marker}"]\n',
    "in-a-key": '? !!python/object/apply:os.system ["touch {marker}"]\n: 1\n',
    "in-an-anchor": 'zz: &x !!python/object/apply:os.system ["touch {marker}"]\ntitle: *x\n',
    "in-a-list": 'sources: [!!python/object/apply:os.system ["touch {marker}"]]\n',
}


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_a_python_tag_is_an_error_and_its_payload_never_runs(kind: str, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.yaml"
    path.write_text(PAYLOADS[kind].format(marker=marker) + BASE.split("\n", 2)[2])
    with pytest.raises(SimError) as err:
        sim.load(str(path))
    message = str(err.value)
    assert message.startswith(f"{path}:") and "tag not allowed" in message, message
    assert not marker.exists(), "a YAML tag ran code"


def test_a_python_tag_in_a_base_file_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    (tmp_path / "base.yaml").write_text(
        BASE.replace(
            "title: A base",
            f'description: !!python/object/apply:os.system ["touch {marker}"]\ntitle: A base',
        )
    )
    child = tmp_path / "child.yaml"
    child.write_text("extends: base\nname: child\n")
    with pytest.raises(SimError, match="tag not allowed") as err:
        sim.load(str(child))
    assert str(err.value).startswith(f"{tmp_path / 'base.yaml'}:")
    assert not marker.exists(), "a YAML tag ran code"


def test_a_python_tag_in_a_set_value_is_plain_text(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    (tmp_path / "base.yaml").write_text(BASE)
    value = f'!!python/object/apply:os.system ["touch {marker}"]'
    # A string field takes the text as it is; a number field rejects it. Neither runs it.
    scenario = sim.load(str(tmp_path / "base.yaml"), [f"description={value}"])
    assert scenario.description == value
    with pytest.raises(SimError, match="military_rung"):
        sim.load(str(tmp_path / "base.yaml"), [f"military_rung={value}"])
    assert not marker.exists(), "a YAML tag ran code"


def test_a_python_tag_through_the_command_line(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.yaml"
    path.write_text(PAYLOADS["os.system"].format(marker=marker) + BASE.split("\n", 2)[2])
    done = sim_cli("validate", str(path), cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"sim: error: {path}:1: invalid YAML: tag not allowed")
    assert "Traceback" not in done.stderr
    assert not marker.exists(), "a YAML tag ran code"


# --- nothing in the package runs data as code -------------------------------------------------

FORBIDDEN_CALLS = {
    "eval",
    "exec",
    "compile",
    "__import__",
    "yaml.unsafe_load",
    "yaml.unsafe_load_all",
    "yaml.full_load",
    "yaml.full_load_all",
    "np.loads",
}
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle"}
FORBIDDEN_METHODS = {"to_pickle", "read_pickle"}
# Imports by a computed name that were reviewed: (file, function) -> why the name is not data.
REVIEWED_IMPORTS = {
    ("sim/experiments/chunks.py", "compiled"): "the modules of policy classes already "
    "registered in the parent process (policy_cls.__module__), for spawned workers",
}


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain, else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


class Scanner(ast.NodeVisitor):
    """Collects the code-from-data primitives of one module, as 'file:line: what'."""

    def __init__(self, rel: str, module: str, tree: ast.Module) -> None:
        self.rel, self.module = rel, module
        self.problems: list[str] = []
        self.function = ""
        self.assigned: dict[tuple[str, str], list[ast.expr]] = {}  # (function, name) -> values
        # Module-level names bound to a literal dict: lookups in them are constant tables.
        self.tables = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict)
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
        self.tree = tree
        self._collect_assignments(tree)

    def _imported_table(self, name: str) -> bool:
        """Whether ``from M import NAME`` anywhere in the module binds a dict (imports M)."""
        import importlib

        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        module = importlib.import_module(node.module)
                        return isinstance(getattr(module, alias.name, None), dict)
        return False

    def _collect_assignments(self, tree: ast.Module) -> None:
        for func in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]:
            name = getattr(func, "name", "")
            for node in ast.walk(func):
                if not isinstance(node, ast.Assign):
                    continue
                for target in node.targets:
                    # `a, b = TABLE[key]`: each name comes from the same value.
                    names = target.elts if isinstance(target, ast.Tuple) else [target]
                    for t in names:
                        if isinstance(t, ast.Name):
                            self.assigned.setdefault((name, t.id), []).append(node.value)

    def report(self, node: ast.AST, what: str) -> None:
        self.problems.append(f"{self.rel}:{getattr(node, 'lineno', 0)}: {what}")

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:  # noqa: N802 - ast API
        outer, self.function = self.function, node.name
        self.generic_visit(node)
        self.function = outer

    def visit_Import(self, node: ast.Import) -> None:  # noqa: N802 - ast API
        self._imports(node, [a.name for a in node.names])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:  # noqa: N802 - ast API
        self._imports(node, [node.module or ""])

    def _imports(self, node: ast.AST, names: list[str]) -> None:
        bad = {n.split(".")[0] for n in names} & FORBIDDEN_MODULES
        if bad:
            self.report(node, f"imports {', '.join(sorted(bad))}")

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802 - ast API
        name = _dotted(node.func)
        if name in FORBIDDEN_CALLS or name.rsplit(".", 1)[-1] in FORBIDDEN_METHODS:
            self.report(node, f"calls {name}")
        elif name.endswith("import_module") and not self._constant_import(node):
            self.report(node, "imports a module by a computed name")
        elif name in ("yaml.load", "yaml.load_all"):
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or not self._safe_loader(loader):
                self.report(node, f"{name} without a SafeLoader subclass")
        elif name in ("np.load", "numpy.load", "np.save", "numpy.save"):
            if not _is_false(_keyword(node, "allow_pickle")):
                self.report(node, f"{name} without allow_pickle=False")
        self.generic_visit(node)

    def _constant_import(self, node: ast.Call) -> bool:
        """A literal name, a lookup in a module-level table, or a reviewed use."""
        if (self.rel, self.function) in REVIEWED_IMPORTS:
            return True
        arg = node.args[0] if node.args else None
        values = [arg] if not isinstance(arg, ast.Name) else self._values(arg.id)
        return bool(values) and all(self._constant_name(v) for v in values)

    def _values(self, name: str) -> list[ast.expr]:
        return self.assigned.get((self.function, name)) or self.assigned.get(("", name)) or []

    def _constant_name(self, node: ast.expr | None) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Subscript):
            table = _dotted(node.value)
            return table in self.tables or self._imported_table(table)
        return False

    def _safe_loader(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether an expression names a SafeLoader subclass: resolved by import."""
        if depth > 5:
            return False
        if isinstance(node, ast.Call) and _dotted(node.func) == "getattr" and len(node.args) == 3:
            obj, attr, default = node.args  # getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            if not isinstance(attr, ast.Constant):
                return False
            value = self._resolve(f"{_dotted(obj)}.{attr.value}")
            return (value is None or self._is_safe(value)) and self._safe_loader(default, depth + 1)
        if isinstance(node, ast.Name):
            values = self._values(node.id)
            if values:
                return all(self._safe_loader(v, depth + 1) for v in values)
        return self._is_safe(self._resolve(_dotted(node)))

    def _resolve(self, dotted: str) -> object:
        """The object a dotted name stands for in the module (or a module imported locally)."""
        import importlib

        namespace = vars(importlib.import_module(self.module))
        first, *rest = dotted.split(".")
        value = namespace.get(first)
        if value is None and first:
            try:
                value = importlib.import_module(first)  # `import yaml` inside a function
            except ImportError:
                return None
        for part in rest:
            value = getattr(value, part, None)
        return value

    @staticmethod
    def _is_safe(value: object) -> bool:
        safe = tuple(c for c in (yaml.SafeLoader, getattr(yaml, "CSafeLoader", None)) if c)
        return isinstance(value, type) and issubclass(value, safe)


def scan(root: Path) -> list[str]:
    """Every use of a code-from-data primitive in a package, as 'file:line: what'."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        module = rel[:-3].replace("/", ".").removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        scanner = Scanner(rel, module, tree)
        scanner.visit(tree)
        problems += scanner.problems
    return problems


def test_the_package_has_no_way_to_run_data_as_code() -> None:
    problems = scan(PACKAGE)
    assert problems == [], "\n".join(problems)


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner flags each primitive (so an empty report above means something)."""
    pkg = tmp_path / "evilpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "bad.py").write_text(
        "import pickle\nimport yaml\nimport numpy as np\nimport importlib\n\n"
        "def f(name):\n"
        "    eval('1')\n    exec('x = 1')\n    yaml.load('a: 1', Loader=yaml.Loader)\n"
        "    loader = getattr(yaml, 'CLoader', yaml.Loader)\n    yaml.load('a', Loader=loader)\n"
        "    yaml.full_load('a: 1')\n    np.load('x.npy')\n    np.save('x.npy', [1])\n"
        "    importlib.import_module('o' + name)\n\n"
        "def g():\n"
        "    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)\n"
        "    yaml.load('a', Loader=loader)\n    np.load('x.npy', allow_pickle=False)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        found = scan(pkg)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("evilpkg.bad", None)
        sys.modules.pop("evilpkg", None)
    joined = "\n".join(found)
    expected = ["imports pickle", "calls eval", "calls exec", "bad.py:9: yaml.load without",
                "bad.py:11: yaml.load without", "calls yaml.full_load", "np.load without",
                "np.save without", "computed name"]  # fmt: skip
    for what in expected:
        assert what in joined, f"{what!r} not found in:\n{joined}"
    assert len(found) == len(expected), joined  # g() is clean


# --- extends stays on the search path ------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``inside/`` (a base and the child's folder), ``outside/secret.yaml`` and a symlink."""
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    (inside / "base.yaml").write_text(BASE)
    (outside / "secret.yaml").write_text(BASE.replace("name: base", "name: secret"))
    (inside / "link.yaml").symlink_to(outside / "secret.yaml")
    return tmp_path


def _child(tree: Path, extends: str) -> Path:
    child = tree / "inside" / "child.yaml"
    child.write_text(f"extends: {json.dumps(extends)}\nname: child\n")
    return child


def test_extends_finds_a_base_beside_the_file(tree: Path) -> None:
    """The control: the same layout loads when extends names a base inside."""
    assert sim.load(str(_child(tree, "base"))).name == "child"


@pytest.mark.parametrize(
    "extends",
    [
        "../../etc/passwd",
        "../outside/secret",
        "{tree}/outside/secret",
        "/etc/passwd",
        "link",
        "inside/../../outside/secret",
        "./../outside/secret",
    ],
)
def test_extends_outside_the_search_path_is_refused(tree: Path, extends: str) -> None:
    extends = extends.format(tree=tree)
    child = _child(tree, extends)
    with pytest.raises(SimError) as err:
        sim.load(str(child))
    message = str(err.value)
    assert message.startswith(f"{child}:1: extends: unknown scenario {extends!r}"), message
    assert "named scenarios:" in message


@pytest.mark.parametrize("extends", ["../outside/secret.yaml", "link.yaml", "/etc/passwd.yaml"])
def test_an_extends_path_cannot_leave_the_folder_or_the_search_path(
    tree: Path, extends: str
) -> None:
    child = _child(tree, extends)
    with pytest.raises(SimError, match="lies outside the file's folder and the search path"):
        sim.load(str(child))


def test_extends_outside_the_search_path_through_the_command_line(tree: Path) -> None:
    child = _child(tree, "../../etc/passwd")
    done = sim_cli("validate", str(child), cwd=tree)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.startswith(f"sim: error: {child}:1: extends: unknown scenario '../../etc")
    assert "Traceback" not in done.stderr


def test_a_scenario_name_cannot_leave_the_search_path(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_SCENARIO_PATH", str(tree / "inside"))
    assert sim.load("base").name == "base"  # the control
    for name in ("../outside/secret", str(tree / "outside" / "secret"), "link"):
        with pytest.raises(SimError, match="unknown scenario"):
            sim.load(name)


# --- results are never pickles and never overwritten ---------------------------------------


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of one finished run of the named scenario (20 replications)."""
    root = tmp_path_factory.mktemp("results")
    return sim.run(NAME, runs=20, seed=5, out=root).path


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_results_folder_holds_json_parquet_and_npy_only(first_run: Path) -> None:
    files = [p for p in first_run.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"manifest.json", "summary.json", "runs.parquet"}
    assert {p.suffix for p in files} <= {".json", ".parquet", ".npy"}, files
    assert not [p for p in files if p.name.startswith(".")], "temporary files left behind"
    for path in files:
        head = path.read_bytes()[:8]
        assert not head.startswith(b"\x80"), f"{path.name} starts like a pickle"
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
        elif path.suffix == ".parquet":
            assert head.startswith(b"PAR1")
            pq.read_table(path)  # readable as Arrow, no Python objects involved
        else:
            array = np.load(path, allow_pickle=False)
            assert array.dtype != object


def _no_constant(name: str) -> None:
    raise AssertionError(f"non-standard JSON constant {name}")


def test_reading_results_back_never_allows_pickles(first_run: Path, tmp_path: Path) -> None:
    """The store reads arrays with allow_pickle=False: an object array is refused."""
    np.save(tmp_path / files.TRAJECTORIES, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        store.read_trajectories(tmp_path, mmap=False)
    assert store.read_trajectories(first_run).dtype == np.int8  # the control


def test_a_second_run_never_touches_the_first_folder(first_run: Path) -> None:
    before = _digest(first_run)
    second = sim.run(NAME, runs=3, seed=5, out=first_run.parents[1]).path
    assert second != first_run and second.parent == first_run.parent
    assert _digest(first_run) == before


def test_a_clashing_run_id_never_reuses_a_folder(
    first_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if every new run id named the existing folder, it would not be written over."""
    before = _digest(first_run)
    monkeypatch.setattr(store, "new_run_id", lambda *args, **kwargs: first_run.name)
    with pytest.raises(Exception):  # noqa: B017 - which error matters less than the folder
        sim.run(NAME, runs=3, seed=6, out=first_run.parents[1])
    assert _digest(first_run) == before


def test_resuming_a_complete_folder_is_refused(first_run: Path) -> None:
    before = _digest(first_run)
    done = sim_cli("run", "--resume", str(first_run), "--quiet", cwd=first_run.parent)
    assert done.returncode == 2 and "already complete" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert _digest(first_run) == before


def _named(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``sim run`` of two runs into the folder ``results/NAME/base``."""
    return sim_cli(
        "run", NAME, "--runs", "2", "--workers", "1", "--out", "results", "--name", "base",
        "--quiet", *extra, cwd=tmp_path,
    )  # fmt: skip


@pytest.mark.slow
def test_a_named_results_folder_is_never_overwritten_without_force(tmp_path: Path) -> None:
    folder = tmp_path / "results" / NAME / "base"
    first = _named(tmp_path)
    assert first.returncode == 0, first.stderr
    assert json.loads((folder / "manifest.json").read_text())["status"] == "complete"
    before = _digest(folder)

    again = _named(tmp_path, "--seed", "7")
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert f"results/{NAME}/base already exists: pass --force" in again.stderr
    assert _digest(folder) == before

    forced = _named(tmp_path, "--seed", "7", "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads((folder / "manifest.json").read_text())["seed"] == 7
    assert _digest(folder) != before
    assert [p.name for p in folder.parent.iterdir()] == ["base"]  # replaced, nothing beside


def test_force_never_deletes_a_folder_that_holds_no_results(tmp_path: Path) -> None:
    mine = tmp_path / "results" / NAME / "base"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("an analyst's notes")
    done = _named(tmp_path, "--force")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "does not hold sim results" in done.stderr and "not replacing it" in done.stderr
    assert (mine / "notes.txt").read_text() == "an analyst's notes"


def _results_like(folder: Path, manifest: dict, *extra: str) -> Path:
    """A folder with this manifest.json and these extra files."""
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for name in extra:
        (folder / name).write_text("keep me")
    return folder


@pytest.mark.parametrize(
    ("manifest", "extra", "said"),
    [
        ({"name": "pwa", "version": 1}, ("app.js",), "does not hold sim results only"),
        ({"name": "pwa", "version": 1}, (), "no sim manifest or sweep plan"),
        ({"format_version": 3, "kind": "ensemble", "status": "complete"}, ("notes.txt",),
         "it holds notes.txt"),
        ({"format_version": 3, "kind": "ensemble", "status": "running",
          "process": {"pid": os.getppid(), "host": socket.gethostname()}}, (),
         "being written by a running process"),
    ],
)  # fmt: skip
def test_force_never_deletes_what_sim_did_not_write_or_is_writing(
    manifest: dict, extra: tuple[str, ...], said: str, tmp_path: Path
) -> None:
    folder = _results_like(tmp_path / NAME / "base", manifest, *extra)
    before = _digest(folder)
    with pytest.raises(UsageError, match=said):
        sim.run(NAME, runs=2, out=tmp_path, name="base", force=True, workers=1)
    assert _digest(folder) == before


def test_force_does_not_follow_a_symbolic_link(tmp_path: Path) -> None:
    elsewhere = _results_like(tmp_path / "elsewhere", {"format_version": 3, "kind": "ensemble"})
    (tmp_path / "root" / NAME).mkdir(parents=True)
    (tmp_path / "root" / NAME / "base").symlink_to(elsewhere)
    with pytest.raises(UsageError, match="is a symbolic link"):
        sim.run(NAME, runs=2, out=tmp_path / "root", name="base", force=True, workers=1)
    assert (elsewhere / "manifest.json").is_file()


def test_force_without_a_name_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="give --name"):
        sim.run(NAME, runs=2, out=tmp_path, force=True)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("label", ["../elsewhere", "a/b", ".hidden", "", "x" * 101, "sp ace"])
def test_a_folder_name_is_one_plain_folder(label: str, tmp_path: Path) -> None:
    """A name cannot climb out of the results root or hide (checked before anything runs)."""
    with pytest.raises(UsageError, match="expected a folder name"):
        sim.run(NAME, runs=2, out=tmp_path, name=label)
    assert not any(tmp_path.iterdir())  # refused before anything was created


def test_a_name_without_a_results_root_is_refused() -> None:
    with pytest.raises(UsageError, match="needs a results root"):
        sim.run(NAME, runs=2, name="base")
    with pytest.raises(UsageError, match="needs a results root"):
        sim.compare(NAME, runs=2, overrides=["actors.CHN.attributes.resolve=0.9"], name="x")


def test_compare_and_sweep_write_named_folders_and_refuse_to_overwrite(tmp_path: Path) -> None:
    change = ["actors.CHN.attributes.resolve=0.9"]
    made = sim.compare(NAME, runs=2, out=tmp_path, overrides=change, name="resolve", workers=1)
    assert made.path == tmp_path / "compare" / f"{NAME}--{NAME}" / "resolve"
    with pytest.raises(UsageError, match="already exists: pass --force"):
        sim.compare(NAME, runs=2, out=tmp_path, overrides=change, name="resolve", workers=1)
    swept = sim.sweep(
        NAME, out=tmp_path, name="grid", workers=1, runs=2,
        parameters={"actors.CHN.attributes.resolve": [0.5, 0.9]},
    )  # fmt: skip
    assert swept.path == tmp_path / NAME / "grid"
    again = sim.sweep(
        NAME, out=tmp_path, name="grid", force=True, workers=1, runs=2, seed=3,
        parameters={"actors.CHN.attributes.resolve": [0.5, 0.9]},
    )  # fmt: skip
    assert again.path == swept.path and len(again.points) == 2


def test_resume_takes_no_name(first_run: Path) -> None:
    done = sim_cli("run", "--resume", str(first_run), "--force", "--quiet", cwd=first_run.parent)
    assert done.returncode == 2 and "give no --name or --force" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_named_scenario_is_on_the_search_path() -> None:
    """The named scenario the tests above run resolves (guards against a renamed file)."""
    assert resolve(NAME).is_file()


def test_force_knows_every_file_sim_writes_in_a_results_folder() -> None:
    """``--force`` replaces only folders holding sim's own files: its list must name them all.

    Every file a results folder may hold is named once, in ``sim.results.files``, by the
    modules that write it (the ensemble, the comparison, the sweep, the calibration, the
    figures and the report import their names from there).
    """
    from sim.plots.registry import FIGURES_DIR
    from sim.report import REPORT

    names = [v for k, v in vars(files).items() if k.isupper() and isinstance(v, str)]
    written = {*names, *files.ARMS, FIGURES_DIR, REPORT}
    assert len(written) > 20
    assert written <= files.RESULT_ENTRIES, written - files.RESULT_ENTRIES
