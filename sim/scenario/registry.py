"""Where named scenarios live, and how a name or a path becomes a file.

The search path is ``$SIM_SCENARIO_PATH`` (directories separated by the OS path
separator), then ``./scenarios`` in the working directory, then the ``scenarios``
directory shipped beside the package. A name may include one sub-folder
(``oracles/gamblers-ruin``) but never leaves the search path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sim.errors import SimError

SUFFIXES = (".yaml", ".yml")


class UnknownScenario(SimError):
    """A scenario name that is on no search path."""


@dataclass(frozen=True)
class ScenarioEntry:
    """A named scenario on the search path."""

    name: str
    path: Path
    title: str


def search_path() -> list[Path]:
    """The directories that hold named scenarios, in order of precedence."""
    dirs = [Path(p) for p in os.environ.get("SIM_SCENARIO_PATH", "").split(os.pathsep) if p]
    dirs += [Path.cwd() / "scenarios", Path(__file__).resolve().parents[2] / "scenarios"]
    seen, out = set(), []
    for d in dirs:
        resolved = d.resolve()
        if resolved.is_dir() and resolved not in seen:
            seen.add(resolved)
            out.append(resolved)
    return out


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def find(name: str, near: Path | None = None) -> Path | None:
    """The file of a named scenario (``near``'s folder first, for ``extends``), or None."""
    if not name or len(name) > 200 or name.startswith(("/", "\\")) or ".." in Path(name).parts:
        return None
    roots = ([near.parent.resolve()] if near is not None else []) + search_path()
    for root in roots:
        for suffix in SUFFIXES:
            candidate = root / f"{name}{suffix}"
            try:
                if candidate.is_file() and _inside(candidate, root):
                    return candidate.resolve()
            except OSError:  # a name the file system cannot hold is no scenario
                return None
    return None


def resolve(name_or_path: str | Path) -> Path:
    """A scenario file from a name on the search path or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in SUFFIXES:
        try:
            if path.is_file():
                return path
        except OSError as err:
            shown = f"{str(path)[:80]}..."
            raise UnknownScenario(f"{shown}: not a usable path ({err.strerror})") from None
        raise UnknownScenario(f"{path}: {_why_not_a_file(path)}")
    found = find(str(name_or_path))
    if found is None:
        names = ", ".join(e.name for e in list_scenarios()) or "(none found)"
        raise UnknownScenario(f"unknown scenario '{name_or_path}'; named scenarios: {names}")
    return found


def _why_not_a_file(path: Path) -> str:
    """Say why a path that names a YAML file is not one (a loop of links is not 'missing')."""
    import errno

    try:
        path.stat()
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a loop of symbolic links (a link that leads back to itself)"
        if path.is_symlink():
            return f"a symbolic link to a missing file ({os.readlink(path)})"
        return "no such scenario file"
    return "not a file"


def resolve_base(name: str, child: Path) -> Path:
    """The file an ``extends:`` refers to.

    A value ending in .yaml or .yml is a file path, relative to the child's folder
    (``bases/base.yaml``), that must stay inside that folder or the search path; any other
    value is a scenario name, looked for beside the child first, then on the search path.
    The error says where it looked.
    """
    if Path(name).suffix in SUFFIXES:
        path = (child.parent / name).resolve()
        roots = [child.parent.resolve(), *search_path()]
        if not any(_inside(path, root) for root in roots):  # no reading files elsewhere
            raise UnknownScenario(
                f"extends: '{name}' lies outside the file's folder and the search path; "
                "a base must be in the variant's folder (or below it) or on the search path"
            )
        if path.is_file():
            return path
        raise UnknownScenario(f"extends: no file '{name}' (looked for {path})")
    found = find(name, near=child)
    if found is None:
        names = ", ".join(e.name for e in list_scenarios())
        where = ", ".join(str(d) for d in [child.parent.resolve(), *search_path()])
        raise UnknownScenario(
            f"extends: unknown scenario '{name}': no {name}.yaml beside the file or on the "
            f"search path ({where}); named scenarios: {names}; to extend a file elsewhere, "
            "give its path ending in .yaml"
        )
    return found


def _title(path: Path) -> str:
    """The title line of a scenario file, read without parsing the whole file."""
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:40]:
            if line.startswith("title:"):
                return line.split(":", 1)[1].strip().strip("'\"")
    except OSError:
        pass
    return ""


def list_scenarios() -> list[ScenarioEntry]:
    """The named scenarios at the top of each search directory, first name wins."""
    entries: dict[str, ScenarioEntry] = {}
    for root in search_path():
        for path in sorted(root.iterdir()):
            if path.suffix in SUFFIXES and path.stem not in entries:
                entries[path.stem] = ScenarioEntry(path.stem, path, _title(path))
    return sorted(entries.values(), key=lambda e: e.name)
