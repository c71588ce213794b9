"""Runs over a calibration's posterior: a fresh draw per replication, seeded by it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.errors import SimError
from sim.experiments.calibrate import calibrate
from sim.experiments.posterior import Posterior
from sim.results.seeding import replication_seed

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "data" / "poisson_oracle_calibration.yaml"
SCENARIO = str(HERE / "scenarios" / "poisson_oracle.yaml")


@pytest.fixture(scope="module")
def calibration(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("posterior")
    done = calibrate(
        str(ORACLE), out=str(out), name="c", population=40, stop={"generations": 2}, seed=3
    )
    return done.path


def test_each_replication_draws_its_own_particle_from_its_seed(calibration) -> None:
    posterior = Posterior.load(calibration)
    results = sim.run(SCENARIO, runs=120, seed=4, posterior=calibration)
    block = results.summary["posterior"]
    assert block["calibration"] == str(calibration.resolve())
    assert block["distinct_particles_drawn"] > 10
    picks = posterior.draws(4, 120)
    rates = posterior.values[picks, 0]
    # one move per event, so a run's moves count its rate's Poisson draw: the runs' mean is
    # the drawn rates' mean (4 standard errors), not the scenario's own 8 a year
    n = results.runs["n_moves"].to_numpy()
    assert abs(n.mean() - rates.mean()) < 4 * n.std() / np.sqrt(len(n))
    assert block["parameters"]["events.criticism.rate_per_year"]["mean"] == pytest.approx(
        rates.mean()
    )
    record = results.trace(7)
    assert len(record.moves) == n[7]
    assert posterior.draw(replication_seed(4, 7)) == picks[7]


def test_a_posterior_run_is_the_same_on_two_workers_and_resumes(calibration, tmp_path) -> None:
    one = sim.run(SCENARIO, runs=60, seed=2, posterior=calibration)
    two = sim.run(SCENARIO, runs=60, seed=2, posterior=calibration, workers=2, chunk_size=10)
    pd.testing.assert_frame_equal(one.runs, two.runs)

    def stop(done: int, planned: int) -> None:
        if done >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sim.run(SCENARIO, runs=60, seed=2, posterior=calibration, out=str(tmp_path),
                name="cut", chunk_size=10, callback=stop)  # fmt: skip
    from sim.experiments.ensemble import resume

    resumed = resume(tmp_path / "poisson_oracle" / "cut")
    pd.testing.assert_frame_equal(resumed.runs, one.runs)
    assert resumed.summary["posterior"] == one.summary["posterior"]


def test_compare_and_sweep_take_a_posterior(calibration) -> None:
    paired = sim.compare(
        SCENARIO, runs=30, seed=1, posterior=calibration,
        overrides=["actors.A.levers.criticise.goldstein=-3.0"],
    )  # fmt: skip
    assert paired.summary["posterior"]["particles"] == 40
    pd.testing.assert_series_equal(paired.base.runs["n_moves"], paired.variant.runs["n_moves"])
    from sim.experiments.sweep import sweep

    swept = sweep(
        SCENARIO, parameters={"actors.A.levers.criticise.goldstein": [-2.0, -4.0]}, runs=10,
        posterior=calibration, workers=1,
    )  # fmt: skip
    assert len(swept.points) == 2
    with pytest.raises(SimError, match="both swept"):
        sweep(SCENARIO, parameters={"events.criticism.rate_per_year": [1.0, 2.0]}, runs=5,
              posterior=calibration, workers=1)  # fmt: skip


def test_a_posterior_the_scenario_cannot_take_is_refused(calibration) -> None:
    with pytest.raises(SimError, match="cannot take the calibrated parameters"):
        sim.run(str(HERE / "scenarios" / "duel.yaml"), runs=5, posterior=calibration)
    with pytest.raises(SimError, match="not a calibration folder"):
        sim.run(SCENARIO, runs=5, posterior=HERE)


def test_the_cli_says_the_run_drew_from_the_posterior(calibration, capsys, tmp_path) -> None:
    from sim.cli import main

    code = main(["run", SCENARIO, "--runs", "20", "--posterior", str(calibration),
                 "--workers", "1", "--out", str(tmp_path), "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "Parameters drawn from the posterior of" in out
    from sim.scenario import load
    from sim.scenario.labels import parameter_label

    # Each parameter by label, with the path --set takes (issue 18, item 7).
    path = "events.criticism.rate_per_year"
    label = parameter_label(load(SCENARIO), path)
    assert label != path and f"{label} ({path}): mean" in " ".join(out.split())


# --- a scenario that names its posterior -----------------------------------------------------


def naming(tmp_path: Path, posterior: str, name: str = "oracle_calibrated") -> str:
    """Write a variant of the oracle scenario whose ``posterior`` names ``posterior``.

    The base is copied beside it: a base must lie in the variant's folder or the search path.
    """
    base = tmp_path / Path(SCENARIO).name
    if not base.exists():
        shutil.copyfile(SCENARIO, base)
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"extends: {base.stem}\nname: {name}\ntitle: the oracle over its posterior\n"
        f"posterior: {posterior}\n",
        encoding="utf-8",
    )
    return str(path)


def test_a_scenario_that_names_a_posterior_runs_over_it(calibration, tmp_path) -> None:
    variant = naming(tmp_path, str(calibration))
    own = sim.run(variant, runs=40, seed=4)
    given = sim.run(SCENARIO, runs=40, seed=4, posterior=calibration)
    pd.testing.assert_series_equal(own.runs["n_moves"], given.runs["n_moves"])
    assert own.summary["posterior"] == given.summary["posterior"]
    # naming a posterior makes another scenario (the golden files check that one that names
    # none hashes as before the field existed)
    assert sim.load(SCENARIO).content_hash() != sim.load(variant).content_hash()


def test_compare_pairs_a_scenario_with_its_calibrated_variant(calibration, tmp_path) -> None:
    variant = naming(tmp_path, str(calibration))
    paired = sim.compare(SCENARIO, variant, runs=40, seed=4)
    block = paired.summary["posterior"]
    assert block["arms"] == ["variant"] and block["other_arms"] == {}
    drawn = sim.run(SCENARIO, runs=40, seed=4, posterior=calibration)
    pd.testing.assert_series_equal(paired.variant.runs["n_moves"], drawn.runs["n_moves"])
    assert (paired.base.runs["n_moves"] == sim.run(SCENARIO, runs=40, seed=4).runs["n_moves"]).all()
    from sim.present.summary import posterior_text as render_block

    assert render_block(block).startswith("In the variant arm, parameters drawn")


def test_a_named_posterior_refuses_what_it_would_silently_replace(calibration, tmp_path) -> None:
    variant = naming(tmp_path, str(calibration))
    with pytest.raises(SimError, match=r"--set events.criticism.rate_per_year: drawn from"):
        sim.run(variant, runs=5, overrides=["events.criticism.rate_per_year=5"])
    from sim.experiments.sweep import sweep

    with pytest.raises(SimError, match="both swept"):
        sweep(variant, parameters={"events.criticism.rate_per_year": [1.0, 2.0]}, runs=5,
              workers=1)  # fmt: skip


def test_a_named_posterior_that_is_not_there_is_a_clear_error(tmp_path) -> None:
    variant = naming(tmp_path, "posteriors/no-such-calibration")
    with pytest.raises(SimError, match=r"oracle_calibrated: posterior: no calibration folder"):
        sim.run(variant, runs=5)


# --- the shipped calibrated variant ----------------------------------------------------------

CALIBRATED = "taiwan-flashpoint-2025-calibrated"


def test_the_calibrated_variant_runs_from_the_committed_files(capsys, tmp_path) -> None:
    """No calibration runs: the variant names the committed posterior folder, found on the
    scenario search path from any working directory, and the summary shows what it drew."""
    from sim.cli import main

    code = main(["run", CALIBRATED, "--runs", "12", "--seed", "1", "--workers", "1",
                 "--out", str(tmp_path), "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "Parameters drawn from the posterior of" in out
    assert "posteriors/taiwan-flashpoint-2025/nov7-25" in out
    for path in ("actors.CHN.policy.params.grievance", "relations.us_japan_treaty.offense_share"):
        assert f"({path}): mean" in out  # after its label
    package = [line for line in out.splitlines() if "params.package): mean" in line][0]
    assert package.endswith(tuple(f" .. {n}" for n in ("1", "2", "3")))  # drawn rounded


def test_the_shipped_posterior_belongs_to_the_scenario_as_it_stands() -> None:
    """A change to the named scenario's numbers, or to the calibration file, fails here until
    the posterior is remade (docs/calibration.md, section 7)."""
    from sim.experiments.calibrate import read_plan
    from sim.experiments.calibration_spec import (
        build_spec,
        find_calibration_file,
        read_calibration_file,
    )
    from sim.experiments.posterior import scenario_posterior
    from sim.scenario import compile_scenario
    from sim.scenario.schema import Scenario

    folder = scenario_posterior(sim.load(CALIBRATED))
    plan = read_plan(folder)
    stored = compile_scenario(Scenario.model_validate(plan["scenario_document"]))
    assert stored == compile_scenario(sim.load("taiwan-flashpoint-2025")), (
        "the shipped posterior was calibrated on another taiwan-flashpoint-2025: remake it with "
        "sim calibrate calibrations/taiwan-nov7-25 --workers 2 --out scenarios/posteriors "
        "--name nov7-25 --force"
    )
    shipped = build_spec(plan["spec"])
    current = read_calibration_file(find_calibration_file("calibrations/taiwan-nov7-25"))
    assert shipped.model_dump(exclude={"timeline"}) == current.model_dump(exclude={"timeline"})
    assert Path(shipped.timeline).name == Path(current.timeline).name
    posterior = Posterior.load(folder)
    assert posterior.paths == current.paths and len(posterior.weights) == current.population


def test_a_stopped_comparison_over_a_posterior_resumes_from_its_own_copy(
    calibration, tmp_path
) -> None:
    from test_compare import StoppingAfter

    from sim.experiments.compare import compare

    args = {"overrides": ["horizon_days=200"], "runs": 60, "seed": 5, "chunk_size": 10}
    whole = compare(SCENARIO, **args, posterior=calibration)
    moved = tmp_path / "calibration"
    shutil.copytree(calibration, moved)
    with pytest.raises(KeyboardInterrupt):
        compare(SCENARIO, **args, posterior=moved, out=tmp_path / "out", executor=StoppingAfter(3))
    shutil.rmtree(moved)  # gone: the comparison and its arm kept what they drew from
    (folder,) = (tmp_path / "out" / "compare").glob("*/*")
    resumed = compare(resume=folder)
    for arm in ("base", "variant"):
        pd.testing.assert_frame_equal(getattr(resumed, arm).runs, getattr(whole, arm).runs)
    assert resumed.summary["outcomes"] == whole.summary["outcomes"]
    assert resumed.summary["posterior"]["distinct_particles_drawn"] > 10


def test_a_comparison_with_a_bad_option_leaves_no_folder_and_a_resume_changes_nothing(
    calibration, tmp_path
) -> None:
    from test_compare import StoppingAfter

    from sim.experiments.compare import compare
    from sim.results import store

    args = {"overrides": ["horizon_days=200"], "runs": 20, "posterior": calibration}
    with pytest.raises(SimError, match="--workers must be 0"):
        compare(SCENARIO, **args, out=tmp_path, workers=-1)
    assert not any(tmp_path.iterdir())
    with pytest.raises(KeyboardInterrupt):
        compare(SCENARIO, **args, out=tmp_path, chunk_size=5, executor=StoppingAfter(2))
    (folder,) = (tmp_path / "compare").glob("*/*")
    (folder / "report.html").write_text("<p>10 of 20</p>")
    before = store.read_manifest(folder)
    with pytest.raises(SimError, match="--workers must be 0"):
        compare(resume=folder, workers=-1)
    assert store.read_manifest(folder) == before and (folder / "report.html").exists()
