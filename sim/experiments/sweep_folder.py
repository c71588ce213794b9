"""A sweep's results folder: its plan, its design, one runs file per finished point.

A sweep's folder ``<out>/<scenario>/sweep-<id>/`` holds:

- ``sweep.json``: the plan (the resolved sweep spec and the scenario's hash), written first;
- ``design.parquet``: one row per point, its parameter values;
- ``runs/point-NNNNNN.parquet``: the runs table of each finished point with a ``point``
  column (together, one tidy table of every replication);
- ``points.parquet``: one row per point: parameter values, outcome probabilities with
  Wilson intervals, peak-rung statistics and mean costs (:mod:`sim.analysis.points`);
- ``sensitivity.parquet``: Sobol indices with bootstrap intervals (Sobol designs);
- ``manifest.json``: how it went (status, points completed, code and environment), last.

A point is finished when its runs file exists (files are written whole, then moved into
place), so a sweep restarted with ``resume`` runs only the points that are missing and,
since every point is a pure function of the plan, ends with the same tables.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import UsageError
from sim.experiments.designs import design
from sim.experiments.sweep_plan import Base, Kind, Plan
from sim.experiments.sweep_spec import SweepSpec, read_plan
from sim.results import store
from sim.results.files import (
    DESIGN,
    FAILURES_DIR,
    MANIFEST,
    POINTS,
    RUNS_DIR,
    SENSITIVITY,
    SWEEP_FORMAT,
    SWEEP_PLAN,
)
from sim.results.manifest import build_manifest, now, package_version

_POINT_FILE = re.compile(r"^point-(\d{6})\.parquet$")


class Folder:
    """A sweep's results folder: the plan, the design, one runs file per finished point."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(
        cls,
        root: Path,
        scenario: str,
        now: dt.datetime,
        name: str | None = None,
        force: bool = False,
    ) -> Folder:
        """Create a sweep folder with its runs subfolder.

        That is a fresh ``root/<scenario>/sweep-<id>``, or ``<name>`` (see
        :func:`store.create_run_dir`).
        """
        path = store.create_run_dir(
            root, scenario, now, "sweep", name=name, force=force, prefix="sweep-"
        )
        (path / RUNS_DIR).mkdir()
        return cls(path)

    def point_file(self, point: int) -> Path:
        """Return the runs file of a point."""
        return self.path / RUNS_DIR / f"point-{point:06d}.parquet"

    def finished_points(self) -> set[int]:
        """Return the points whose runs are on disk."""
        runs = self.path / RUNS_DIR
        found = (_POINT_FILE.match(f.name) for f in runs.iterdir()) if runs.is_dir() else ()
        return {int(m.group(1)) for m in found if m}

    def write_point(self, point: int, runs: pd.DataFrame, failures: pd.DataFrame) -> None:
        """Write a point's failures (if any), then its runs table, each whole; runs mark it done."""
        if len(failures):
            (self.path / FAILURES_DIR).mkdir(exist_ok=True)
            store.write_table(self.path / FAILURES_DIR / self.point_file(point).name, failures)
        store.write_table(self.point_file(point), runs)

    def read_point(self, point: int) -> pd.DataFrame:
        """Read a point's runs table."""
        return pd.read_parquet(self.point_file(point))

    def read_plan(self) -> dict[str, Any]:
        """Read ``sweep.json``, or explain why this is not a sweep folder."""
        return read_plan(self.path)


def plan_document(spec: SweepSpec, base: Base, kinds: Sequence[Kind]) -> dict[str, Any]:
    """Return the content of ``sweep.json``: what will be run, resolved."""
    return {
        "format_version": SWEEP_FORMAT,
        "kind": "sweep",
        "scenario": base.outline.name,
        "title": base.scenario.title,
        "content_hash": base.scenario.content_hash(),
        "spec": spec.model_dump(mode="json"),
        "points": spec.n_points,
        "parameters": [{"path": k.path, "kind": k.kind} for k in kinds],
        # The base scenario as run (before the fixed overrides), so that the folder alone
        # can be resumed or reopened even if the scenario file changes or was never a file.
        "base_scenario": base.data,
    }


def stored_scenario(folder: Path) -> Any:
    """Return the base scenario a sweep folder was started with."""
    from sim.scenario.schema import Scenario

    plan = read_plan(folder)
    if "base_scenario" not in plan:  # A folder from before the base was stored in the plan.
        from sim.scenario import load

        return load(plan["spec"]["scenario"])
    return Scenario.model_validate(plan["base_scenario"])


def check_resumable(folder: Folder, plan: Mapping[str, Any]) -> bool:
    """Raise unless the folder's plan is the plan about to run (same spec, same scenario).

    The words of a sweep (its title, description and parameter labels) change no number:
    a plan that differs in them alone is the same plan, and True says that the folder's
    plan should take the new words.
    """
    stored = folder.read_plan()
    ran = {**stored, "spec": _without_words(stored.get("spec"))}
    asked = {**plan, "spec": _without_words(store.jsonable(plan["spec"]))}
    for key, what in (("content_hash", "the scenario"), ("spec", "the sweep")):
        if ran.get(key) != store.jsonable(asked[key]):
            raise UsageError(
                f"--resume {folder.path}: {what} differs from the one this folder was started "
                f"with ({_difference(ran.get(key), asked[key])}); start a new sweep instead"
            )
    return stored.get("spec") != store.jsonable(plan["spec"])


def _without_words(spec: Any) -> Any:
    """Return a sweep spec (as JSON) without its title, description and parameter labels."""
    if not isinstance(spec, dict):
        return spec
    kept = {key: value for key, value in spec.items() if key not in ("title", "description")}
    if isinstance(spec.get("parameters"), list):
        kept["parameters"] = [
            {k: v for k, v in p.items() if k != "label"} if isinstance(p, dict) else p
            for p in spec["parameters"]
        ]
    return kept


def _difference(old: Any, new: Any) -> str:
    """Name the first field that differs between two plans (``parameters[0].values: ...``)."""
    found = _first_difference(old, store.jsonable(new), "")
    return "its content hash" if found is None else found


def _first_difference(old: Any, new: Any, where: str) -> str | None:
    """Return ``"FIELD: OLD then, NEW now"`` for the innermost field that differs, or None."""
    if old == new:
        return None
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            field = f"{where}.{key}" if where else key
            found = _first_difference(old.get(key), new.get(key), field)
            if found is not None:
                return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) and where:
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found = _first_difference(a, b, f"{where}[{i}]")
            if found is not None:
                return found
    return f"{where}: {old!r} then, {new!r} now" if where else None


def read_runs(path: Path) -> pd.DataFrame:
    """Read the runs of every finished point of a sweep folder, in point order."""
    folder = Folder(path)
    frames = [folder.read_point(p) for p in sorted(folder.finished_points())]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["point"])


def open_folder(
    plan: Plan,
    out: str | os.PathLike[str] | None,
    folder: Folder | None,
    started: dt.datetime,
    name: str | None,
    force: bool,
) -> Folder:
    """Create the sweep's folder and write its plan and design, or check the resumed one's."""
    document = plan_document(plan.spec, plan.base, plan.kinds)
    if plan.posterior is not None:
        document["posterior"] = plan.posterior.to_json()
    if folder is not None:
        new_words = check_resumable(folder, document)
        stored = pd.read_parquet(folder.path / DESIGN)
        if not stored.equals(plan.design):
            raise UsageError(f"--resume {folder.path}: the stored design differs from the plan's")
        if new_words:  # the same plan in new words: its tables and figures use them from now on
            plan_file = folder.read_plan()
            store.write_json(folder.path / SWEEP_PLAN, {**plan_file, "spec": document["spec"]})
        (folder.path / RUNS_DIR).mkdir(exist_ok=True)
        store.drop_drawings(folder.path)
        for leftover in (folder.path / RUNS_DIR).glob(".*.part"):
            leftover.unlink()  # A point that was being written when the sweep died.
        return folder
    assert out is not None
    folder = Folder.create(Path(out), plan.base.outline.name, started, name, force)
    store.write_json(folder.path / SWEEP_PLAN, {**document, "started": started.isoformat()})
    store.write_table(folder.path / DESIGN, plan.design)
    return folder


def write_manifest(
    plan: Plan,
    folder: Folder,
    *,
    status: str,
    ran: int,
    started: dt.datetime,
    command: str | None,
    error: str | None = None,
) -> None:
    """Write the manifest of a sweep folder: what ran, how it ended, by what code."""
    spec = plan.spec
    head = {
        "format_version": SWEEP_FORMAT,
        "kind": "sweep",
        "scenario": plan.base.outline.name,
        "title": spec.title or plan.base.scenario.title,
        "content_hash": plan.base.scenario.content_hash(),
        "design": spec.design,
        "parameters": spec.paths,
        "points": spec.n_points,
        "points_completed": len(folder.finished_points()),
        "points_run_this_time": ran,
        "runs_per_point": spec.runs,
        "seed": spec.seed,
        "common_random_numbers": spec.common_random_numbers,
        "outcomes": [m.name for m in plan.metrics],
        "posterior": plan.posterior.source if plan.posterior is not None else None,
    }
    files = {
        "plan": SWEEP_PLAN,
        "design": DESIGN,
        "points": POINTS,
        "runs": f"{RUNS_DIR}/point-NNNNNN.parquet (one per point, with a point column)",
        "sensitivity": SENSITIVITY if design(spec.design).has_indices else None,
    }
    manifest = build_manifest(
        head, status=status, error=error, command=command, started=started, finished=now(),
        libraries={"SALib": package_version("SALib", missing="not installed")},
        tail={"files": files, "spec": spec.model_dump(mode="json")},
    )  # fmt: skip
    store.write_json(folder.path / MANIFEST, manifest)
