"""The figures carry the data: every bar, band, curve and cell is checked against numbers
computed here from the results folder's own files (summary.json, runs.parquet,
moves.parquet, trajectories.npy), not only against the plotting code's helpers."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

import sim
import sim.plots as plots
from sim.analysis import stats
from sim.cli import main
from sim.errors import UsageError
from sim.plots import data, style
from sim.plots.registry import figures

SCENARIO = "taiwan-flashpoint-2025"
RUNS = 40
SEED = 5


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plots")
    return Path(sim.run(SCENARIO, runs=RUNS, seed=SEED, out=out).path)


@pytest.fixture(scope="module")
def ens(folder: Path) -> data.Ensemble:
    return plots.load(folder)


@pytest.fixture(scope="module")
def summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


@pytest.fixture(scope="module")
def trajectories(folder: Path) -> np.ndarray:
    return np.load(folder / "trajectories.npy")


def bars_by_row(ax: Any) -> dict[str, tuple[float, Any]]:
    """Map each y tick label to the width and colour of the bar at its position."""
    labels = {round(t.get_position()[1]): t.get_text() for t in ax.get_yticklabels()}
    out = {}
    for bar in ax.patches:
        y = round(bar.get_y() + bar.get_height() / 2)
        out[labels[y]] = (bar.get_width(), to_hex(bar.get_facecolor()).upper())
    return out


def whiskers(ax: Any) -> dict[int, tuple[float, float]]:
    """Map each bar's row position to the x range of its error whisker."""
    (container,) = ax.containers[1:]  # [0] is the bars, [1] the error bars.
    segments = container.lines[2][0].get_segments()
    return {round(s[0][1]): (min(s[0][0], s[1][0]), max(s[0][0], s[1][0])) for s in segments}


def band_range(collection: Any, x: float) -> tuple[float, float] | None:
    """Return the y extent of a filled band at ``x`` (None where it has no height)."""
    ys = np.arange(-1.0, 10.0, 0.02)
    points = np.column_stack([np.full_like(ys, x), ys])
    inside = np.zeros(ys.size, dtype=bool)
    for path in collection.get_paths():
        inside |= path.contains_points(points)
    return (float(ys[inside].min()), float(ys[inside].max())) if inside.any() else None


def by_gid(ax: Any, gid: str) -> Any:
    """Return the one artist of an axes with ``gid``."""
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def day_x(start: str, day: float) -> float:
    """Return the matplotlib date number of ``day`` days after ``start``."""
    return mdates.date2num(dt.datetime.fromisoformat(start)) + day


def inverted_cdf(values: np.ndarray, q: float) -> np.ndarray:
    """Ordinal quantiles over replications (axis 0): the lowest value with CDF >= q."""
    return np.quantile(values, q, axis=0, method="inverted_cdf")


# --- outcomes and peak rung -------------------------------------------------------------------


def test_outcome_bars_are_the_summary_probabilities(ens: Any, summary: dict[str, Any]) -> None:
    ax = plots.outcome_probabilities(ens).axes[0]
    bars = bars_by_row(ax)
    outcomes = summary["outcomes"]
    assert set(bars) == {o["label"] for o in outcomes.values()}
    for o in outcomes.values():
        assert bars[o["label"]][0] == pytest.approx(o["p"], abs=1e-12)
    ranges = whiskers(ax)
    rows = {t.get_text(): round(t.get_position()[1]) for t in ax.get_yticklabels()}
    for o in outcomes.values():
        assert ranges[rows[o["label"]]] == pytest.approx(tuple(o["ci95"]), abs=1e-12)
    # Listed in the scenario's order, top to bottom.
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    top_down = [t.get_text() for t in ticks]
    assert top_down == [o["label"] for o in outcomes.values()]


def test_peak_rung_bars_follow_the_ladder(ens: Any, summary: dict[str, Any]) -> None:
    ax = plots.peak_rung(ens).axes[0]
    bars = bars_by_row(ax)
    watch = summary["watch_rung"]
    for d in summary["peak_rung"]["distribution"]:
        width, colour = bars[f"{d['value']} {d['name']}"]
        assert width == pytest.approx(d["p"], abs=1e-12)
        assert colour == (style.ALERT if d["value"] >= watch else style.MAIN)
    # The ladder reads upwards: rung k sits at height k.
    for tick in ax.get_yticklabels():
        assert tick.get_text().startswith(f"{round(tick.get_position()[1])} ")
    assert sum(w for w, _ in bars.values()) == pytest.approx(1.0)


# --- escalation over time ---------------------------------------------------------------------


def test_fan_chart_is_the_summary_daily_quantiles(
    ens: Any, summary: dict[str, Any], trajectories: np.ndarray
) -> None:
    q = summary["daily_rung_quantiles"]
    overall = trajectories.max(axis=1)
    # The summary's quantiles are those of the stored trajectories (independent check).
    for key, level in (("q05", 0.05), ("q25", 0.25), ("q50", 0.5), ("q75", 0.75), ("q95", 0.95)):
        assert inverted_cdf(overall, level).tolist() == q[key]
    ax = plots.rung_fan(ens).axes[0]
    median = by_gid(ax, "median")
    days = np.arange(len(q["day"]))
    assert median.get_ydata()[:-1].tolist() == q["q50"]
    x = np.asarray(median.get_xdata(), dtype=float)
    np.testing.assert_allclose(x[:-1], [day_x(summary["start"], d) for d in days])
    for gid, lo_key, hi_key in (("band90", "q05", "q95"), ("band50", "q25", "q75")):
        band = by_gid(ax, gid)
        for d in days:
            found = band_range(band, day_x(summary["start"], d + 0.5))
            lo, hi = q[lo_key][d], q[hi_key][d]
            if lo == hi:
                assert found is None, (gid, d)
            else:
                assert found is not None, (gid, d)
                assert found == pytest.approx((lo, hi), abs=0.021), (gid, d)


def test_fan_chart_by_dyad_has_each_dyads_quantiles(
    ens: Any, manifest: dict[str, Any], trajectories: np.ndarray, summary: dict[str, Any]
) -> None:
    fig = plots.rung_fan_by_dyad(ens)
    dyads = manifest["files"]["trajectories"]["dyads"]
    names = summary["actors"]
    label = {i: f"{names[a]} \N{EN DASH} {names[b]}" for i, (a, b) in enumerate(dyads)}
    # A dyad that never left the bottom rung in any run has no panel; the note names it.
    moved = [i for i in range(len(dyads)) if trajectories[:, i, :].any()]
    still = [label[i] for i in range(len(dyads)) if i not in moved]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title("left") for ax in axes] == [label[i] for i in moved]
    text = " ".join(" ".join(t.get_text() for t in fig.texts).split())  # unwrapped
    bottom = f"{summary['rungs'][0]} on every day of every run"
    assert (f"Not drawn: {', '.join(still)} (at 0 {bottom})." in text) == bool(still)
    for i, ax in zip(moved, axes, strict=True):
        rungs = trajectories[:, i, :]
        median = by_gid(ax, "median").get_ydata()[:-1]
        np.testing.assert_array_equal(median, inverted_cdf(rungs, 0.5))
        q25, q75 = inverted_cdf(rungs, 0.25), inverted_cdf(rungs, 0.75)
        band = by_gid(ax, "band50")
        for d in range(0, rungs.shape[1], 7):
            found = band_range(band, day_x(summary["start"], d + 0.5))
            expected = None if q25[d] == q75[d] else (q25[d], q75[d])
            assert found == (None if expected is None else pytest.approx(expected, abs=0.021))


# --- time to a rung ---------------------------------------------------------------------------


def kaplan_meier_from_runs(runs: pd.DataFrame, rung: int, n_rungs: int) -> dict[str, Any]:
    """Days until the overall rung first reaches ``rung`` or above, censored at end_day."""
    cols = [f"first_day_rung_{k}" for k in range(rung, n_rungs)]
    firsts = runs[cols].to_numpy(dtype=float)
    observed = ~np.isnan(firsts).all(axis=1)
    first = np.where(observed, np.nanmin(np.where(observed[:, None], firsts, 0), axis=1), 0)
    durations = np.where(observed, first, runs["end_day"].to_numpy(dtype=float))
    return stats.kaplan_meier(durations, observed)


def test_time_to_rung_curves_are_kaplan_meier_of_the_runs(
    ens: Any, folder: Path, summary: dict[str, Any]
) -> None:
    runs = pd.read_parquet(folder / "runs.parquet")
    ax = plots.time_to_rung(ens).axes[0]
    shown = [a for a in ax.get_lines() if str(a.get_gid()).startswith("km")]
    assert shown, "no curve drawn"
    for line in shown:
        rung = int(line.get_gid()[2:])
        km = kaplan_meier_from_runs(runs, rung, len(summary["rungs"]))
        y = line.get_ydata()
        assert y[0] == 1.0
        np.testing.assert_allclose(y[1:-1], km["survival"])
        x = np.asarray(line.get_xdata(), dtype=float)[1:-1]
        expected_x = [day_x(summary["start"], t) for t in km["times"]]
        np.testing.assert_allclose(x, expected_x, atol=1 / 86_400)
        # Where the curve ends is the summary's share reaching the rung by the horizon.
        assert 1 - y[-1] == pytest.approx(summary["time_to_rung"][str(rung)]["p_by_end"])
        assert f"({style.pct(1 - y[-1])})" in line.get_label()
    bands = [c for c in ax.collections if c.get_gid() is None]
    assert len(bands) == len(shown)


# --- levers and costs -------------------------------------------------------------------------


def test_lever_heat_map_is_the_share_of_runs_using_each_lever(
    ens: Any, folder: Path, manifest: dict[str, Any], summary: dict[str, Any]
) -> None:
    moves = pd.read_parquet(folder / "moves.parquet")
    share = moves.groupby(["actor", "lever"])["index"].nunique() / RUNS
    has = {(a["id"], lv["id"]) for a in manifest["parameters"]["actors"] for lv in a["levers"]}
    actors = [a["id"] for a in manifest["parameters"]["actors"]]
    fig = plots.lever_use(ens)
    ax = fig.axes[0]
    cells = ax.images[0].get_array()
    rows = list(data.lever_use(ens).index)
    assert set(rows) == {lever for _, lever in has}
    assert [t.get_text() for t in ax.get_xticklabels()] == [summary["actors"][a] for a in actors]
    for i, lever in enumerate(rows):
        for j, actor in enumerate(actors):
            if (actor, lever) in has:
                assert cells[i, j] == pytest.approx(share.get((actor, lever), 0.0)), (actor, lever)
            else:
                assert np.ma.is_masked(cells[i, j]), (actor, lever)
    # And the summary's "most used levers" agree with the cells.
    for actor, levers in summary["levers"].items():
        for lv in levers:
            i, j = rows.index(lv["lever"]), actors.index(actor)
            assert cells[i, j] == pytest.approx(lv["share_runs"])


def test_lever_heat_map_of_mean_uses(ens: Any, folder: Path) -> None:
    moves = pd.read_parquet(folder / "moves.parquet")
    uses = moves.groupby(["actor", "lever"]).size() / RUNS
    table = data.lever_use(ens, "mean_uses")
    cells = plots.lever_use(ens, value="mean_uses").axes[0].images[0].get_array()
    for (actor, lever), mean in uses.items():
        i, j = list(table.index).index(lever), list(table.columns).index(actor)
        assert cells[i, j] == pytest.approx(mean)


def test_cost_panels_show_every_run_and_the_mean(
    ens: Any, folder: Path, summary: dict[str, Any]
) -> None:
    runs = pd.read_parquet(folder / "runs.parquet")
    fig = plots.costs(ens)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title("left") for ax in axes] == list(summary["actors"].values())
    for ax, actor in zip(axes, summary["actors"], strict=True):
        heights = [p.get_height() for p in ax.patches if p.get_gid() == "hist"]
        assert sum(heights) == RUNS
        span = by_gid(ax, "ci").get_x(), by_gid(ax, "ci").get_x() + by_gid(ax, "ci").get_width()
        assert span == pytest.approx(tuple(summary["costs"][actor]["ci95"]))
        mean = by_gid(ax, "mean").get_xdata()[0]
        assert mean == pytest.approx(runs[f"cost_{actor}"].mean())
        assert mean == pytest.approx(summary["costs"][actor]["mean"])
        assert ens.cost_unit_short in ax.get_xlabel()


# --- what every figure shares -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(figures("ensemble")))
def test_every_figure_says_what_it_shows(name: str, ens: Any, summary: dict[str, Any]) -> None:
    fig = figures("ensemble")[name](ens)
    text = "\n".join(t.get_text() for t in fig.texts)
    assert SCENARIO in text and summary["title"] in text
    assert f"{RUNS} runs, seed {SEED}" in text
    colours = {to_hex(p.get_facecolor()).upper() for ax in fig.axes for p in ax.patches}
    assert colours <= {*style.OKABE_ITO.values(), style.UNAVAILABLE.upper()}
    if name in ("rung_fan", "rung_fan_by_dyad", "time_to_rung"):
        fig.savefig(io.BytesIO(), format="png", dpi=30)  # Tick labels exist once drawn.
        ticks = [t.get_text() for t in fig.axes[-1].get_xticklabels() if t.get_text()]
        assert any("2025" in t for t in ticks) and any(t.startswith("Jan") for t in ticks), ticks


def test_a_cut_short_run_says_so_in_every_title(folder: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "cut"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("figures"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest.update(status="interrupted", runs=RUNS * 10)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    fig = plots.outcome_probabilities(copy)
    text = "\n".join(t.get_text() for t in fig.texts)
    assert f"INTERRUPTED: only {RUNS} of {RUNS * 10:,} runs done" in text


def test_figures_take_in_memory_results() -> None:
    results = sim.run(SCENARIO, runs=12, seed=2)
    assert results.path is None
    ax = plots.outcome_probabilities(results).axes[0]
    bars = bars_by_row(ax)
    for o in results.summary["outcomes"].values():
        assert bars[o["label"]][0] == pytest.approx(o["p"])
    median = by_gid(plots.rung_fan(results).axes[0], "median").get_ydata()[:-1]
    assert median.tolist() == results.summary["daily_rung_quantiles"]["q50"]
    plots.lever_use(results)


def test_importing_sim_plots_loads_no_matplotlib() -> None:
    code = "import sys, sim, sim.plots; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- sim plot and sim run --plot --------------------------------------------------------------


def test_sim_plot_writes_every_figure(folder: Path, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "svg"
    assert main(["plot", str(folder), "--format", "svg", "--out", str(out)]) == 0
    names = list(figures("ensemble"))
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.svg" for n in names)
    for path in out.iterdir():
        head = path.read_text(encoding="utf-8")[:400]
        assert "<svg" in head
    listed = capsys.readouterr().err
    assert all(n in listed for n in names)


def test_sim_run_plot_writes_figures_into_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import sim.plots.registry as registry

    calls = []
    monkeypatch.setattr(
        registry, "write_figures", lambda *a, **k: calls.append((a, k)) or [Path("f.png")]
    )
    args = ["run", SCENARIO, "--runs", "5", "--seed", "1", "--out", str(tmp_path), "--plot"]
    assert main(args) == 0
    (folder,) = (tmp_path / SCENARIO).iterdir()
    assert calls and Path(calls[0][0][0]) == folder and calls[0][0][1] == "png"


def test_sim_plot_of_a_missing_folder_is_a_clear_error(tmp_path: Path, capsys: Any) -> None:
    assert main(["plot", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such results folder" in err and "Traceback" not in err


def test_sim_plot_of_a_scenario_folder_names_the_latest_run(folder: Path, capsys: Any) -> None:
    assert main(["plot", str(folder.parent)]) == 2
    err = capsys.readouterr().err
    assert "not a results folder" in err and folder.name in err


def test_sim_plot_of_an_unknown_kind_says_which_kinds_have_figures(
    folder: Path, tmp_path: Path, capsys: Any
) -> None:
    odd = tmp_path / "odd"
    odd.mkdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    (odd / "manifest.json").write_text(json.dumps({**manifest, "kind": "tea-leaves"}))
    assert main(["plot", str(odd)]) == 2
    assert "no figures for 'tea-leaves' results" in capsys.readouterr().err


def test_sim_plot_of_an_unfinished_run_says_why(folder: Path, tmp_path: Path, capsys: Any) -> None:
    running = tmp_path / "running"
    running.mkdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    (running / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    assert main(["plot", str(running)]) == 2
    assert "summary.json is missing (run status: running)" in capsys.readouterr().err


def test_figures_reject_what_is_not_results() -> None:
    with pytest.raises(UsageError, match="Results object"):
        plots.peak_rung(42)


# --- a comparison -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sim.experiments.compare import compare

    out = tmp_path_factory.mktemp("compare")
    variant = "taiwan-flashpoint-2025-us-backs-japan"
    return Path(compare(SCENARIO, variant, runs=30, seed=SEED, out=out).path)


def dots_by_row(ax: Any) -> dict[str, tuple[float, bool]]:
    """Map each row label to the x of its dot and whether the dot is filled."""
    labels = {round(t.get_position()[1]): t.get_text() for t in ax.get_yticklabels()}
    out = {}
    for gid, filled in (("clear", True), ("unclear", False)):
        for x, y in by_gid(ax, gid).get_offsets():
            out[labels[round(y)]] = (float(x), filled)
    return out


def test_paired_differences_are_the_comparison_summary(comparison: Path) -> None:
    s = json.loads((comparison / "summary.json").read_text())
    fig = plots.paired_differences(comparison)
    assert set(s["scores"]) == {"goldstein", "rivera"}
    every = {
        "outcome probability": {o["label"]: o for o in s["outcomes"].values()},
        "peak rung": {"mean peak rung": s["peak_rung"]},
        "mean cost": {c["name"]: c for c in s["costs"].values()},
        "escalation score per run": {c["name"]: c for c in s["scores"].values()},
    }
    # A panel whose every difference is zero in every run (no variance) is left out.
    same = [t for t, rows in every.items() if all(not r["difference"] and not r["se"]
                                                  for r in rows.values())]  # fmt: skip
    axes = [ax for ax in fig.axes if ax.get_yticklabels()]
    assert [ax.get_title("left") for ax in axes] == [t for t in every if t not in same]
    note = f"Not drawn: {', '.join(same)} (no difference in any run)."
    assert (note in " ".join(" ".join(t.get_text() for t in fig.texts).split())) == bool(same)
    for ax in axes:
        rows = every[ax.get_title("left")]
        dots = dots_by_row(ax)
        assert set(dots) == set(rows)
        ranges = whiskers(ax) if len(ax.containers) > 1 else None
        lines = {t.get_text(): round(t.get_position()[1]) for t in ax.get_yticklabels()}
        for label, row in rows.items():
            x, filled = dots[label]
            assert x == pytest.approx(row["difference"], abs=1e-12)
            lo, hi = row["ci95"]
            assert filled == (lo > 0 or hi < 0)
            segments = ax.containers[0].lines[2][0].get_segments() if ranges is None else None
            if segments is not None:
                (seg,) = [sg for sg in segments if round(sg[0][1]) == lines[label]]
                assert sorted([seg[0][0], seg[1][0]]) == pytest.approx([lo, hi], abs=1e-12)
    text = "\n".join(t.get_text() for t in fig.texts)
    assert "taiwan-flashpoint-2025-us-backs-japan" in text and f"seed {SEED}" in text


def test_sim_plot_draws_a_comparison(comparison: Path, tmp_path: Path) -> None:
    assert main(["plot", str(comparison), "--out", str(tmp_path), "--quiet"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["paired_differences.png"]
