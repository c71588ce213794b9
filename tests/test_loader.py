"""Loading scenarios: one test per kind of bad input, and what extends and --set promise.

Each bad input (a ``Bad`` case below) is loaded in process, where the error's message must
name the file, the line (where the mistake has one), the dotted field path and what was
expected; then given to the ``sim`` command's ``main``, which must print that very message
after ``sim: error:`` on stderr, print nothing on stdout, return 2 and, for ``sim run``,
write no results folder. One case of each kind of error also runs through a real
subprocess, checking the process's exit code and that no traceback reaches stderr (a
subprocess per case would cost a second each for no new information).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import sim
from sim.cli import main as cli_main
from sim.errors import SimError
from sim.scenario import compile_scenario
from sim.scenario.registry import list_scenarios

HERE = Path(__file__).resolve().parent
DUEL = (HERE / "scenarios" / "duel.yaml").read_text(encoding="utf-8")
NAME = "taiwan-flashpoint-2025"
VARIANT = "taiwan-flashpoint-2025-us-backs-japan"
NAMES = [e.name for e in list_scenarios()]


def edit(old: str, new: str, text: str = DUEL) -> str:
    """The fixture with the first ``old`` replaced by ``new`` (which must be there)."""
    assert old in text, f"the fixture no longer contains {old!r}"
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    """The 1-based line on which ``needle`` first appears in ``text``."""
    assert needle in text, needle
    return text[: text.index(needle)].count("\n") + 1


def with_attributes(flow: str) -> str:
    """The fixture with ``attributes: FLOW`` added to actor A."""
    return edit("review_every_days: 7", f"review_every_days: 7\n    attributes: {flow}")


def at(text: str, needle: str, dotted: str) -> str:
    """The start of a located message: '{file}:LINE: dotted.path: '."""
    return f"{{file}}:{line_of(text, needle)}: {dotted}: "


@dataclass(frozen=True)
class Bad:
    """A bad input: the files to write, what to load, and what the message must say.

    ``expect`` fragments may use ``{dir}`` (the case's folder) and ``{file}`` (the path
    of ``main.yaml`` in it). ``target`` is a file name in the folder or a scenario name.
    """

    kind: str
    files: dict[str, str]
    expect: tuple[str, ...]
    target: str = "main.yaml"
    sets: tuple[str, ...] = ()
    command: str = "validate"


def _cases() -> list[Bad]:
    t_yaml = edit("horizon_days: 60", "horizon_days: 60: 3")
    t_type = edit("military_rung: 3", "military_rung: three")
    t_type_nested = with_attributes("{resolve: high}")
    t_list = edit("targets: [B],", "targets: B,")
    t_key = edit("military_rung: 3", "military_rung: 3\nmilitary_rungs: 3")
    t_key_nested = with_attributes("{resolv: 0.5}")
    t_missing = edit("title: Two actors with fixed delays (test fixture)\n", "")
    t_missing_nested = edit('rung: 2, cameo: "130", ', "rung: 2, ")
    t_prob = with_attributes("{resolve: 1.5}")
    t_prob_rel = edit("share: 0.5", "share: -0.1")
    t_delay = edit(
        "delay: {dist: fixed, days: 0}\n    review", "delay: {dist: fixed, days: -1}\n    review"
    )
    t_perception = edit("{dist: fixed, days: 0}", "{dist: fixed, days: -0.5}")
    t_onset = edit(
        "delays: {duration_days: 3}, source: test}",
        "delays: {duration_days: 3, onset_days: -2}, source: test}",
    )
    t_decision = edit(
        "delays: {duration_days: 3}, source: test}",
        "delays: {decision: {dist: lognormal, median: -5}, duration_days: 3}, source: test}",
    )
    t_nan = edit("share: 0.5", "share: .nan")
    t_inf = edit("-2.0, targets: [B],", "-2.0, magnitude: .inf, targets: [B],")
    t_target = edit("targets: [B],", "targets: [C],")
    t_effect = edit("lever: call}", "lever: hug}")
    t_relation = edit("dependent: B", "dependent: Z")
    t_script = edit(
        "policy: {name: scripted}",
        "policy: {name: scripted, params: {moves: [{lever: nuke, target: B, day: 1}]}}",
    )
    t_script_target = edit(
        "policy: {name: scripted}",
        "policy: {name: scripted, params: {moves: [{lever: protest, target: Q, day: 1}]}}",
    )
    t_rung = edit('rung: 4, cameo: "190"', 'rung: 9, cameo: "190"')
    t_date = edit("date: 2025-02-01", "date: 2025-06-01")
    window = (
        "events:\n  - {kind: stochastic, id: drift, rate_per_year: 1, window_start: 2024-12-01,\n"
        "     effects: [{type: tension, dyad: [A, B], delta: 0.1}]}\n"
    )
    t_window = edit("events:\n", window)
    t_dup = edit("military_rung: 3", "military_rung: 3\nmilitary_rung: 2")
    t_dup_nested = edit("{id: protest, name: protest,", "{id: protest, id: shout, name: protest,")
    t_tag = edit(
        "title: Two actors with fixed delays (test fixture)",
        'title: !!python/object/apply:os.system ["touch {dir}/MARKER"]',
    )
    t_obj = edit(
        "title: Two actors with fixed delays (test fixture)",
        "title: !!python/object:builtins.dict {}",
    )
    t_deep = edit("effect: {economic: 1.0}", f"effect: {{economic: {'[' * 150}{']' * 150}}}")
    too_deep = "nested more than 100 levels deep (the scenario format needs under 10)"
    named = ", ".join(NAMES)
    return [
        Bad(
            "unknown-scenario-name",
            {},
            ("unknown scenario 'no-such-scenario'", named),
            target="no-such-scenario",
        ),
        Bad(
            "unknown-scenario-name-run",
            {},
            ("unknown scenario 'no-such-scenario'", named),
            target="no-such-scenario",
            command="run",
        ),
        Bad(
            "missing-scenario-file",
            {},
            ("{dir}/nope.yaml: no such scenario file",),
            target="nope.yaml",
        ),
        Bad(
            "invalid-yaml",
            {"main.yaml": t_yaml},
            (f"{{file}}:{line_of(t_yaml, 'horizon_days: 60: 3')}: invalid YAML: mapping values",),
        ),
        Bad(
            "invalid-yaml-tab",
            {"main.yaml": edit("military_rung: 3", "\tmilitary_rung: 3")},
            (f"{{file}}:{line_of(DUEL, 'military_rung: 3')}: invalid YAML:", "'\\t'"),
        ),
        Bad("not-utf8", {"main.yaml": "name: caf\udce9\n"}, ("{file}: not UTF-8 text",)),
        Bad(  # the 101st level is the 95th list in economic: the path is cut after 12 parts
            "too-deep",
            {"main.yaml": t_deep},
            (
                f"{{file}}:{line_of(t_deep, 'economic: [[[')}: "
                f"actors.A.levers.sanction.effect.economic.0.0.0.0.0.0...: {too_deep}",
            ),
        ),
        Bad(  # as text, the value would pass for a title: it is refused instead
            "too-deep-set",
            {"main.yaml": DUEL},
            (f"--set title={'[' * 40}... (300 characters): title{'.0' * 12}...: {too_deep}",),
            sets=(f"title={'[' * 150}{']' * 150}",),
        ),
        Bad(
            "wrong-type",
            {"main.yaml": t_type},
            (
                at(t_type, "military_rung: three", "military_rung")
                + "Input should be a valid integer",
                "(got 'three')",
            ),
        ),
        Bad(
            "wrong-type-nested",
            {"main.yaml": t_type_nested},
            (
                at(t_type_nested, "resolve: high", "actors.A.attributes.resolve")
                + "Input should be a valid number",
                "(got 'high')",
            ),
        ),
        Bad(
            "wrong-type-list",
            {"main.yaml": t_list},
            (
                at(t_list, "targets: B,", "actors.A.levers.protest.targets")
                + "Input should be a valid list",
            ),
        ),
        Bad(
            "unknown-key",
            {"main.yaml": t_key},
            (at(t_key, "military_rungs", "military_rungs") + "unknown field", "sim schema"),
        ),
        Bad(
            "unknown-key-nested",
            {"main.yaml": t_key_nested},
            (at(t_key_nested, "resolv: 0.5", "actors.A.attributes.resolv") + "unknown field",),
        ),
        Bad("missing-required", {"main.yaml": t_missing}, ("{file}: title: Field required",)),
        Bad(
            "missing-required-nested",
            {"main.yaml": t_missing_nested},
            (
                at(t_missing_nested, "{id: threaten", "actors.A.levers.threaten.cameo")
                + "Field required",
            ),
        ),
        Bad(
            "probability-above-one",
            {"main.yaml": t_prob},
            (
                at(t_prob, "resolve: 1.5", "actors.A.attributes.resolve")
                + "Input should be less than or equal to 1",
                "(got 1.5)",
            ),
        ),
        Bad(
            "probability-below-zero",
            {"main.yaml": t_prob_rel},
            (
                at(t_prob_rel, "share: -0.1", "relations.0.share")
                + "Input should be greater than or equal to 0",
                "(got -0.1)",
            ),
        ),
        Bad(
            "negative-response-delay",
            {"main.yaml": t_delay},
            (
                at(t_delay, "days: -1", "actors.A.response_delay.days")
                + "Input should be greater than or equal to 0",
                "(got -1)",
            ),
        ),
        Bad(
            "negative-perception-delay",
            {"main.yaml": t_perception},
            (
                at(t_perception, "days: -0.5", "dynamics.perception_delay.days")
                + "Input should be greater than or equal to 0",
            ),
        ),
        Bad(
            "negative-onset",
            {"main.yaml": t_onset},
            (
                at(t_onset, "onset_days: -2", "actors.A.levers.protest.delays.onset_days")
                + "Input should be greater than or equal to 0",
            ),
        ),
        Bad(
            "negative-decision-delay",
            {"main.yaml": t_decision},
            (
                at(t_decision, "median: -5", "actors.A.levers.protest.delays.decision.median")
                + "Input should be greater than or equal to 0",
            ),
        ),
        Bad(
            "nan",
            {"main.yaml": t_nan},
            (at(t_nan, "share: .nan", "relations.0.share") + "Input should be a finite number",),
        ),
        Bad(
            "inf",
            {"main.yaml": t_inf},
            (
                at(t_inf, "magnitude: .inf", "actors.A.levers.protest.magnitude")
                + "Input should be a finite number",
            ),
        ),
        Bad(
            "rung-not-on-ladder",
            {"main.yaml": t_rung},
            (
                at(t_rung, "rung: 9", "actors.A.levers.strike.rung")
                + "rung 9 is not on the ladder (0..4)",
            ),
        ),
        Bad(
            "unknown-lever-target",
            {"main.yaml": t_target},
            (
                at(t_target, "targets: [C]", "actors.A.levers.protest.targets.0")
                + "unknown actor 'C'; expected one of A, B",
            ),
        ),
        Bad(
            "unknown-event-lever",
            {"main.yaml": t_effect},
            (
                at(t_effect, "lever: hug", "events.summit.effects.0.lever")
                + "unknown lever of A 'hug'; expected one of call, protest, sanction, strike, "
                "threaten",
            ),
        ),
        Bad(
            "unknown-relation-actor",
            {"main.yaml": t_relation},
            (
                at(t_relation, "dependent: Z", "relations.0.dependent")
                + "unknown actor 'Z'; expected one of A, B",
            ),
        ),
        Bad(
            "unknown-scripted-lever",
            {"main.yaml": t_script},
            (
                at(t_script, "lever: nuke", "actors.A.policy.params.moves.0.lever")
                + "unknown lever 'nuke'; expected one of call, protest, sanction, strike, threaten",
            ),
        ),
        Bad(
            "unknown-scripted-target",
            {"main.yaml": t_script_target},
            (
                at(t_script_target, "target: Q", "actors.A.policy.params.moves.0.target")
                + "unknown actor 'Q'",
            ),
        ),
        Bad(
            "date-outside-horizon",
            {"main.yaml": t_date},
            (
                at(t_date, "date: 2025-06-01", "events.summit.date")
                + "2025-06-01 lies outside the horizon 2025-01-01 .. 2025-03-02",
            ),
        ),
        Bad(
            "window-outside-horizon",
            {"main.yaml": t_window},
            (
                at(t_window, "window_start: 2024", "events.drift.window_start")
                + "2024-12-01 lies outside the horizon",
            ),
        ),
        Bad(
            "duplicate-key",
            {"main.yaml": t_dup},
            (
                f"{{file}}:{line_of(t_dup, 'military_rung: 2')}: invalid YAML: "
                "duplicate key 'military_rung'",
            ),
        ),
        Bad(
            "duplicate-key-nested",
            {"main.yaml": t_dup_nested},
            (f"{{file}}:{line_of(t_dup_nested, 'id: shout')}: invalid YAML: duplicate key 'id'",),
        ),
        Bad(
            "python-tag",
            {"main.yaml": t_tag},
            (
                f"{{file}}:{line_of(t_tag, 'title: !!python')}: invalid YAML: tag not allowed",
                "python/object/apply:os.system",
                "plain YAML data",
            ),
        ),
        Bad(
            "python-object-tag",
            {"main.yaml": t_obj},
            (f"{{file}}:{line_of(t_obj, 'title: !!python')}: invalid YAML: tag not allowed",),
        ),
        Bad(
            "empty-file",
            {"main.yaml": ""},
            ("{file}:1: expected a mapping of scenario fields, found empty",),
        ),
        Bad(
            "comments-only",
            {"main.yaml": "# nothing but a comment\n"},
            ("{file}:1: expected a mapping of scenario fields, found empty",),
        ),
        Bad(
            "top-level-list",
            {"main.yaml": "- name: duel\n"},
            ("{file}:1: expected a mapping of scenario fields, found a list",),
        ),
        Bad(
            "set-unknown-field",
            {"main.yaml": DUEL},
            (
                "--set actors.A.attributes.resolv: 'resolv' is not a field of actors.A.attributes",
                "closest: resolve",
            ),
            sets=("actors.A.attributes.resolv=0.3",),
        ),
        Bad(
            "set-unknown-top-field",
            {"main.yaml": DUEL},
            ("--set horizon_day: 'horizon_day' is not a field of the scenario", "horizon_days"),
            sets=("horizon_day=30",),
        ),
        Bad(
            "set-unknown-actor",
            {},
            ("--set actors.CHX.attributes.resolve: no item 'CHX' in actors; closest: CHN",),
            target=NAME,
            sets=("actors.CHX.attributes.resolve=0.8",),
        ),
        Bad(
            "set-unknown-actor-run",
            {},
            ("no item 'CHX' in actors; closest: CHN",),
            target=NAME,
            sets=("actors.CHX.attributes.resolve=0.8",),
            command="run",
        ),
        Bad(
            "set-out-of-range",
            {"main.yaml": DUEL},
            (
                "--set actors.A.attributes.resolve=1.5: actors.A.attributes.resolve: "
                "Input should be less than or equal to 1",
            ),
            sets=("actors.A.attributes.resolve=1.5",),
        ),
        Bad(
            "set-nan",
            {"main.yaml": DUEL},
            (
                "--set actors.A.attributes.resolve=.nan: actors.A.attributes.resolve: "
                "Input should be a finite number",
            ),
            sets=("actors.A.attributes.resolve=.nan",),
        ),
        # A problem of the whole (the horizon) or of a part an override replaced names the
        # overrides, as typed: the file alone validates.
        Bad(
            "set-end-before-start",
            {"main.yaml": DUEL},
            (
                "main.yaml: (top level): Value error, the horizon must be",
                "(with --set horizon_days=null, end=2000-01-01)",
            ),
            sets=("horizon_days=null", "end=2000-01-01"),
        ),
        Bad(
            "set-actor-null",
            {"main.yaml": DUEL},
            ("Input should be a valid dictionary or instance of Actor (with --set actors.A=null)",),
            sets=("actors.A=null",),
        ),
        Bad(
            "set-without-value",
            {"main.yaml": DUEL},
            ("--set actors.A.attributes.resolve: expected dotted.path=value",),
            sets=("actors.A.attributes.resolve",),
        ),
        Bad(
            "set-index-out-of-range",
            {"main.yaml": DUEL},
            ("--set ladder.9.name: no item '9' in ladder; closest: 0, 1, 2, 3, 4",),
            sets=("ladder.9.name=grumble",),
        ),
        Bad(
            "extends-missing",
            {"main.yaml": "extends: no-such-base\nname: child\n"},
            ("{file}:1: extends: unknown scenario 'no-such-base'", named),
        ),
        Bad(
            "extends-cycle",
            {"main.yaml": "extends: other\nname: main\n", "other.yaml": "extends: main\nname: o\n"},
            ("{dir}/other.yaml: extends: a cycle", "main.yaml -> other.yaml -> main"),
        ),
        Bad(
            "extends-itself",
            {"main.yaml": "extends: main\nname: main\n"},
            ("{file}: extends: a cycle", "main.yaml -> main"),
        ),
        Bad(
            "extends-not-a-name",
            {"main.yaml": "name: x\nextends: [duel]\n"},
            ("{file}:2: extends: expected the name of a scenario",),
        ),
    ]


CASES = {case.kind: case for case in _cases()}


def _materialise(case: Bad, root: Path) -> tuple[Path, str, list[str]]:
    """Write a case's files; return its folder, what to load and the expected fragments."""
    folder = root / case.kind
    folder.mkdir()
    for name, text in case.files.items():
        (folder / name).write_text(
            text.replace("{dir}", str(folder)), encoding="utf-8", errors="surrogateescape"
        )
    target = str(folder / case.target) if case.target.endswith(".yaml") else case.target
    fragments = [
        f.replace("{file}", str(folder / "main.yaml")).replace("{dir}", str(folder))
        for f in case.expect
    ]
    return folder, target, fragments


def _cli_args(case: Bad, folder: Path, target: str) -> list[str]:
    sets = [arg for s in case.sets for arg in ("--set", s)]
    if case.command == "run":
        return ["run", target, "--runs", "2", "--out", str(folder / "results"), "--quiet", *sets]
    return [case.command, target, *sets]


# One case per way the command can fail (each kind of error, validate and run): these
# also go through a real subprocess, to check the process's own exit code and stderr.
IN_SUBPROCESS = (
    "unknown-scenario-name-run",  # UnknownScenario, from `sim run`
    "invalid-yaml",  # a YAML error
    "too-deep",  # nested past the limit, found before the composer recurses
    "unknown-event-lever",  # a reference problem found by validation
    "set-unknown-actor-run",  # a PathError, from `sim run` (which must then write nothing)
    "extends-cycle",  # a problem of the extends chain
)


@pytest.fixture(scope="module")
def subprocess_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """The cases of ``IN_SUBPROCESS`` through ``python -m sim.cli``, run side by side."""
    root = tmp_path_factory.mktemp("cli").resolve()

    def one(kind: str) -> tuple:
        folder, target, _ = _materialise(CASES[kind], root)
        done = subprocess.run(
            [sys.executable, "-m", "sim.cli", *_cli_args(CASES[kind], folder, target)],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done, folder

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(IN_SUBPROCESS, pool.map(one, IN_SUBPROCESS), strict=True))


def _message(case: Bad, root: Path) -> tuple[str, list[str], Path, str]:
    """Load a case in process; return its message, fragments, folder and what was loaded."""
    folder, target, fragments = _materialise(case, root)
    with pytest.raises(SimError) as err:
        sim.load(target, list(case.sets))
    return str(err.value), fragments, folder, target


@pytest.mark.parametrize("kind", list(CASES))
def test_bad_input(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The message names file, line, dotted path and expectation; ``sim`` exits with 2."""
    case = CASES[kind]
    message, fragments, folder, target = _message(case, tmp_path.resolve())
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert not (folder / "MARKER").exists(), "a YAML tag ran code"

    code = cli_main(_cli_args(case, folder, target))
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", f"sim: error: {message}\n")
    assert not (folder / "results").exists(), "a failed run left a results folder"


@pytest.mark.parametrize("kind", IN_SUBPROCESS)
def test_bad_input_in_a_subprocess(kind: str, subprocess_runs: dict, tmp_path: Path) -> None:
    """The process exits with 2 and prints the message alone: no traceback, no stdout."""
    done, folder = subprocess_runs[kind]
    expected, _, _, _ = _message(CASES[kind], tmp_path.resolve())
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    # The message names the folder of the case; put the subprocess's folder in its place.
    assert done.stderr == f"sim: error: {expected}\n".replace(
        str(tmp_path.resolve() / kind), str(folder)
    )
    assert not (folder / "results").exists(), "a failed run left a results folder"
    assert not (folder / "MARKER").exists(), "a YAML tag ran code"


# --- defects found and fixed: located errors for duplicates, params and --set mappings ----


def test_an_error_elsewhere_in_the_file_does_not_blame_an_unrelated_set(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text(DUEL + "bogus_field: 1\n")
    with pytest.raises(SimError, match="bogus_field: unknown field") as err:
        sim.load(str(path), ["actors.A.review_every_days=14"])
    assert "(with --set" not in str(err.value)


def test_duplicate_id_points_at_the_duplicate(tmp_path: Path) -> None:
    text = edit("  - id: B\n", "  - id: A\n")
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(SimError, match="duplicate actor id 'A'") as err:
        sim.load(str(path))
    second = text.index("  - id: A\n", text.index("  - id: A\n") + 1)
    assert str(err.value).startswith(f"{path}:{text[:second].count(chr(10)) + 1}: ")


def test_nan_in_policy_params_gives_one_clean_message(tmp_path: Path) -> None:
    text = edit("policy: {name: scripted}", "policy: {name: logit, params: {rationality: .nan}}")
    path = tmp_path / "nan.yaml"
    path.write_text(text)
    with pytest.raises(SimError) as err:
        sim.load(str(path))
    line = line_of(text, "params: {rationality")
    assert str(err.value).startswith(f"{path}:{line}: actors.A.policy.params.rationality: ")
    assert "\n" not in str(err.value)


def test_a_mistake_inside_a_set_mapping_is_blamed_on_the_set(duel_path: Path) -> None:
    with pytest.raises(SimError) as err:
        sim.load(str(duel_path), ["actors.A.attributes={resolve: 2}"])
    assert str(err.value).startswith("--set actors.A.attributes=")
    assert "actors.A.attributes.resolve: Input should be less than or equal to 1" in str(err.value)


def test_nan_in_policy_params_is_rejected_where_it_is(tmp_path: Path) -> None:
    text = edit("policy: {name: scripted}", "policy: {name: logit, params: {rationality: .inf}}")
    path = tmp_path / "inf.yaml"
    path.write_text(text)
    with pytest.raises(SimError) as err:
        sim.load(str(path))
    line = line_of(text, "params: {rationality")
    assert f"{path}:{line}: actors.A.policy.params.rationality" in str(err.value)
    assert "finite number" in str(err.value)


# --- extends ------------------------------------------------------------------------------


def test_variant_changes_only_what_it_says() -> None:
    base, variant = sim.load(NAME), sim.load(VARIANT)
    assert variant.name == VARIANT and base.name == NAME
    assert len(variant.relations) == len(base.relations)
    for ours, theirs in zip(variant.relations, base.relations, strict=True):
        if getattr(ours, "id", None) == "us_japan_treaty":
            assert (theirs.public_backing, ours.public_backing) == (0.0, 1.0)
            assert ours.model_copy(update={"public_backing": 0.0}) == theirs
        else:  # the dependence relations have no id and must survive the merge untouched
            assert ours == theirs
    kinds = [r.kind for r in base.relations]
    assert kinds.count("dependence") > 0 and [r.kind for r in variant.relations] == kinds
    skip = {"name", "title", "description", "relations"}
    same = {k: v for k, v in variant.model_dump().items() if k not in skip}
    assert same == {k: v for k, v in base.model_dump().items() if k not in skip}
    assert variant.content_hash() != base.content_hash()


def test_extends_merges_id_lists_by_id_and_replaces_other_lists(tmp_path: Path) -> None:
    (tmp_path / "duel.yaml").write_text(DUEL)
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: duel\n"
        "name: child\n"
        "ladder: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}]\n"
        "actors:\n"
        "  - id: A\n"
        "    attributes: {resolve: 0.9}\n"
        "    levers:\n"
        "      - {id: protest, rung: 2}\n"
        "      - {id: shout, name: shout, rung: 1, cameo: '111', goldstein: -2.0, targets: [B]}\n"
    )
    base, merged = sim.load(str(tmp_path / "duel.yaml")), sim.load(str(child))
    assert [r.name for r in merged.ladder] == list("abcde")  # no ids: replaced whole
    a_base, a = base.actor("A"), merged.actor("A")
    assert a.attributes.resolve == 0.9
    assert a.attributes.risk_tolerance == a_base.attributes.risk_tolerance
    assert [lv.id for lv in a.levers] == [*(lv.id for lv in a_base.levers), "shout"]
    protest = a.levers[0]
    assert protest.rung == 2 and protest.cameo == a_base.levers[0].cameo  # merged key by key
    assert protest.delays == a_base.levers[0].delays
    assert a.levers[1:-1] == a_base.levers[1:]
    assert merged.actor("B") == base.actor("B") and merged.events == base.events


def test_errors_point_into_the_file_that_holds_the_mistake(tmp_path: Path) -> None:
    """A mistake inherited from a base is located in the base, one in the child in the child."""
    (tmp_path / "base.yaml").write_text(edit("share: 0.5", "share: 2.5"))
    child = tmp_path / "child.yaml"
    child.write_text("extends: base\nname: child\n")
    with pytest.raises(SimError) as err:
        sim.load(str(child))
    line = line_of(DUEL, "share: 0.5")
    assert str(err.value).startswith(f"{tmp_path / 'base.yaml'}:{line}: relations.0.share: ")

    (tmp_path / "base.yaml").write_text(DUEL)
    child.write_text("extends: base\nname: child\nactors:\n  - id: B\n    review_every_days: -3\n")
    with pytest.raises(SimError) as err:
        sim.load(str(child))
    assert str(err.value).startswith(f"{child}:5: actors.B.review_every_days: ")


# --- --set ------------------------------------------------------------------------------


def test_set_values_are_typed(duel_path: Path) -> None:
    scenario = sim.load(
        str(duel_path),
        [
            "actors.A.attributes.resolve=0.25",
            "horizon_days=30",
            "start=2025-01-02",
            "events.summit.date=2025-01-21",
            "actors.A.levers.call.choosable=false",
            "description=a test",
        ],
    )
    resolve = scenario.actor("A").attributes.resolve
    assert resolve == 0.25 and isinstance(resolve, float)
    assert scenario.horizon_days == 30 and isinstance(scenario.horizon_days, int)
    assert scenario.start == dt.date(2025, 1, 2)
    assert scenario.events[0].date == dt.date(2025, 1, 21)
    assert scenario.actor("A").levers[-1].choosable is False
    assert scenario.description == "a test"
    spec = compile_scenario(scenario)
    assert spec.days == 30 and spec.events[0].day == 19.0


def test_set_accepts_a_mapping_of_python_values(duel_path: Path) -> None:
    policy = {"name": "reciprocal", "params": {"noise": 0.0, "step": 1}}
    scenario = sim.load(
        str(duel_path), {"actors.B.policy": policy, "actors.B.attributes.resolve": 0.75}
    )
    assert scenario.actor("B").policy.name == "reciprocal"
    assert scenario.actor("B").policy.params == {"noise": 0.0, "step": 1}
    assert scenario.actor("B").attributes.resolve == 0.75
    assert scenario.content_hash() != sim.load(str(duel_path)).content_hash()


def test_set_with_list_indices(duel_path: Path) -> None:
    scenario = sim.load(
        str(duel_path),
        ["ladder.1.name=grumble", "actors.1.review_every_days=3", "relations.0.share=0.25"],
    )
    assert [r.name for r in scenario.ladder][:3] == ["calm", "grumble", "threat"]
    assert scenario.actor("B").review_every_days == 3.0
    assert scenario.actor("A").review_every_days == 7.0
    assert scenario.relations[0].share == 0.25


def test_set_on_the_command_line(duel_path: Path, cli, tmp_path: Path) -> None:
    done = cli(
        "validate",
        str(duel_path),
        "--set",
        "ladder.1.name=grumble",
        "--set",
        "horizon_days=40",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "ladder: 5 rungs (calm, grumble, threat, sanction, force)" in done.stdout
    assert "horizon: 2025-01-01 to 2025-02-10 (40 days)" in done.stdout


def test_unknown_scenario_names_every_named_scenario() -> None:
    assert {NAME, VARIANT, "taiwan-flashpoint-2025-lai-transit"} <= set(NAMES)
    with pytest.raises(SimError) as err:
        sim.load("taiwan-flashpoint-2052")
    assert all(name in str(err.value) for name in NAMES)


def test_set_reaches_into_policy_params_and_keeps_text_fields_text(duel_path: Path) -> None:
    scenario = sim.load(
        str(duel_path),
        [
            "actors.A.policy.params={moves: [{lever: protest, target: B, day: 1}]}",
            "actors.A.policy.params.moves.0.day=5",
            "title=1984",
        ],
    )
    assert scenario.actor("A").policy.params["moves"][0]["day"] == 5
    assert scenario.title == "1984"
