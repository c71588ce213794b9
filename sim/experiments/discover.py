"""``sim discover SWEEP_DIR --outcome peak>=6 --threshold 0.3``: PRIM over a sweep's points.

Reads a finished (or partly finished) sweep folder, computes each finished point's outcome
probability from its runs (any outcome of the scenario, not only the sweep's outcomes of
interest) and hands the points to :func:`sim.analysis.discovery.prim_boxes`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.analysis.discovery import Discovery, check_threshold, prim_boxes
from sim.errors import UsageError


def discover(
    folder: str | os.PathLike[str],
    outcome: str,
    threshold: float,
    min_density: float = 0.8,
) -> Discovery:
    """Find the box of parameter space where ``outcome``'s probability reaches ``threshold``.

    ``outcome`` is a class id of the sweep's scenario or ``peak>=K``; a point is a case when
    its probability is at least ``threshold``. Bad input -- a threshold outside (0, 1), a
    folder that holds no sweep, an outcome the scenario does not have -- is a UsageError
    before PRIM runs.
    """
    from sim.experiments.sweep import load_sweep, per_run
    from sim.experiments.sweep_plan import outcomes
    from sim.experiments.sweep_spec import SweepError
    from sim.present.summary import labelled
    from sim.results.files import SWEEP_PLAN

    check_threshold(threshold)
    check_threshold(min_density, "--min-density")
    path = Path(folder)
    if not (path / SWEEP_PLAN).is_file():
        raise UsageError(f"{path}: not a sweep folder (no {SWEEP_PLAN})")
    results = load_sweep(path)
    try:
        metric = outcomes([outcome], results.plan.base)[0]
    except SweepError as exc:
        raise UsageError(f"--outcome: {exc}") from None
    if not metric.share:
        raise UsageError(
            f"--outcome {outcome}: a threshold needs a probability (an outcome class or "
            "peak>=K), not a mean"
        )
    runs = results.runs
    if runs.empty:
        raise UsageError(f"{path}: no point of the sweep has finished")
    values = per_run(runs, metric).assign(point=runs["point"].to_numpy())
    by_point = values.groupby("point")["value"].mean()
    x = results.design.set_index("point").loc[by_point.index, results.spec.paths]
    title = f"{results.spec.title or results.plan.base.outline.name} [{path.name}]"
    values = by_point.to_numpy()
    return prim_boxes(x, values, metric.label, threshold, min_density,
                      labelled(title, results.changes), metric.name, results.labels)  # fmt: skip
