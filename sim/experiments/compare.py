"""Comparisons with common random numbers: a base and a variant run on the same seeds.

Both arms run through the ensemble's runner with one executor, replication ``i`` of both on
the same seed; the paired statistics are :mod:`sim.analysis.paired`'s (see ``docs/crn.md``).
With a results root the comparison goes to ``out/compare/<base>--<variant>/<id>/``, each arm
a complete results folder in its ``base/`` and ``variant/`` subfolder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sim.analysis.paired import comparison_summary
from sim.errors import UsageError
from sim.experiments.ensemble import DEFAULT_CHUNK, Results, resolve_scenario, run_compiled
from sim.experiments.executors import Executor
from sim.experiments.options import RunOptions, choose_executor, entered, override_texts
from sim.experiments.stops import signals_outside_compiled_code, stop_status
from sim.results import store
from sim.results.files import ARMS, FORMAT_VERSION, MANIFEST, POSTERIOR, SUMMARY
from sim.results.manifest import build_manifest, now
from sim.results.seeding import check_seed


@dataclass
class Comparison:
    """A paired comparison: its summary, the two arms' results, and its folder if any."""

    summary: dict[str, Any]
    base: Results
    variant: Results
    path: Path | None = None

    def table(self) -> str:
        """Return the comparison as plain-text tables (:mod:`sim.present.comparison`)."""
        from sim.present.comparison import render_comparison

        return render_comparison(self.summary)


def compare(
    base: Any = None,
    variant: Any = None,
    runs: int | None = None,
    seed: int | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
    *,
    overrides: list[str] | Mapping[str, Any] | None = None,
    workers: int | None = None,
    executor: Executor | str | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    command: str | None = None,
    name: str | None = None,
    force: bool = False,
    posterior: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
) -> Comparison:
    """Run ``base`` and ``variant`` on common random numbers and compare them pairwise.

    Args:
        base: a Scenario, or the name or path of one.
        variant: another scenario; None means ``base`` again, changed by ``overrides``.
        runs: replications per arm (default 1000).
        seed: the root seed shared by both arms (default 0).
        out: a results root; the comparison goes to ``out/compare/<base>--<variant>/<id>/``
            with the two arms in its ``base/`` and ``variant/`` subfolders. None: in memory.
        progress: show a progress bar per arm on stderr.
        overrides: ``--set`` style overrides, applied to the variant only.
        posterior: a calibration folder: replication ``i`` of both arms draws the same
            particle of its posterior (see :mod:`sim.experiments.posterior`). None: an arm
            whose scenario names a posterior draws from it, the other runs as written.
        workers: local worker processes, as for :func:`sim.run`.
        executor: 'processes', 'dask' or an executor object, as for :func:`sim.run`.
        scheduler: a Dask scheduler address, as for :func:`sim.run`.
        chunk_size: replications per chunk (default 25, or the folder's on resume).
        command: the command line to record in the manifest.
        name: write to ``out/compare/<base>--<variant>/<name>/`` instead of a fresh folder;
            a folder of that name is refused unless ``force``.
        force: replace an existing results folder ``name`` (deleted as the comparison
            starts).
        resume: a comparison folder that stopped: its arms are finished (a complete arm is
            kept, an unfinished one resumed, a missing one run) and the comparison written,
            as if it had never stopped. Both scenarios, the runs, the seed, the overrides
            and the posterior come from the folder: give none of them.
    """
    options = RunOptions(out=out, name=name, force=force, progress=progress, executor=executor,
                         workers=workers, scheduler=scheduler, chunk_size=chunk_size,
                         command=command)  # fmt: skip
    if resume is not None:
        given = {"base": base, "variant": variant, "runs": runs, "seed": seed, "out": out,
                 "overrides": overrides, "posterior": posterior, "name": name,
                 "chunk_size": chunk_size}  # fmt: skip
        named = [key for key, value in given.items() if value not in (None, [], {})]
        if named or force:
            raise UsageError(
                "resume takes both scenarios, the runs, the seed, the overrides, the posterior "
                f"and the chunk size from the folder: give no {', '.join(named or ['force'])}"
            )
        return _resume(Path(resume), options)
    if base is None:
        raise UsageError("give a base scenario (NAME or PATH), or --resume DIR (resume=DIR)")
    options.check_destination()
    runs, seed = 1000 if runs is None else runs, 0 if seed is None else seed
    options = replace(options, chunk_size=chunk_size or DEFAULT_CHUNK)
    pair = Pair.resolve(base, variant, overrides, runs, seed)
    pair.prepare(posterior)
    chosen = choose_executor(options, runs, options.chunk_size or DEFAULT_CHUNK)  # before a folder
    path = pair.folder(options)
    arm_options = replace(options, finish_with=f"sim compare --resume {path}") if path else options

    def new_arm(arm: str) -> Results:
        return pair.run_arm(arm, arm_options, chosen, path)

    return _run_arms(pair, options, chosen, path, new_arm)


def _run_arms(
    pair: Pair,
    options: RunOptions,
    chosen: Executor,
    path: Path | None,
    arm_results: Callable[[str], Results],
    on_start: Callable[[], None] = lambda: None,
) -> Comparison:
    """Get both arms' results on ``chosen`` and write the comparison; keep it if it stops.

    ``on_start`` runs once the executor has started (a resume marks its folder then): an
    executor that cannot start (a cluster out of reach) leaves a resumed folder as it was.
    """
    started = False
    try:
        with entered(chosen), signals_outside_compiled_code():  # between the arms too
            on_start()
            started = True
            arms = [arm_results(arm) for arm in ARMS]
        summary = store.jsonable(pair.summary(arms))
        if path is not None:
            store.write_json(path / SUMMARY, summary)
            pair.write_manifest(path, options, "complete", None)
    except BaseException as exc:
        if path is not None and (started or pair.fresh):
            _keep_or_remove(pair, path, options, exc)
        raise
    return Comparison(summary, arms[0], arms[1], path)


def _keep_or_remove(pair: Pair, path: Path, options: RunOptions, exc: BaseException) -> None:
    """Record a comparison stopped by ``exc`` as incomplete, or remove it if it holds nothing.

    An arm that never started removes its own folder (see the runner); a comparison left
    without either arm's folder holds no result and cannot be resumed, so it goes too
    (issue 18, item 7) and the error says so.
    """
    if pair.fresh and not any((path / arm).exists() for arm in ARMS):
        shutil.rmtree(path, ignore_errors=True)
        exc.add_note(f"nothing was run, so no comparison folder was kept ({path} removed)")
        return
    pair.write_manifest(path, options, *stop_status(exc))
    finish = f"sim compare --resume {path}"
    told = " ".join([str(exc), *getattr(exc, "__notes__", [])])
    again = finish in told or isinstance(exc, UsageError)  # the same command would fail so
    exc.add_note(
        f"the comparison in {path} is incomplete" + ("" if again else f"; finish it with: {finish}")
    )


# --- resuming -------------------------------------------------------------------------------


def _resume(path: Path, options: RunOptions) -> Comparison:
    """Finish the comparison in ``path``: keep a complete arm, resume or run the others.

    Nothing in the folder changes until the executor is chosen: a bad option leaves it as
    it was (its status, its figures).
    """
    manifest = _unfinished_comparison(path)
    base = path / ARMS[0]
    ran = store.read_manifest(base) if (base / MANIFEST).is_file() else {}
    pair = Pair.stored(path, manifest, ran.get("code_fingerprint"))
    pair.prepare_resumed(path, _stored_posterior(path, manifest, pair))
    # A missing arm is cut into chunks as the base arm was (the results do not depend on it).
    options = replace(options, chunk_size=int(ran.get("chunk_size") or DEFAULT_CHUNK))
    chosen = choose_executor(options, pair.runs, options.chunk_size or DEFAULT_CHUNK)
    for arm in ARMS:
        pair.check_arm(path / arm)
    arm_options = replace(options, finish_with=f"sim compare --resume {path}")

    def mark_running() -> None:
        store.drop_drawings(path)  # the comparison's own (a resumed arm drops its own)
        pair.write_manifest(path, options, "running", None)

    def finished_arm(arm: str) -> Results:
        return pair.finish_arm(arm, arm_options, chosen, path)

    return _run_arms(pair, options, chosen, path, finished_arm, mark_running)


def _unfinished_comparison(path: Path) -> dict[str, Any]:
    """Return the manifest of a comparison folder that can be resumed, or raise why not."""
    if not (path / MANIFEST).is_file():
        raise UsageError(f"{path}: not a results folder (no {MANIFEST})")
    manifest = store.read_manifest(path)
    if manifest.get("kind") != "comparison":
        raise UsageError(
            f"{path}: not a comparison folder ({manifest.get('kind') or 'a run'}): resume it "
            "with its own command (sim run --resume, sim sweep --resume, ...)"
        )
    arms = manifest.get("arms")
    complete = isinstance(arms, dict) and all(
        isinstance(arms.get(a), dict) and {"parameters", "hash"} <= set(arms[a]) for a in ARMS
    )
    if (
        manifest.get("format_version") != FORMAT_VERSION
        or not complete
        or "started" not in manifest
    ):
        raise UsageError(f"{path}: written by another version of sim, or damaged; it cannot be "
                         "resumed: run the comparison again")  # fmt: skip
    if manifest.get("status") == "complete":
        raise UsageError(f"{path}: this comparison is already complete")
    if manifest.get("status") == "running" and store.being_written(path, manifest.get("process")):
        raise UsageError(f"{path}: this comparison is still running")
    return manifest


def _stored_posterior(path: Path, manifest: Mapping[str, Any], pair: Pair) -> Any:
    """Return the posterior both arms drew from (``--posterior``), None if they drew none.

    The manifest names it and the folder keeps a copy (written before the manifest); in an
    older folder, a posterior that the base arm drew and its scenario does not name was
    the comparison's.
    """
    from sim.experiments.posterior import kept, scenario_posterior

    if "posterior" in manifest:
        drawn = kept(path)
        if manifest["posterior"] is not None and drawn is None:
            raise UsageError(f"{path}: its {POSTERIOR} (the posterior both arms draw from) is "
                             "missing; it cannot be resumed: run the comparison again")  # fmt: skip
        return drawn
    if scenario_posterior(pair.scenarios[0]) is None:
        return kept(path / ARMS[0])
    return None


@dataclass
class Pair:
    """What a comparison runs: two validated scenarios, their specs, seed and length."""

    scenarios: tuple[Any, Any]
    overrides: Any
    runs: int
    seed: int
    started: dt.datetime
    #: A new comparison (its folder goes if nothing ran); False for one being resumed.
    fresh: bool = True

    @classmethod
    def resolve(cls, base: Any, variant: Any, overrides: Any, runs: int, seed: int) -> Pair:
        """Load both scenarios and check what a comparison needs of them."""
        base_s = resolve_scenario(base, None)
        variant_s = resolve_scenario(base if variant is None else variant, overrides)
        if variant_s.content_hash() == base_s.content_hash():
            raise UsageError(
                "the variant is the same scenario as the base: give a second scenario, "
                "or --set overrides for the variant"
            )
        if runs < 2:
            raise UsageError(f"a comparison needs at least 2 runs per arm, got {runs}")
        try:
            seed = check_seed(seed)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return cls((base_s, variant_s), overrides, runs, seed, now())

    @classmethod
    def stored(cls, path: Path, manifest: Mapping[str, Any], fingerprint: str | None) -> Pair:
        """Rebuild the pair a comparison folder's manifest records (both scenarios in full).

        Refused if the code that makes results changed since the base arm ran (its
        ``fingerprint``): a variant run now would not be paired with it.
        """
        from sim.experiments.resuming import recorded_scenario

        arms = manifest["arms"]
        scenarios = tuple(
            recorded_scenario(path, {"parameters": arms[arm]["parameters"],
                                     "content_hash": arms[arm]["hash"],
                                     "code_fingerprint": fingerprint})
            for arm in ARMS
        )  # fmt: skip
        started = dt.datetime.fromisoformat(str(manifest["started"]))
        overrides = arms["variant"].get("overrides") or None
        # The variant's outputs name its --set changes, as a fresh comparison's do.
        scenarios[1]._overrides = list(overrides or [])
        runs, seed = int(manifest["runs"]), int(manifest["seed"])
        return cls(scenarios, overrides, runs, seed, started, fresh=False)

    def prepare(self, posterior: Any) -> None:
        """Compile both arms and make their engines (each over the posterior, if any)."""
        from sim.experiments.posterior import as_posterior, override_paths, posterior_engine
        from sim.scenario import compile_scenario

        self.specs = tuple(compile_scenario(s) for s in self.scenarios)
        self.drawn = None if posterior is None else as_posterior(posterior)
        fixed = ((), override_paths(self.overrides))  # the overrides apply to the variant only
        self.engines = tuple(
            posterior_engine(self.drawn, s, f) for s, f in zip(self.scenarios, fixed, strict=True)
        )

    def prepare_resumed(self, path: Path, drawn: Any) -> None:
        """Compile both arms; an arm in the folder draws from the posterior it kept.

        A missing arm draws as a new comparison would: from ``drawn``, else from the
        posterior its scenario names, if any.
        """
        from sim.experiments.posterior import kept, override_paths, posterior_engine
        from sim.scenario import compile_scenario

        self.specs = tuple(compile_scenario(s) for s in self.scenarios)
        self.drawn = drawn
        fixed = ((), override_paths(self.overrides))
        engines = []
        for arm, scenario, paths in zip(ARMS, self.scenarios, fixed, strict=True):
            if (path / arm / MANIFEST).is_file():
                saved = kept(path / arm)
                engines.append(None if saved is None else posterior_engine(saved, scenario))
            else:
                engines.append(posterior_engine(drawn, scenario, paths))
        self.engines = tuple(engines)

    def folder(self, options: RunOptions) -> Path | None:
        """Create the comparison's folder and write its 'running' manifest (None: in memory)."""
        if options.out is None:
            return None
        parent = Path(options.out) / "compare"
        arms = f"{self.scenarios[0].name}--{self.scenarios[1].name}"
        path = store.create_run_dir(
            parent, arms, self.started, name=options.name, force=options.force
        )
        if self.drawn is not None:  # before the manifest that names it: a resume draws the same
            store.write_json(path / POSTERIOR, self.drawn.to_json())
        self.write_manifest(path, options, "running", None)
        return path

    def run_arm(self, arm: str, options: RunOptions, executor: Any, path: Path | None) -> Results:
        """Run one arm, into its subfolder of the comparison's folder (or in memory)."""
        i = ARMS.index(arm)
        return run_compiled(
            self.scenarios[i], self.specs[i], self.runs, self.seed, options,
            executor=executor, engine=self.engines[i],
            folder=None if path is None else path / arm,
        )  # fmt: skip

    def finish_arm(self, arm: str, options: RunOptions, executor: Any, path: Path) -> Results:
        """Return a resumed comparison's arm: kept if complete, else resumed, or run anew."""
        from sim.experiments.ensemble import resume_with

        folder, i = path / arm, ARMS.index(arm)
        if not (folder / MANIFEST).is_file():
            with contextlib.suppress(FileNotFoundError):
                folder.rmdir()  # made by an attempt killed before it wrote anything
            return self.run_arm(arm, options, executor, path)
        if store.read_manifest(folder).get("status") != "complete":
            return resume_with(folder, replace(options, executor=executor, workers=None,
                                               scheduler=None), self.engines[i])  # fmt: skip
        summary = store.read_summary(folder)
        return Results(self.specs[i], self.seed, summary, folder, engine=self.engines[i])

    @staticmethod
    def check_arm(folder: Path) -> None:
        """Raise, before a resume changes anything, if an arm's folder cannot be finished."""
        if not (folder / MANIFEST).is_file():
            if folder.is_dir() and any(folder.iterdir()):
                raise UsageError(
                    f"{folder}: holds files but no {MANIFEST}, so it is no arm to finish: "
                    "run the comparison again"
                )
            return
        manifest = store.read_manifest(folder)
        if manifest.get("status") == "complete" and not (folder / SUMMARY).is_file():
            raise UsageError(f"{folder}: a complete arm without its {SUMMARY}: run it again")
        if manifest.get("status") == "running" and store.being_written(
            folder, manifest.get("process")
        ):
            raise UsageError(f"{folder}: this arm is still running ({manifest['process']})")

    def arm(self, name: str) -> dict[str, Any]:
        """Return the description of one arm."""
        scenario = self.scenarios[ARMS.index(name)]
        out = {"scenario": scenario.name, "title": scenario.title, "hash": scenario.content_hash()}
        if name == "variant" and self.overrides:
            out["overrides"] = override_texts(self.overrides)
        return out

    def summary(self, arms: list[Results]) -> dict[str, Any]:
        """Return the comparison's summary from the two arms' results."""
        summary = comparison_summary(
            self.specs,
            [a.columns() for a in arms],
            arms={name: self.arm(name) for name in ARMS},
            seed=self.seed,
            replications=self.runs,
            failures={n: a.summary["failures"]["count"] for n, a in zip(ARMS, arms, strict=True)},
        )
        from sim.experiments.posterior import arms_block

        own = [(a, e.posterior) for a, e in zip(ARMS, self.engines, strict=True) if e is not None]
        if self.drawn is not None:
            summary["posterior"] = self.drawn.summary_block(self.seed, self.runs)
        elif own:  # arms whose scenarios name their own posterior
            summary["posterior"] = arms_block(own, self.seed, self.runs)
        return summary

    def write_manifest(
        self, path: Path, options: RunOptions, status: str, error: str | None
    ) -> None:
        """Write the comparison's manifest: both scenarios, in full, and how it ended."""
        head = {
            "format_version": FORMAT_VERSION,
            "kind": "comparison",
            "method": "common random numbers",
            "seed": self.seed,
            "runs": self.runs,
            "posterior": None if self.drawn is None else self.drawn.source,
        }
        arms = {
            name: {**self.arm(name), "folder": name, "parameters": s.model_dump(mode="json")}
            for name, s in zip(ARMS, self.scenarios, strict=True)
        }
        manifest = build_manifest(
            head, status=status, error=error, command=options.command, started=self.started,
            finished=None if status == "running" else now(),
            tail={"arms": arms, "files": {"summary": SUMMARY},
                  "process": store.this_process(status == "running")},
        )  # fmt: skip
        store.write_json(path / MANIFEST, manifest)
