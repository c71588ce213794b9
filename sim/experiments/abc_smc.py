"""pyabc's side of a calibration: a sampler seeded per evaluation, the distance, the ABCSMC.

Seeding. pyabc's own parallel samplers reseed every worker from the operating system
(``np.random.seed()`` in ``multicore_evaluation_parallel.work`` and in ``eps_mixin``), so
their results never repeat. :class:`SeededSampler` implements pyabc's sampler interface
instead: evaluation ``k`` of generation ``t`` (the ``k``-th proposal: its perturbation,
its simulation and its acceptance) draws from ``SeedSequence(seed, (t + 1, k))`` whichever
worker runs it, and the sample is the evaluations ``0 .. K`` where ``K`` is the ``n``-th
acceptance in that order (the rule of pyabc's evaluation-parallel samplers, which avoids a
bias towards fast simulations). A population therefore depends on the seed alone, not on
the executor or the number of workers; only the speculative evaluations past ``K`` that
are thrown away, and the timings, differ.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.analysis.calibration import statistic_weights
from sim.experiments.calibration_problem import KEY, Problem, parameter_names
from sim.experiments.executors import results_of
from sim.experiments.stops import stop_if_signalled

# --- the sampler: pyabc's interface, seeded per evaluation ----------------------------------


def evaluation_seed(seed: int, t: int, k: int) -> np.ndarray:
    """Return the numpy seed of evaluation ``k`` of generation ``t`` (-1: the prior sample)."""
    return np.random.SeedSequence(seed, spawn_key=(t + 1, k)).generate_state(4)


@dataclass
class Evaluate:
    """Evaluates a batch of pyabc proposals: the callable executors map over id ranges.

    ``function`` is pyabc's simulate function of the generation (a partial of pyabc's own
    functions over picklable parts), so a process pool or Dask can take it as it is.
    """

    seed: int
    t: int
    function: Callable[[], Any]

    def __call__(self, ids: Sequence[int]) -> tuple[int, list[Any]]:
        """Return the first id and the particles of the evaluations ``ids``."""
        out = []
        for k in ids:
            state = evaluation_seed(self.seed, self.t, k)
            np.random.seed(state)
            random.seed(int(state[0]))
            out.append(self.function())
        return ids[0], out


def make_sampler_class() -> type:
    """Return :class:`SeededSampler` (built on first use: pyabc is slow to import)."""
    import pyabc

    class SeededSampler(pyabc.sampler.Sampler):
        """pyabc sampler whose populations depend on the seed only (see the module doc)."""

        def __init__(self, seed: int, executor: Any, batch: int, bar: Any = None) -> None:
            super().__init__()
            self.seed = seed
            self.executor = executor
            self.batch = batch
            self.bar = bar
            self.wasted_ = 0

        def sample_until_n_accepted(
            self,
            n: int,
            simulate_one: Callable[[], Any],
            t: int,
            *,
            max_eval: float = np.inf,
            all_accepted: bool = False,
            ana_vars: Any = None,
        ) -> Any:
            del all_accepted, ana_vars  # the order of ids already decides everything
            parallel = getattr(self.executor, "workers", 1) > 1
            evaluate = Evaluate(self.seed, t, simulate_one)
            batch = self.batch if parallel else 1
            kept, evaluated, accepted, ok = _ordered_until(
                self.executor.map(evaluate, _id_ranges(batch)), n, max_eval, self.bar
            )
            sample = self._create_empty_sample()
            for particle in kept:
                sample.append(particle)
            sample.ok = ok
            self.nr_evaluations_ = len(kept)
            self.wasted_ = evaluated - len(kept)
            return sample

    return SeededSampler


def _id_ranges(batch: int) -> Iterator[range]:
    """Yield consecutive ranges of evaluation ids, without end."""
    for first in itertools.count(0, batch):
        yield range(first, first + batch)


def _ordered_until(
    results: Iterator[tuple[int, list[Any]]], n: int, max_eval: float, bar: Any
) -> tuple[list[Any], int, int, bool]:
    """Take batch results in any order; return the evaluations up to the n-th acceptance.

    Returns (the kept evaluations in id order, evaluations received, accepted, whether n
    were accepted within ``max_eval`` evaluations).
    """
    waiting: dict[int, list[Any]] = {}
    kept: list[Any] = []
    evaluated = accepted = 0
    with results_of(results) as stream:
        for first, particles in stream:
            stop_if_signalled()  # a Ctrl-C that something swallowed stops the generation here
            waiting[first] = particles
            evaluated += len(particles)
            while len(kept) in waiting:
                for particle in waiting.pop(len(kept)):
                    kept.append(particle)
                    if particle.accepted:
                        accepted += 1
                        if bar is not None:
                            bar.update(1)
                    if accepted >= n:
                        return kept, evaluated, accepted, True
                    if len(kept) >= max_eval:
                        return kept, evaluated, accepted, False
    return kept, evaluated, accepted, False  # pragma: no cover - the id stream never ends


# --- pyabc's pieces ---------------------------------------------------------------------------


#: pyabc's scale functions, by the names a calibration file uses.
SCALE_FUNCTIONS = {
    "rmsd": "root_mean_square_deviation",
    "sd": "standard_deviation",
    "mad": "median_absolute_deviation",
    "cmad": "combined_median_absolute_deviation",
}


class Scale:
    """pyabc's scale function of a name, by reference: the distance then pickles.

    (pyabc's own are closures of a checking decorator, which a process pool cannot send.)
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = SCALE_FUNCTIONS[name]

    def __call__(self, **kwargs: Any) -> np.ndarray:
        """Return the scales of the samples (pyabc's keyword interface)."""
        from pyabc.distance import scale

        return getattr(scale, self.__name__)(**kwargs)


def scale_function(name: str) -> Scale | None:
    """Return pyabc's scale function of a name (None: no adaptive scale)."""
    return Scale(name) if name in SCALE_FUNCTIONS else None


def build_abc(problem: Problem, sampler: Any, scales: Sequence[float] | None = None) -> Any:
    """Return a pyabc ABCSMC for the problem: priors, model, distance, epsilon, sampler.

    ``scales`` are the adaptive distance's scale weights for the generation about to run,
    as the last run fitted them on every evaluation of its generation (accepted or not);
    None lets pyabc fit them (on the prior sample at the start).
    """
    import pyabc

    spec = problem.spec
    names = parameter_names(len(spec.parameters))
    priors = {}
    for name, prior in zip(names, spec.parameters, strict=True):
        dist, args, kwargs = prior.scipy_call()
        priors[name] = pyabc.RV(dist, *args, **kwargs)
    weights = statistic_weights(problem.plan.names, spec.statistics.weights)
    fixed = {f"{KEY}:{i}": float(w) for i, w in enumerate(weights)}
    scale = scale_function(spec.distance.scale)
    if scale is None:
        distance = pyabc.PNormDistance(p=spec.distance.p, fixed_weights=fixed)
    else:
        initial = None if scales is None else {f"{KEY}:{i}": float(w) for i, w in enumerate(scales)}
        distance = pyabc.AdaptivePNormDistance(
            p=spec.distance.p,
            initial_scale_weights=initial,
            fixed_weights=fixed,
            scale_function=scale,
            max_scale_weight_ratio=spec.distance.max_weight_ratio,
            all_particles_for_scale=True,  # Prangle (2017): scales of the whole sample
        )
    return pyabc.ABCSMC(
        models=problem.model(),
        parameter_priors=pyabc.Distribution(**priors),
        distance_function=distance,
        population_size=spec.population,
        transitions=pyabc.MultivariateNormalTransition(),
        eps=pyabc.QuantileEpsilon(alpha=spec.quantile),
        sampler=sampler,
    )


@contextlib.contextmanager
def quiet_pyabc() -> Iterator[None]:
    """Silence pyabc's INFO logging (our progress says what matters) for the block."""
    loggers = [logging.getLogger(n) for n in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Distance")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def batch_size(population: int, workers: int) -> int:
    """Return evaluations per task: small enough to waste little past the last acceptance."""
    return max(1, min(25, population // (8 * max(1, workers))))
