"""The sweep figures carry the data: every line, band, cell and bar is checked against numbers
computed here from the sweep's own tables (points.parquet, sensitivity.parquet, the runs),
and the figures that do not fit a design are skipped, not drawn empty."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

import sim
import sim.plots as plots
from sim.analysis import stats
from sim.cli import main
from sim.errors import UsageError
from sim.experiments.sweep import load_sweep
from sim.plots import style
from sim.plots.registry import NotApplicable, write_figures
from sim.plots.sweep_data import TREND_BIN_POINTS, TREND_MAX_BINS

SCENARIO = "taiwan-flashpoint-2025"
RESOLVE = "actors.CHN.attributes.resolve"
BACKING = "relations.us_japan_treaty.public_backing"
#: The labels the figures name them by, made from the scenario's names (sim/scenario/labels.py).
LABELS = {RESOLVE: "China: resolve", BACKING: "United States-Japan alliance: public backing"}
RUNS = 30
SEED = 4


def tiny_sweep(out: Path | None = None, **fields: Any) -> Any:
    """Run a small sweep in this process (workers=1), in memory unless ``out`` is given."""
    fields.setdefault("runs", RUNS)
    fields.setdefault("seed", SEED)
    return sim.sweep(SCENARIO, out=out, workers=1, **fields)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 x 2 grid on common random numbers, run through ``sim sweep --plot``."""
    out = tmp_path_factory.mktemp("grid")
    args = [
        "sweep", SCENARIO, "--param", f"{RESOLVE}=[0.4, 0.7]", "--param", f"{BACKING}=[0, 1]",
        "--runs", str(RUNS), "--seed", str(SEED), "--workers", "1", "--out", str(out),
        "--quiet", "--plot",
    ]  # fmt: skip
    assert main(args) == 0
    (folder,) = (out / SCENARIO).iterdir()
    return folder


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-parameter grid with a probability and a mean among its outcomes."""
    out = tmp_path_factory.mktemp("line")
    done = tiny_sweep(
        out, parameters={RESOLVE: [0.4, 0.7, 1.0]}, outcomes=["peak>=5", "peak_rung_mean"]
    )
    return Path(done.path)


@pytest.fixture(scope="module")
def independent() -> Any:
    """A 2 x 2 grid with independent seeds, kept in memory."""
    return tiny_sweep(
        parameters={RESOLVE: [0.4, 0.8], BACKING: [0, 1]}, common_random_numbers=False
    )


@pytest.fixture(scope="module")
def inert() -> Any:
    """A grid crossing resolve with a field the engine never reads, on common random numbers:
    the runs at (resolve, 'a') and (resolve, 'b') are the very same runs."""
    return tiny_sweep(parameters={RESOLVE: [0.5, 0.9], "description": ["a", "b"]})


@pytest.fixture(scope="module")
def sobol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Sobol design of 8 base points over two parameters (32 points), 6 runs a point."""
    out = tmp_path_factory.mktemp("sobol")
    done = tiny_sweep(
        out,
        design="sobol",
        points=8,
        runs=6,
        parameters={RESOLVE: "0.4:0.95", BACKING: "0:1"},
        outcomes=["peak>=5", "peak_rung_mean"],
        bootstrap=200,
    )
    return Path(done.path)


# --- helpers ----------------------------------------------------------------------------------


def by_gid(ax: Any, gid: str) -> list[Any]:
    """Return the artists of an axes with ``gid`` (bars are patches, the rest children)."""
    return [a for a in ax.get_children() if a.get_gid() == gid]


def one(ax: Any, gid: str) -> Any:
    found = by_gid(ax, gid)
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def band_edges(band: Any, x: float) -> tuple[float, float]:
    """Return the lowest and highest y of a filled band's outline at ``x``."""
    vertices = np.concatenate([p.vertices for p in band.get_paths()])
    ys = vertices[np.isclose(vertices[:, 0], x, rtol=0, atol=1e-12), 1]
    assert ys.size, f"the band has no vertex at x={x}"
    return float(ys.min()), float(ys.max())


def response_axes(fig: Any, label: str, path: str, paths: list[str]) -> Any:
    """Return the response panel of one outcome (by label) and one parameter."""
    axes = [ax for ax in fig.axes if ax.get_visible()]
    rows = len(axes) // len(paths)
    titles = [ax.get_title(loc="left") for ax in axes[:: len(paths)]]
    assert len(titles) == rows
    return axes[titles.index(label) * len(paths) + paths.index(path)]


def drawn(done: Any) -> list[Any]:
    """The outcomes the response figure draws: all but the probabilities 0 at every point."""
    return [m for m in done.metrics if not m.share or done.points[m.point_column].any()]


def pooled_counts(points: pd.DataFrame, path: str, value: Any, column: str) -> tuple[int, int]:
    """Return the successes and runs of every point with ``path == value``."""
    rows = points[points[path] == value]
    counts = np.rint(rows[column] * rows["runs"]).astype(int)
    return int(counts.sum()), int(rows["runs"].sum())


# --- the response figure ----------------------------------------------------------------------


def test_one_parameter_line_and_band_are_the_points(line: Path) -> None:
    points = pd.read_parquet(line / "points.parquet").sort_values(RESOLVE)
    fig = plots.sweep_response(line)
    ax_p = [ax for ax in fig.axes if ax.get_title(loc="left").startswith("P(peak rung >= 5")]
    ax_m = [ax for ax in fig.axes if ax.get_title(loc="left") == "mean peak rung"]
    for ax, column, (lo, hi) in (
        (ax_p[0], "p_peak_ge_5", (points["p_peak_ge_5_lo"], points["p_peak_ge_5_hi"])),
        (
            ax_m[0],
            "peak_rung_mean",
            (
                points["peak_rung_mean"] - stats.Z95 * points["peak_rung_se"],
                points["peak_rung_mean"] + stats.Z95 * points["peak_rung_se"],
            ),
        ),
    ):
        estimate = one(ax, "estimate")
        assert estimate.get_xdata().tolist() == points[RESOLVE].tolist()
        assert estimate.get_ydata() == pytest.approx(points[column].to_numpy(), abs=1e-12)
        band = one(ax, "band")
        for x, a, b in zip(points[RESOLVE], lo, hi, strict=True):
            assert band_edges(band, x) == pytest.approx((a, b), abs=1e-12)
    assert ax_m[0].get_ylabel() == "rung"


def test_marginal_with_independent_seeds_is_the_pooled_wilson_interval(independent: Any) -> None:
    points = independent.points
    fig = plots.sweep_response(independent)
    label = independent.metrics[2].label  # coercive standoff: neither 0 nor 1 at these points
    for path in (RESOLVE, BACKING):
        ax = response_axes(fig, label, path, [RESOLVE, BACKING])
        estimate, band = one(ax, "estimate"), one(ax, "band")
        for x, y in zip(estimate.get_xdata(), estimate.get_ydata(), strict=True):
            count, n = pooled_counts(points, path, x, "p_coercive_standoff")
            assert n == 2 * RUNS
            assert y == pytest.approx(count / n, abs=1e-12)
            assert band_edges(band, x) == pytest.approx(stats.wilson_interval(count, n), abs=1e-12)
    text = "\n".join(t.get_text() for t in fig.texts)
    assert "marginal" in text and "every run independent" in text
    assert "independent seeds" in text


def test_marginal_on_common_seeds_counts_identical_runs_once(inert: Any) -> None:
    """Pooling the same runs twice must not narrow the interval: it stays the point's own."""
    points = inert.points
    runs = inert.runs
    a, b = (runs[runs["point"] == p].drop(columns="point") for p in (0, 1))
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    fig = plots.sweep_response(inert)
    for metric in drawn(inert):
        ax = response_axes(fig, metric.label, RESOLVE, [RESOLVE, "description"])
        estimate, band = one(ax, "estimate"), one(ax, "band")
        for x, y in zip(estimate.get_xdata(), estimate.get_ydata(), strict=True):
            row = points[(points[RESOLVE] == x) & (points["description"] == "a")].iloc[0]
            assert y == pytest.approx(row[metric.point_column], abs=1e-12)
            lo, hi = (row[c] for c in metric.point_bounds)
            assert band_edges(band, x) == pytest.approx((lo, hi), abs=1e-9)
    # The categorical parameter is drawn at positions 0, 1 with its values as tick labels.
    ax = response_axes(fig, drawn(inert)[-1].label, "description", [RESOLVE, "description"])
    assert one(ax, "estimate").get_xdata().tolist() == [0.0, 1.0]
    fig.savefig(io.BytesIO(), format="png", dpi=30)  # Tick labels exist once drawn.
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]


def test_a_probability_that_is_0_at_every_point_is_named_not_drawn(inert: Any) -> None:
    """No band or cells pinned to 0: the outcome is left out, the notes say which and why."""
    never = [m.label for m in inert.metrics if m.share and not inert.points[m.point_column].any()]
    assert never, "the fixture should have an outcome no run reached (armed conflict in 30 runs)"
    for draw in (plots.sweep_response, plots.sweep_heatmap):
        fig = draw(inert)
        titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()]
        assert set(titles) - {""} == {m.label for m in drawn(inert)}, draw.__name__
        notes = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
        assert f"Not drawn: {', '.join(never)} (0 at every point;" in notes, draw.__name__


def cluster_interval(runs: pd.DataFrame, outcome: str) -> tuple[float, float, float, int, int]:
    """The pooled share of ``outcome`` and its Wilson interval with replications as clusters,
    computed from the definition: effective runs = p (1 - p) / Var, Var = sum over
    replications of (successes - p runs)^2 / N^2, clamped to [replications, N]."""
    y = (runs["outcome"].astype(str) == outcome).to_numpy(dtype=float)
    n = y.size
    p = y.mean()
    by_rep = pd.DataFrame({"i": runs["index"].to_numpy(), "y": y}).groupby("i")["y"]
    c, m = by_rep.sum().to_numpy(), by_rep.size().to_numpy()
    var = ((c - p * m) ** 2).sum() / n**2
    g = c.size
    eff = g if p in (0.0, 1.0) else min(max(p * (1 - p) / var, g), n)
    z = stats.Z95
    centre = (p + z * z / (2 * eff)) / (1 + z * z / eff)
    half = z * np.sqrt(p * (1 - p) / eff + z * z / (4 * eff * eff)) / (1 + z * z / eff)
    lo = 0.0 if p == 0 else max(centre - half, 0.0)
    hi = 1.0 if p == 1 else min(centre + half, 1.0)
    return p, lo, hi, g, n


def test_marginal_on_common_seeds_is_the_cluster_interval(grid: Path) -> None:
    done = load_sweep(grid)
    runs = done.runs
    fig = plots.sweep_response(grid)
    checked = 0
    for metric in drawn(done):
        for path in (RESOLVE, BACKING):
            ax = response_axes(fig, metric.label, path, [RESOLVE, BACKING])
            estimate, band = one(ax, "estimate"), one(ax, "band")
            for x, y in zip(estimate.get_xdata(), estimate.get_ydata(), strict=True):
                at = done.points.loc[done.points[path] == x, "point"]
                p, lo, hi, g, n = cluster_interval(runs[runs["point"].isin(at)], metric.name)
                assert y == pytest.approx(p, abs=1e-12)
                assert band_edges(band, x) == pytest.approx((lo, hi), abs=1e-9)
                if 0 < p < 1:  # Between "every run independent" and "one run a replication".
                    # the same share p over n runs and over g replications (a count of p g
                    # successes may be fractional: rounding it moves a rare share's interval)
                    naive = stats.wilson_interval(p * n, n)
                    single = stats.wilson_interval(p * g, g)
                    assert hi - lo >= naive[1] - naive[0] - 1e-9
                    assert hi - lo <= single[1] - single[0] + 1e-9
                    checked += 1
    assert checked >= 4


def test_sampled_design_scatters_the_points_with_a_binned_trend(sobol: Path) -> None:
    points = pd.read_parquet(sobol / "points.parquet")
    done = load_sweep(sobol)
    fig = plots.sweep_response(sobol)
    metric = done.metrics[0]
    ax = response_axes(fig, metric.label, RESOLVE, [RESOLVE, BACKING])
    dots = one(ax, "points").get_offsets()
    assert np.asarray(dots[:, 0]) == pytest.approx(points[RESOLVE].to_numpy(), abs=1e-12)
    assert np.asarray(dots[:, 1]) == pytest.approx(
        points[metric.point_column].to_numpy(), abs=1e-12
    )
    # The trend: the runs-weighted mean in equal-count bins of the parameter.
    bins = min(TREND_MAX_BINS, len(points) // TREND_BIN_POINTS)
    codes = pd.qcut(points[RESOLVE], bins, labels=False, duplicates="drop")
    weighted = (points[metric.point_column] * points["runs"]).groupby(codes).sum()
    expected = weighted / points["runs"].groupby(codes).sum()
    trend = one(ax, "trend")
    assert len(expected) >= 3
    assert trend.get_ydata() == pytest.approx(expected.to_numpy(), abs=1e-12)
    assert trend.get_xdata() == pytest.approx(
        points.groupby(codes)[RESOLVE].mean().to_numpy(), abs=1e-12
    )


def test_every_sweep_figure_says_what_it_shows(grid: Path, sobol: Path) -> None:
    for folder, names in ((grid, ["sweep_response", "sweep_heatmap"]),
                          (sobol, ["sweep_response", "sobol_indices"])):  # fmt: skip
        manifest = json.loads((folder / "manifest.json").read_text())
        for name in names:
            fig = getattr(plots, name)(folder)
            text = "\n".join(t.get_text() for t in fig.texts)
            assert SCENARIO in text and f"seed {SEED}" in text
            assert f"x {manifest['runs_per_point']} runs" in text
            assert "30 Apr 2026" in text  # the horizon at which outcomes are read
            assert folder.name in text  # provenance
            colours = {to_hex(p.get_facecolor()).upper() for ax in fig.axes for p in ax.patches}
            assert colours <= {*style.OKABE_ITO.values(), "#FFFFFF", style.UNAVAILABLE.upper()}


def test_the_scenario_value_is_marked(grid: Path) -> None:
    fig = plots.sweep_response(grid)
    done = load_sweep(grid)
    resolve_ax = response_axes(fig, drawn(done)[0].label, RESOLVE, [RESOLVE, BACKING])
    backing_ax = response_axes(fig, drawn(done)[0].label, BACKING, [RESOLVE, BACKING])
    assert one(resolve_ax, "scenario_value").get_xdata()[0] == 0.7  # the named scenario's
    assert one(backing_ax, "scenario_value").get_xdata()[0] == 0.0


# --- the heat map -----------------------------------------------------------------------------


def test_heat_map_cells_are_the_stored_probabilities(grid: Path) -> None:
    points = pd.read_parquet(grid / "points.parquet")
    done = load_sweep(grid)
    fig = plots.sweep_heatmap(grid)
    axes = [ax for ax in fig.axes if by_gid(ax, "cells")]
    assert [ax.get_title(loc="left") for ax in axes] == [m.label for m in drawn(done)]
    for ax, metric in zip(axes, drawn(done), strict=True):
        cells = one(ax, "cells").get_array()
        expected = points.pivot(index=RESOLVE, columns=BACKING, values=metric.point_column)
        assert np.asarray(cells) == pytest.approx(expected.to_numpy(), abs=1e-12)
        written = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
                   for t in ax.texts}  # fmt: skip
        for (i, j), v in np.ndenumerate(expected.to_numpy()):
            shown = written[(i, j)].rstrip("%")
            assert float(shown) == pytest.approx(100 * v, abs=0.051 if v < 0.1 else 0.51)
        cell = one(ax, "scenario_cell")  # resolve 0.7 (row 1), backing 0 (column 0)
        assert (cell.get_x(), cell.get_y()) == (-0.5, 0.5)
    # Axis labels are the parameters' labels, broken between words where they would not fit;
    # the paths are said once, in the notes.
    assert axes[-1].get_xlabel().replace("\n", " ") == LABELS[BACKING]
    assert axes[0].get_ylabel().replace("\n", " ") == LABELS[RESOLVE]
    notes = "\n".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert f"{LABELS[RESOLVE]} = {RESOLVE}" in notes


def test_heat_map_does_not_fit_other_designs(line: Path, sobol: Path) -> None:
    with pytest.raises(NotApplicable, match="two-parameter grids; this is a grid design of 1"):
        plots.sweep_heatmap(line)
    with pytest.raises(NotApplicable, match="sobol design of 2 parameters"):
        plots.sweep_heatmap(sobol)


# --- Sobol indices ----------------------------------------------------------------------------


def test_sobol_bars_are_the_ranked_indices(sobol: Path) -> None:
    table = pd.read_parquet(sobol / "sensitivity.parquet")
    done = load_sweep(sobol)
    fig = plots.sobol_indices(sobol)
    axes = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert [ax.get_title(loc="left") for ax in axes] == [m.label for m in done.metrics]
    for ax, metric in zip(axes, done.metrics, strict=True):
        rows = table[table["outcome"] == metric.name].sort_values("rank")
        ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
        # rank 1 on top, each parameter by its label
        assert [t.get_text() for t in ticks] == [LABELS[p] for p in rows["parameter"]]
        for key in ("ST", "S1"):
            bars = sorted(by_gid(ax, key), key=lambda b: -b.get_y())
            assert [b.get_width() for b in bars] == pytest.approx(rows[key].tolist(), abs=1e-12)
            segments = sorted(one(ax, f"{key}_ci").get_segments(), key=lambda s: -s[0][1])
            spans = np.array([sorted([s[0][0], s[1][0]]) for s in segments])
            expected = rows[[f"{key}_lo", f"{key}_hi"]].to_numpy()
            assert spans == pytest.approx(expected, abs=1e-12)


def test_sobol_figure_needs_a_sobol_design(grid: Path) -> None:
    with pytest.raises(NotApplicable, match="this sweep is a grid design"):
        plots.sobol_indices(grid)


# --- writing figures, and what is not a sweep -------------------------------------------------


def test_sweep_plot_wrote_the_figures_that_fit(grid: Path) -> None:
    names = sorted(p.name for p in (grid / "figures").iterdir())
    assert names == ["sweep_heatmap.png", "sweep_response.png"]
    assert all(p.stat().st_size > 10_000 for p in (grid / "figures").iterdir())


def test_sim_plot_skips_what_does_not_fit(line: Path, sobol: Path, tmp_path: Path) -> None:
    assert main(["plot", str(line), "--out", str(tmp_path / "line"), "--quiet"]) == 0
    assert [p.name for p in (tmp_path / "line").iterdir()] == ["sweep_response.png"]
    written = write_figures(sobol, "svg", tmp_path / "sobol")
    assert sorted(p.name for p in written) == ["sobol_indices.svg", "sweep_response.svg"]


def test_sim_report_of_a_sweep(grid: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    assert main(["report", str(grid), "--out", str(target)]) == 0
    page = target.read_text(encoding="utf-8")
    assert page.count('<img src="data:image/png;base64,') == 2
    assert "Each outcome of interest against each swept parameter" in page  # a caption
    points = pd.read_parquet(grid / "points.parquet")
    first = points.iloc[0]
    assert f"{100 * first['p_coercive_standoff']:.1f}%" in page
    assert '<h2 id="points">Points</h2>' in page and RESOLVE in page


def test_load_takes_results_and_refuses_the_rest(
    grid: Path, independent: Any, tmp_path: Path
) -> None:
    assert plots.sweep_response(load_sweep(grid)).axes  # a SweepResults with a folder
    assert independent.path is None  # in memory: already drawn above
    with pytest.raises(UsageError, match="SweepResults"):
        plots.sweep_response(42)
    with pytest.raises(UsageError, match="no such results folder"):
        plots.sweep_response(tmp_path / "nope")
    ensemble = Path(sim.run(SCENARIO, runs=3, seed=1, out=tmp_path / "ens").path)
    with pytest.raises(UsageError, match="holds ensemble results, not a sweep"):
        plots.sweep_response(ensemble)


def test_an_unfinished_sweep_says_why(grid: Path, tmp_path: Path, capsys: Any) -> None:
    running = tmp_path / "running"
    shutil.copytree(grid, running, ignore=shutil.ignore_patterns("figures", "manifest.json"))
    with pytest.raises(UsageError, match="still running, or it died"):
        plots.sweep_response(running)
    assert main(["plot", str(running)]) == 2
    assert f"finish it with: sim sweep --resume {running}" in capsys.readouterr().err
    # Stopped before any point finished: a manifest, an empty points table.
    stopped = tmp_path / "stopped"
    shutil.copytree(grid, stopped, ignore=shutil.ignore_patterns("figures", "runs"))
    manifest = json.loads((stopped / "manifest.json").read_text())
    (stopped / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    points = pd.read_parquet(stopped / "points.parquet")
    points.iloc[0:0].to_parquet(stopped / "points.parquet")
    assert main(["plot", str(stopped)]) == 2
    err = capsys.readouterr().err
    assert "no point of the sweep has finished (status: interrupted)" in err
    assert "sim sweep --resume" in err and "Traceback" not in err


def test_an_interrupted_sweep_says_so_and_greys_missing_cells(grid: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    shutil.copytree(grid, cut, ignore=shutil.ignore_patterns("figures"))
    manifest = json.loads((cut / "manifest.json").read_text())
    (cut / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    points = pd.read_parquet(cut / "points.parquet")
    points.iloc[:3].to_parquet(cut / "points.parquet")
    fig = plots.sweep_heatmap(cut)
    text = " ".join(" ".join(t.get_text() for t in fig.texts).split())  # as wrapped to its width
    assert "INTERRUPTED: only 3 of 4 points done" in text
    ax = next(ax for ax in fig.axes if by_gid(ax, "cells"))
    cells = np.ma.getmaskarray(one(ax, "cells").get_array())
    assert cells.sum() == 1 and cells[1, 1]  # the last point: resolve 0.7, backing 1
    assert "not run" in [t.get_text() for t in ax.texts]


# --- sim compare --plot -----------------------------------------------------------------------


def test_sim_compare_plot_writes_the_comparison_and_both_arms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.plots.registry as registry

    # Each arm is an ordinary ensemble folder, whose figures tests/test_plots.py checks; one
    # of them is enough here to show that the arms are drawn, and keeps the test fast.
    every = registry.figures

    def fewer(kind: str) -> dict[str, Any]:
        found = every(kind)
        return (
            {"outcome_probabilities": found["outcome_probabilities"]}
            if kind == "ensemble"
            else found
        )

    monkeypatch.setattr(registry, "figures", fewer)
    variant = "taiwan-flashpoint-2025-us-backs-japan"
    args = ["compare", SCENARIO, variant, "--runs", "12", "--seed", "2", "--workers", "1",
            "--out", str(tmp_path), "--quiet", "--plot"]  # fmt: skip
    assert main(args) == 0
    (folder,) = (tmp_path / "compare").glob("*/*")
    assert [p.name for p in (folder / "figures").iterdir()] == ["paired_differences.png"]
    for arm in ("base", "variant"):
        written = list((folder / arm / "figures").iterdir())
        assert [p.name for p in written] == ["outcome_probabilities.png"]
        assert written[0].read_bytes().startswith(b"\x89PNG")
