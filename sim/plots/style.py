"""The one look every figure shares: palette, fonts, the title block, date axes.

Every figure is a :class:`matplotlib.figure.Figure` made here by :func:`new_figure`, never
through ``pyplot``: no global figure registry (nothing to close, nothing leaks in a loop), no
GUI backend; saving renders with Agg. In an IPython kernel a returned figure shows inline:
:func:`show_in_notebooks` registers IPython's own PNG printer for figures. The colours are
the Okabe-Ito palette, which stays distinguishable under the common colour-vision
deficiencies; sequential data uses a single-hue ramp, which does too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import matplotlib as mpl
import matplotlib.dates as mdates
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.rcsetup import cycler
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim.plots.registry import NotApplicable
from sim.present.summary import labelled

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.plots.data import Ensemble

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with any common
#: colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

#: Categorical colours in the order series take them (yellow last: weak on white).
CYCLE = [
    OKABE_ITO[c]
    for c in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue", "black")
]

#: Roles, so that one thing is drawn in one colour in every figure.
MAIN = OKABE_ITO["blue"]
LIGHT = OKABE_ITO["sky_blue"]
ALERT = OKABE_ITO["vermillion"]
INK = "#222222"
MUTED = "#666666"
UNAVAILABLE = "#eeeeee"

#: White to the palette's blue: a single-hue ramp, ordered in lightness for every viewer.
SEQUENTIAL = LinearSegmentedColormap.from_list("sim_blues", ["#ffffff", LIGHT, MAIN, "#00304d"])

#: Matplotlib settings applied while a figure is built.
RC: dict[str, Any] = {
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.5,
    "axes.labelcolor": INK,
    "axes.edgecolor": "#888888",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.prop_cycle": cycler(color=CYCLE),
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.dpi": 150,
    "pdf.fonttype": 42,  # TrueType in PDFs: text stays selectable and searchable.
    "svg.fonttype": "path",  # Text as outlines: the SVG looks the same without the fonts.
}

#: A panel, curve or row of a figure, as :func:`worth_drawing` sorts them.
T = TypeVar("T")

#: Heights, in inches, of the title block's lines and the footnote's lines.
HEADLINE_IN, SUBTITLE_IN, FOOTNOTE_IN, PAD_IN = 0.26, 0.19, 0.15, 0.12


@contextlib.contextmanager
def context() -> Iterator[None]:
    """Apply the house style while a figure is built (artists read rcParams when made)."""
    with mpl.rc_context(cast("dict[Any, Any]", RC)):  # its keys are rcParams' names
        yield


def show_in_notebooks() -> None:
    """In an IPython kernel, display figures that are the value of a cell as PNG.

    ``%matplotlib inline`` does the same, but only for a session that ran it or pyplot;
    figures made without pyplot would otherwise show as ``<Figure size ...>``. A printer
    the user has already set is left alone.
    """
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    from IPython.core.pylabtools import print_figure

    png = shell.display_formatter.formatters["image/png"]
    if Figure not in png.type_printers:
        png.for_type(Figure, lambda fig: print_figure(fig, "png"))


def subtitle(ens: Ensemble) -> list[str]:
    """Return the subtitle's lines: the scenario, then runs and seed (and how a run fell short)."""
    runs = f"{ens.n_runs:,} runs, seed {ens.seed}"
    if ens.failed:
        runs += f" ({ens.failed:,} more failed and are left out)"
    if ens.status != "complete":
        runs += f" -- {ens.status.upper()}: only {ens.n_runs:,} of {ens.runs_requested:,} runs done"
    return [labelled(f"{ens.title} [{ens.scenario}]", ens.summary), runs]


def provenance(results: Any) -> str:
    """Return where a figure's numbers come from: the results folder and the code.

    ``results`` is anything with a ``path`` (or None) and a ``manifest`` (or None).
    """
    parts = []
    if results.path is not None:
        parts.append(f"results {results.path.name}")
    manifest = results.manifest or {}
    if manifest.get("package_version"):
        parts.append(f"sim {manifest['package_version']}")
    git = manifest.get("git") or {}
    if git.get("commit"):
        parts.append(f"git {git['commit'][:7]}{' (modified)' if git.get('dirty') else ''}")
    return ", ".join(parts)


def new_figure(
    width: float,
    body_height: float,
    headline: str,
    subtitle_lines: Sequence[str],
    notes: Sequence[str] = (),
) -> Figure:
    """Return a figure with a title block above and a footnote below a ``body_height`` body.

    The title block holds a bold ``headline`` and the subtitle (scenario, runs, seed), its
    lines joined by a comma where they fit on one line; the
    footnote holds ``notes`` (what the marks mean) in small grey type. Axes added with
    ``fig.subplots`` are laid out (constrained) between them.
    """
    chars = int(width * 14.5)  # About how many 9.5 pt characters fit across.
    joined = ", ".join(subtitle_lines)
    parts = [joined] if len(joined) <= chars else list(subtitle_lines)
    sub_lines = [line for part in parts for line in _wrap(part, chars)]
    note_lines = [line for note in notes if note for line in _wrap(note, int(width * 18))]
    top = HEADLINE_IN + SUBTITLE_IN * len(sub_lines) + PAD_IN
    bottom = FOOTNOTE_IN * len(note_lines) + (PAD_IN if note_lines else 0.05)
    height = body_height + top + bottom
    show_in_notebooks()
    fig = Figure(figsize=(width, height), layout="constrained")
    # rect is (left, bottom, width, height) in figure fractions: the body between the blocks.
    engine = fig.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)  # layout="constrained" above
    engine.set(rect=(0, bottom / height, 1, (body_height - 0.04) / height))
    y = 1 - 0.08 / height
    fig.text(0.012, y, headline, fontsize=12.5, fontweight="bold", color=INK, va="top")
    fig.text(
        0.012,
        y - HEADLINE_IN / height,
        "\n".join(sub_lines),
        fontsize=9.5,
        color=MUTED,
        va="top",
        linespacing=1.25,
    )
    if note_lines:
        fig.text(
            0.012,
            0.04 / height,
            "\n".join(note_lines),
            fontsize=7.5,
            color=MUTED,
            va="bottom",
            linespacing=1.3,
        )
    return fig


def worth_drawing(
    items: Iterable[T], nothing: Callable[[T], str | None], name: Callable[[T], str]
) -> tuple[list[T], str]:
    """Return the items of a figure that have something to show, and the note naming the rest.

    The one rule of every figure: a panel (or curve, or row) with nothing to show is left
    out, and the figure says so. ``nothing(item)`` returns why an item would show nothing
    (a rung no run reached, a dyad at the bottom rung on every day of every run, a paired
    difference that is zero in every run), or None when it shows something; ``name(item)``
    is how the note names it: ``"Not drawn: 7 limited armed clash (reached in no run)."``
    ('' when nothing was left out).

    Raises:
        NotApplicable: when no item is left (``sim plot`` and ``sim report`` skip the
            figure and say why).
    """
    kept: list[T] = []
    left: dict[str, list[str]] = {}
    for item in items:
        why = nothing(item)
        if why is None:
            kept.append(item)
        else:
            left.setdefault(why, []).append(name(item))
    if not kept:
        raise NotApplicable(f"nothing to draw: {_left_out(left)}" if left else "nothing to draw")
    return kept, f"Not drawn: {_left_out(left)}." if left else ""


def _left_out(left: Mapping[str, Sequence[str]]) -> str:
    """Return ``"a, b (why); c (other reason)"`` for the names left out for each reason."""
    return "; ".join(f"{', '.join(names)} ({why})" for why, names in left.items())


def grid(n: int) -> tuple[int, int]:
    """Return the (rows, columns) of a grid of ``n`` small multiples: two columns if n > 1."""
    cols = 2 if n > 1 else 1
    return -(-n // cols), cols


def _wrap(text: str, width: int) -> list[str]:
    """Wrap a line of the title block or the notes at spaces only: names keep their hyphens."""
    return textwrap.wrap(text, width, break_on_hyphens=False)


def percent_axis(ax: Axes, axis: str = "x", top: float = 1.0) -> None:
    """Show shares as percentages from 0 to ``top`` (a share) on ``axis``."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(PercentFormatter(1.0, decimals=0))
    (ax.set_xlim if axis == "x" else ax.set_ylim)(0, top)


def date_axis(ax: Axes, start: dt.date, end: dt.date) -> None:
    """Put calendar dates from ``start`` to ``end`` on the x axis, the year on the first tick."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(FuncFormatter(_date_label))
    ax.set_xlim(mdates.date2num(start), mdates.date2num(end + dt.timedelta(days=1)))


def _date_label(x: float, pos: int | None) -> str:
    """Label a date tick: "Dec", with the year on the first tick and on January ("Jan 2026")."""
    date = mdates.num2date(x)
    if date.day != 1:
        return f"{date:%d %b}" + (f"\n{date:%Y}" if pos == 0 or date.month == 1 else "")
    return f"{date:%b}" + (f"\n{date:%Y}" if pos == 0 or date.month == 1 else "")


def mark_events(ax: Axes, ens: Ensemble, label: bool = True) -> None:
    """Draw the scenario's scheduled events after day 0 as dotted lines, named at the top."""
    for event in ens.events:
        if not ens.start < event.date <= ens.end:
            continue
        x = mdates.date2num(event.date)
        ax.axvline(x, color=MUTED, linestyle=":", linewidth=1, zorder=1)
        if label:
            ax.annotate(
                f"{event.name}\n(scheduled {event.date:%d %b})",
                (x, 1),
                xycoords=("data", "axes fraction"),
                xytext=(-3, -3),
                textcoords="offset points",
                ha="right",
                va="top",
                fontsize=7.5,
                color=MUTED,
            )


def rung_axis(ax: Axes, ens: Ensemble) -> None:
    """Put the whole escalation ladder on the y axis, bottom rung at the bottom."""
    top = len(ens.rungs) - 1
    ax.set_yticks(range(top + 1))
    ax.set_yticklabels([ens.rung_label(k) for k in range(top + 1)])
    ax.set_ylim(-0.4, top + 0.4)
    ax.grid(axis="y", visible=True)


def pct(p: float, digits: int = 0) -> str:
    """Format a share as a percentage, e.g. ``0.725 -> "72.5%"`` with ``digits=1``."""
    if 0 < p < 0.01 and digits == 0:
        return "<1%"
    return f"{100 * p:.{digits}f}%"
