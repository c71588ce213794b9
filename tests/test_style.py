"""The style gate, run by ``pytest`` so that CI's one command covers it.

* ``ruff check`` and ``ruff format --check`` over the repository (the Python sources, the
  tests, the benchmarks, the docs' scripts and the notebooks; Markdown is excluded in
  pyproject.toml's ``[tool.ruff.format]``: its code blocks are excerpts and shell sessions
  laid out for reading, and docs/ has other owners).
* ``mypy`` over ``sim/`` (pyproject.toml's ``[tool.mypy]``), clean but for the allow-list
  below: each entry a file or folder owned by other work, and why it is not fixed here.

The tools are pinned in the ``[test]`` extra: a new release can format or type-check the
same code differently. Each runs in a subprocess from the repository's root.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Where mypy's errors are left on purpose, by file or folder, and why. Empty: the engine's,
#: the policies' and the loader's errors went when Policy became generic over its Params and
#: numba was read as untyped. An entry needs a reason and fails once it no longer fires.
MYPY_ALLOWED: dict[str, str] = {}

_ERROR = re.compile(r"^(?P<file>[^:\s]+\.py):\d+: error: .*\[(?P<code>[a-z-]+)\]$")


def tool(name: str) -> str:
    """The path of a tool installed beside this Python (the venv's), else on the PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from the repository's root."""
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_ruff_check_is_clean() -> None:
    done = run(tool("ruff"), "check", "--output-format", "concise", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_check_is_clean() -> None:
    done = run(tool("ruff"), "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def allowed(path: str) -> bool:
    """Whether mypy's errors in a file are on the allow-list."""
    return any(path == where or path.startswith(where) for where in MYPY_ALLOWED)


def unexpected_mypy_errors(output: str) -> list[str]:
    """The lines of mypy's output that report an error not in the allow-list."""
    out = []
    for line in output.splitlines():
        found = _ERROR.match(line.strip())
        if found and not allowed(found["file"]):
            out.append(line)
        elif " error: " in line and not found:
            out.append(line)  # an error without a code: never allowed
    return out


@pytest.fixture(scope="module")
def mypy_output() -> str:
    """mypy's report on sim/ (run once for the module's tests)."""
    done = run(sys.executable, "-m", "mypy", "--show-error-codes")
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    return done.stdout


def test_mypy_is_clean_but_for_the_allow_list(mypy_output: str) -> None:
    unexpected = unexpected_mypy_errors(mypy_output)
    assert unexpected == [], "\n".join(unexpected)


def test_every_allowed_mypy_error_still_occurs(mypy_output: str) -> None:
    """An allow-list entry that no longer fires is dropped, so the list stays honest."""
    seen = [m["file"] for m in map(_ERROR.match, mypy_output.splitlines()) if m]
    stale = [w for w in MYPY_ALLOWED if not any(f.startswith(w) for f in seen)]
    assert stale == [], f"no mypy error left in {stale}: drop them from the allow-list"


def test_the_gate_catches_what_it_looks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MYPY_ALLOWED, "sim/engine/", "an entry, for this test")
    report = (
        "sim/engine/world.py:177: error: too many arguments  [call-arg]\n"
        "sim/experiments/sweep.py:3: error: bad  [arg-type]\n"
        "sim/x.py:1: error: Cannot parse\n"
    )
    assert unexpected_mypy_errors(report) == report.splitlines()[1:]
