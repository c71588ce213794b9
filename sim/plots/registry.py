"""The figures of each kind of results, and writing them all into a results folder.

A results folder says what it holds in its manifest's ``kind`` (absent: ``"ensemble"``).
Each kind has a module of figure functions, registered with :func:`figure` when the module
is imported, and a ``load(results)`` function that reads results once for all of them;
:func:`write_figures` draws every figure of a folder's kind into its
``figures/`` subfolder. A new kind of results (a sweep, a comparison) adds its modules to
:data:`KIND_MODULES` and decorates its functions; nothing else changes. A figure that does
not fit the results at hand (a heat map of a one-parameter sweep, a time-to-rung figure of
runs that reached no rung) raises :class:`NotApplicable`, and is skipped: ``on_skip`` hears
of it, with the reason (``sim plot`` and ``sim run --plot`` print it, the report lists it).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.errors import UsageError
from sim.results.files import FIGURES_DIR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: A figure function: results (an object or a folder path) in, a matplotlib Figure out.
FigureFn = Callable[[Any], "Figure"]

#: Told of each figure not drawn: its name, and why (the :class:`NotApplicable` message).
OnSkip = Callable[[str, str], None]

#: The modules of figures, by short name (only these are ever imported by name).
FIGURE_MODULES = {
    "ensemble": "sim.plots.ensemble",
    "profiles": "sim.plots.profiles",
    "comparison": "sim.plots.comparison",
    "sweep": "sim.plots.sweep",
    "calibration": "sim.plots.calibration",
    "explore": "sim.plots.explore",
}

#: The figure modules of each kind of results, imported in this order (the order their
#: figures are drawn and listed in); the first one also loads the kind's results.
KIND_MODULES: dict[str, tuple[str, ...]] = {
    "ensemble": ("ensemble", "profiles"),
    "comparison": ("comparison",),
    "sweep": ("sweep", "explore"),
    "calibration": ("calibration",),
}

#: The formats ``sim plot`` writes.
FORMATS = ("png", "svg", "pdf")


_REGISTRY: dict[str, dict[str, FigureFn]] = {}


class NotApplicable(UsageError):
    """A figure that does not fit these results, or would have no panel with anything to show.

    Called directly, the figure function raises it with a message that says why;
    :func:`write_figures` and the report skip the figure and pass on the message.
    """


def figure(kind: str, name: str | None = None) -> Callable[[FigureFn], FigureFn]:
    """Register a figure function for results of ``kind`` (under its own name by default)."""

    def register(fn: FigureFn) -> FigureFn:
        _REGISTRY.setdefault(kind, {})[name or fn.__name__] = fn
        return fn

    return register


def figures(kind: str) -> dict[str, FigureFn]:
    """Return the figure functions of a kind of results, by name, in the order drawn.

    Raises:
        UsageError: if no figures are known for ``kind``.
    """
    if kind not in KIND_MODULES:
        known = ", ".join(sorted(KIND_MODULES))
        raise UsageError(f"no figures for {kind!r} results (figures exist for: {known})")
    for module in KIND_MODULES[kind]:
        importlib.import_module(FIGURE_MODULES[module])
    return dict(_REGISTRY.get(kind, {}))


def load_results(kind: str, folder: Path) -> Any:
    """Read a folder's results for its figures: the ``load`` of the kind's first module."""
    first = KIND_MODULES[kind][0]
    return importlib.import_module(FIGURE_MODULES[first]).load(folder)


def results_kind(folder: Path) -> str:
    """Return the kind of results a folder holds, from its manifest."""
    from sim.plots.data import read_manifest
    from sim.results.files import MANIFEST, SWEEP_PLAN

    if (folder / SWEEP_PLAN).is_file() and not (folder / MANIFEST).is_file():
        return "sweep"  # Running, or died before its manifest: the sweep loader says what to do.
    return str(read_manifest(folder).get("kind", "ensemble"))


def results_folder(results: Any) -> Path:
    """Return the folder of a Results object or a path.

    Raises:
        UsageError: for results kept in memory, which have no folder to write figures into.
    """
    if isinstance(results, str | os.PathLike):
        return Path(results)
    path = getattr(results, "path", None)
    if path is None:
        raise UsageError("these results were kept in memory: run with out=... to get a folder")
    return Path(path)


def write_figures(
    results: Any,
    fmt: str = "png",
    out: str | os.PathLike[str] | None = None,
    on_skip: OnSkip | None = None,
) -> list[Path]:
    """Draw every figure of a results folder (or Results object) and save them; return the paths.

    Figures go to ``out`` (default ``<folder>/figures/``) as ``<name>.<fmt>``, each written
    under a temporary name and moved into place, so a reader never sees half a file. A
    figure that does not apply is not written; ``on_skip(name, why)`` is told of it.
    """
    from sim.results.store import atomic_path

    if fmt not in FORMATS:
        raise UsageError(f"figure format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    folder = results_folder(results)
    kind = results_kind(folder)
    fns = figures(kind)
    source = load_results(kind, folder)  # Read once for all.
    target = Path(out) if out is not None else folder / FIGURES_DIR
    written = []
    for name, fig in drawn(fns, source, on_skip):
        target.mkdir(parents=True, exist_ok=True)  # not before a figure: all may be skipped
        path = target / f"{name}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt)
        written.append(path)
    return written


def drawn(
    fns: dict[str, FigureFn], source: Any, on_skip: OnSkip | None = None
) -> Iterator[tuple[str, Figure]]:
    """Yield ``(name, figure)`` of every figure function that applies to ``source``, in order.

    A figure that raises :class:`NotApplicable` is skipped; ``on_skip(name, why)`` hears of it.
    """
    for name, fn in fns.items():
        try:
            fig = fn(source)
        except NotApplicable as skipped:
            if on_skip is not None:
                on_skip(name, str(skipped))
            continue
        yield name, fig
