"""Scenario discovery: PRIM boxes (and a CART tree) over a sweep's points (EMA Workbench).

The question is one of conditions: *where in the parameter space does it go wrong?* Each
point of a sweep is a *case of interest* when its outcome probability reaches a threshold;
PRIM (Friedman and Fisher 1999, as Bryant and Lempert 2010 use it for scenario discovery)
peels the parameter box, a small slice at a time, towards the cases, and its peeling
trajectory trades *coverage* (the share of all cases inside the box) against *density* (the
share of the box's points that are cases). The box chosen here is the one of highest
coverage whose density reaches ``min_density``; each restriction of it comes with the
quasi-p value of EMA Workbench (a binomial test of whether the restriction matters).

The implementation is EMA Workbench's :mod:`ema_workbench.analysis.prim` (the optional
``explore`` extra); without it :func:`discover` raises a UsageError naming the extra. A
shallow CART tree (scikit-learn, which EMA Workbench installs) gives a second view.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.scenario.labels import legend_text

#: How a missing EMA Workbench is told.
NO_EMA = (
    "scenario discovery needs EMA Workbench: pip install 'sim[explore]' (or pip install "
    "ema_workbench)"
)


@dataclass
class Discovery:
    """What PRIM found: its peeling trajectory, the chosen box, and a CART tree's rules."""

    outcome: str
    threshold: float
    min_density: float
    cases: int
    points: int
    trajectory: pd.DataFrame  # coverage, density, mass, res_dim for each box peeled
    box_index: int
    limits: pd.DataFrame  # parameter, min, max, min_all, max_all, qp (restricted ones)
    tree: str
    title: str = ""
    key: str = ""  # the outcome as the user named it (peak>=6), for file names
    labels: dict[str, str] = field(default_factory=dict)  # each parameter's label by path

    def label(self, path: str) -> str:
        """Return a parameter's label (its path when it has none)."""
        return self.labels.get(path, path)

    @property
    def box(self) -> pd.Series:
        """The chosen box's statistics (coverage, density, mass, res_dim)."""
        return self.trajectory.iloc[self.box_index]

    def subtitle(self) -> list[str]:
        """The figure subtitle: what is a case, and how many there are."""
        return [
            self.title,
            f"a case: a point where {self.outcome} >= {self.threshold:g} "
            f"({self.cases} of {self.points} points)",
        ]

    def table(self) -> str:
        """The trajectory, the chosen box and the tree, as plain text."""
        box = self.box
        lines = [
            f"PRIM on {self.points} points; a case is {self.outcome} >= {self.threshold:g}: "
            f"{self.cases} cases ({self.cases / self.points:.0%})",
            "",
            "Peeling trajectory (coverage against density)",
            f"{'box':>4}  {'coverage':>8}  {'density':>8}  {'mass':>6}  {'restricted':>10}",
        ]
        for i, r in self.trajectory.iterrows():
            mark = "  <- chosen" if i == self.box_index else ""
            lines.append(
                f"{i:>4}  {r['coverage']:>8.1%}  {r['density']:>8.1%}  {r['mass']:>6.1%}  "
                f"{int(r['res_dim']):>10}{mark}"
            )
        lines += [
            "",
            f"Chosen box {self.box_index}: coverage {box['coverage']:.0%}, density "
            f"{box['density']:.0%}, {int(box['n'])} points (the highest coverage at a density "
            f"of at least {self.min_density:.0%})",
        ]
        lines += self._limit_lines()
        lines += ["", "CART tree (scikit-learn, depth 3): class 1 = a case", self.tree]
        paths = legend_text(self.labels)
        return "\n".join([*lines, paths] if paths else lines) + "\n"

    def _limit_lines(self) -> list[str]:
        """The chosen box's restrictions, a parameter (by label) a line."""
        if self.limits.empty:
            return ["  it restricts no parameter: the cases are everywhere"]
        names = [self.label(p) for p in self.limits["parameter"]]
        width = max([len("parameter"), *(len(n) for n in names)])
        lines = [f"  {'parameter':<{width}}  {'box':<22}  {'full range':<22}  quasi-p"]
        for name, r in zip(names, self.limits.itertuples(index=False), strict=True):
            inside = f"{r.min:.3g} .. {r.max:.3g}"
            full = f"{r.min_all:.3g} .. {r.max_all:.3g}"
            lines.append(f"  {name:<{width}}  {inside:<22}  {full:<22}  {r.qp:.2g}")
        return lines

    def to_json(self) -> dict[str, Any]:
        """The discovery as JSON data."""
        return {
            "outcome": self.outcome,
            "threshold": self.threshold,
            "min_density": self.min_density,
            "cases": self.cases,
            "points": self.points,
            "trajectory": self.trajectory.to_dict("records"),
            "box": int(self.box_index),
            "limits": self.limits.to_dict("records"),
            "tree": self.tree,
        }


def check_threshold(threshold: float, name: str = "--threshold") -> float:
    """A threshold strictly between 0 and 1 (a UsageError otherwise)."""
    if not 0.0 < float(threshold) < 1.0:
        raise UsageError(f"{name} {threshold:g}: expected a probability strictly between 0 and 1")
    return float(threshold)


def prim_boxes(
    x: pd.DataFrame,
    values: np.ndarray,
    outcome: str,
    threshold: float,
    min_density: float = 0.8,
    title: str = "",
    key: str = "",
    labels: dict[str, str] | None = None,
) -> Discovery:
    """Run PRIM on points ``x`` (one column per parameter) whose outcome is ``values``.

    ``labels`` name the parameters (the columns' paths) in the tree's rules and the tables.
    """
    check_threshold(threshold)
    check_threshold(min_density, "--min-density")
    prim, tree = _ema()
    y = np.asarray(values, dtype=float) >= threshold
    cases = int(y.sum())
    if cases == 0 or cases == len(y):
        which = "no point reaches" if cases == 0 else "every point reaches"
        values = np.asarray(values, dtype=float)
        raise UsageError(
            f"{which} {outcome} >= {threshold:g} ({len(y)} points, from {values.min():.3g} "
            f"to {values.max():.3g}): there is nothing to tell apart; choose another threshold"
        )
    varied = x.loc[:, x.nunique() > 1].astype(float)
    with warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        found = prim.Prim(varied, y, threshold=min_density).find_box()
    trajectory = found.peeling_trajectory.reset_index(drop=True)
    index = _choose(trajectory, min_density)
    found.select(index)
    limits = _limits(found, index, varied)
    return Discovery(
        outcome=outcome,
        threshold=threshold,
        min_density=min_density,
        cases=cases,
        points=len(y),
        trajectory=trajectory,
        box_index=index,
        limits=limits,
        tree=_tree_rules(tree, varied, y, labels or {}),
        title=title,
        key=key or outcome,
        labels=dict(labels or {}),
    )


def _ema() -> tuple[Any, Any]:
    try:
        with warnings.catch_warnings(), _quiet():
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import prim
        from sklearn import tree
    except ImportError:
        raise UsageError(NO_EMA) from None
    return prim, tree


class _quiet:
    """Hold EMA Workbench's INFO logging (it logs each box it finds) for a block."""

    def __enter__(self) -> None:
        self.logger = logging.getLogger("EMA")
        self.level = self.logger.level
        self.logger.setLevel(logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def _choose(trajectory: pd.DataFrame, min_density: float) -> int:
    """The box of highest coverage whose density reaches ``min_density`` (else the densest)."""
    dense = trajectory[trajectory["density"] >= min_density]
    if dense.empty:
        return int(trajectory["density"].idxmax())
    best = dense["coverage"].max()
    return int(dense[dense["coverage"] == best].index[-1])  # the densest of the equals


def _limits(found: Any, index: int, x: pd.DataFrame) -> pd.DataFrame:
    """The restricted parameters of box ``index``: its range, the full range, quasi-p."""
    stats, lims = found.inspect(index, style="data")[0]
    del stats
    rows = []
    for parameter in lims.index:
        row = lims.loc[parameter]
        qps = [v for v in row.iloc[2:].to_numpy(dtype=float) if np.isfinite(v)]
        rows.append(
            {
                "parameter": str(parameter),
                "min": float(row.iloc[0]),
                "max": float(row.iloc[1]),
                "min_all": float(x[parameter].min()),
                "max_all": float(x[parameter].max()),
                "qp": min(qps) if qps else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["parameter", "min", "max", "min_all", "max_all", "qp"])


def _tree_rules(tree: Any, x: pd.DataFrame, y: np.ndarray, labels: dict[str, str]) -> str:
    """A depth-3 classification tree's rules, parameters by label (a fixed random state)."""
    model = tree.DecisionTreeClassifier(max_depth=3, min_samples_leaf=2, random_state=0)
    model.fit(x.to_numpy(), y.astype(int))
    names = [labels.get(str(c), str(c)) for c in x.columns]
    return tree.export_text(model, feature_names=names, decimals=3)
