"""Runs over a posterior: each replication at parameter values drawn from a calibration.

``sim run SCENARIO --posterior CALIBRATION_DIR`` (and ``sim compare``, ``sim sweep``) draws,
for every replication, one particle of the calibration's last generation with probability
its weight, from a stream of the replication's own seed; the replication then runs the
scenario with the particle's values on the same seed as it would without them. The outcome
distribution therefore mixes the model's randomness with the parameters' uncertainty, a
replication can be replayed alone (``Results.trace``), and two arms of a comparison draw
the same particle for the same replication (their differences stay paired).

The hook is an engine (the ensemble's ``simulate(spec, seed)``): the scenario is validated
once, each particle's run spec is made once per worker when first drawn (values set on the
loaded document, validated, compiled: :class:`~sim.experiments.variants.Variants`) and kept.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import UsageError
from sim.results.files import POSTERIOR as POSTERIOR_FILE

#: Spawn key of a replication's posterior draw, beyond the engine's 32-bit stream keys.
DRAW_KEY = 0x1_0000_0000 + 0x504F5354  # "POST"


#: Compiled run specs kept per worker (one per particle drawn).
CACHE = 512


class Posterior:
    """The weighted particles of a calibration's last generation."""

    def __init__(
        self,
        paths: Sequence[str],
        values: np.ndarray,
        weights: np.ndarray,
        integer: Sequence[str] = (),
        source: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.paths = list(paths)
        # Each path's label, from the calibration (for what a run prints); a posterior kept
        # in a results folder has none and is shown by its paths.
        self.labels = dict(labels or {})
        self.values = np.asarray(values, dtype=float)
        w = np.asarray(weights, dtype=float)
        self.weights = w / w.sum()
        self.integer = list(integer)
        self.source = source

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Posterior:
        """Return the posterior of a calibration folder (its last stored generation)."""
        from sim.experiments.calibration_folder import load_calibration, read_plan

        path = Path(folder)
        if not (path / "calibration.json").is_file():
            raise UsageError(
                f"--posterior {folder}: not a calibration folder (no calibration.json)"
            )
        calibration = load_calibration(path)
        if calibration.particles.empty:
            raise UsageError(f"--posterior {folder}: the calibration holds no generation yet")
        values, weights = calibration.posterior()
        integer = read_plan(path).get("integer_parameters", [])
        return cls(calibration.paths, values.to_numpy(), weights, integer, str(path.resolve()),
                   calibration.labels)  # fmt: skip

    def draw(self, seed: np.random.SeedSequence) -> int:
        """Return the particle a replication draws, from a stream of its own seed."""
        child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, DRAW_KEY))
        return int(np.random.default_rng(child).choice(len(self.weights), p=self.weights))

    def draws(self, root: int, runs: int) -> np.ndarray:
        """Return the particle drawn by each replication ``0 .. runs - 1`` of a root seed."""
        from sim.results.seeding import replication_seed

        return np.array([self.draw(replication_seed(root, i)) for i in range(runs)], dtype=int)

    def to_json(self) -> dict[str, Any]:
        """Return the posterior as JSON data (what a results folder keeps)."""
        return {
            "source": self.source,
            "paths": self.paths,
            "integer": self.integer,
            "values": self.values.tolist(),
            "weights": self.weights.tolist(),
            # only when known, so that a folder written before labels resumes as it was
            **({"labels": self.labels} if self.labels else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Posterior:
        """Return a posterior kept by :meth:`to_json`."""
        return cls(data["paths"], np.array(data["values"]), np.array(data["weights"]),
                   data.get("integer", ()), data.get("source", ""),
                   data.get("labels"))  # fmt: skip

    def summary_block(self, root: int, runs: int) -> dict[str, Any]:
        """Return what a run's summary says of its parameter draws: which, and how spread."""
        picks = self.draws(root, runs)
        drawn = self.values[picks]
        for j, path in enumerate(self.paths):  # the values the runs took
            if path in self.integer:
                drawn[:, j] = np.round(drawn[:, j])
        parameters: dict[str, dict[str, Any]] = {}
        for j, path in enumerate(self.paths):
            lo, median, hi = np.quantile(drawn[:, j], [0.05, 0.5, 0.95])
            parameters[path] = {
                "mean": float(drawn[:, j].mean()),
                "median": float(median),
                "lo": float(lo),
                "hi": float(hi),
            }
            if path in self.labels:
                parameters[path]["label"] = self.labels[path]
        return {
            "calibration": self.source,
            "particles": len(self.weights),
            "distinct_particles_drawn": int(len(np.unique(picks))),
            "draw": "a fresh particle per replication, from a stream of its seed",
            "parameters": parameters,
        }


class PosteriorEngine:
    """The ensemble's engine with each replication's parameters drawn from a posterior."""

    def __init__(self, posterior: Posterior, scenario: Any) -> None:
        from sim.experiments.variants import Variants

        self.posterior = posterior
        self.data = scenario.model_dump(mode="json")
        try:
            self.variants = Variants(self.data, posterior.paths, posterior.integer)
        except Exception as err:  # a PathError: the scenario has no such field
            raise UsageError(
                f"--posterior: {scenario.name} cannot take the calibrated parameters: {err}"
            ) from None
        self._cache: OrderedDict[int, Any] = OrderedDict()

    def check(self) -> None:
        """Make the specs of the most and least likely particles now (a bad value fails early)."""
        from sim.experiments.variants import VariantError

        order = np.argsort(self.posterior.weights)
        for particle in {int(order[0]), int(order[-1])}:
            try:
                self.spec(particle)
            except VariantError as err:
                raise UsageError(f"--posterior: {err}") from None

    def spec(self, particle: int) -> Any:
        """Return the compiled run spec of a particle (made once, then kept)."""
        found = self._cache.get(particle)
        if found is None:
            found = self.variants.spec(list(self.posterior.values[particle]))
            self._cache[particle] = found
            if len(self._cache) > CACHE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(particle)
        return found

    def __call__(self, spec: Any, seed: np.random.SeedSequence) -> Any:
        """Run one replication: draw its particle, then simulate at its values on ``seed``."""
        from sim.engine import simulate

        del spec  # the run spec of the drawn particle replaces the scenario's own
        return simulate(self.spec(self.posterior.draw(seed)), seed)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": OrderedDict()}


def posterior_engine(posterior: Any, scenario: Any, fixed: Iterable[str] = ()) -> Any:
    """Return the engine of runs over ``posterior`` (a calibration or its folder), or None.

    Without one, a scenario that names a posterior (its ``posterior`` field) runs over that.
    ``fixed`` are paths the caller set (``--set``): one the posterior draws is refused, since
    each replication's draw would silently replace it.
    """
    if posterior is None:
        posterior = scenario_posterior(scenario)
        if posterior is None:
            return None
    found = as_posterior(posterior)
    clash = sorted(set(found.paths) & set(fixed))
    if clash:
        raise UsageError(
            f"--set {', '.join(clash)}: drawn from the posterior of {found.source} in every "
            "replication, so a value set here would be replaced; set other fields, or run "
            "the scenario without its posterior"
        )
    engine = PosteriorEngine(found, scenario)
    engine.check()
    return engine


def scenario_posterior(scenario: Any) -> Path | None:
    """Return the calibration folder a scenario names in its ``posterior`` field, or None.

    A relative name is looked for in the working directory, then on the scenario search
    path (so ``posteriors/NAME`` finds the folder shipped beside the named scenarios).
    """
    name = getattr(scenario, "posterior", None)
    if not name:
        return None
    from sim.results.files import CALIBRATION_PLAN as PLAN
    from sim.scenario.registry import search_path

    path = Path(name)
    places = (
        [path] if path.is_absolute() else [Path.cwd() / path, *(r / path for r in search_path())]
    )
    for place in places:
        if (place / PLAN).is_file():
            return place.resolve()
    raise UsageError(
        f"{scenario.name}: posterior: no calibration folder '{name}' (looked for {PLAN} in "
        f"{', '.join(str(p) for p in places)}); give the folder a calibration wrote "
        "(sim calibrate ... --name NAME) as a path or on the scenario search path"
    )


def override_paths(overrides: Iterable[str] | Mapping[str, Any] | None) -> list[str]:
    """Return the paths of ``--set`` style overrides (``["a.b=1"]`` or ``{"a.b": 1}``)."""
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        return [str(k) for k in overrides]
    return [str(o).split("=", 1)[0].strip() for o in overrides]


def arms_block(own: Sequence[tuple[str, Posterior]], root: int, runs: int) -> dict[str, Any]:
    """Return a comparison's posterior block when its arms draw from their own scenarios'.

    (A comparison given ``--posterior`` draws the same particle in both arms; without it, an
    arm whose scenario names a posterior draws from that one and the other runs as written.)
    """
    blocks = {arm: posterior.summary_block(root, runs) for arm, posterior in own}
    first = next(iter(blocks.values()))
    same = [a for a, b in blocks.items() if b["calibration"] == first["calibration"]]
    others = {a: b for a, b in blocks.items() if a not in same}
    return {**first, "arms": same, "other_arms": others}


def as_posterior(posterior: Any) -> Posterior:
    """Return a Posterior from itself, a Calibration (``sim.calibrate``'s) or its folder."""
    if isinstance(posterior, Posterior):
        return posterior
    if hasattr(posterior, "particles") and hasattr(posterior, "posterior"):
        values, weights = posterior.posterior()
        source = str(posterior.path) if posterior.path else "a calibration kept in memory"
        integer = getattr(posterior, "integer", ())
        labels = getattr(posterior, "labels", None)
        return Posterior(posterior.paths, values.to_numpy(), weights, integer, source, labels)
    return Posterior.load(posterior)


def keep(folder: Path | None, engine: Any) -> None:
    """Write a run's posterior into its results folder (``--resume`` reads it back).

    Any other engine (None: the engine's own ``simulate``) leaves the folder as it is.
    """
    if folder is None or not isinstance(engine, PosteriorEngine):
        return
    from sim.results import store

    store.write_json(folder / POSTERIOR_FILE, engine.posterior.to_json())


def kept(folder: Path) -> Posterior | None:
    """Return the posterior a results folder was run over, None for an ordinary run."""
    from sim.results import store

    path = Path(folder) / POSTERIOR_FILE
    return Posterior.from_json(store.read_json(path)) if path.is_file() else None
