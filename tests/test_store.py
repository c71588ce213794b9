"""Ensembles and the results store, on a toy engine: files, determinism, order, interruption."""

import datetime as dt
import json
import math
import os
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.engine.record import MoveRecord, RunRecord
from sim.experiments import store
from sim.experiments.ensemble import Chunk, run_spec
from sim.experiments.seeding import replication_seed

RUNGS = ("calm", "friction", "sanctions", "military signalling", "clash")
ACTORS = ("cn", "jp", "us")
DAYS = 30


def toy_spec() -> SimpleNamespace:
    return SimpleNamespace(
        name="toy",
        title="A toy scenario",
        start=dt.date(2025, 11, 7),
        days=DAYS,
        actor_ids=ACTORS,
        actor_names={"cn": "China", "jp": "Japan", "us": "United States"},
        dyads=((0, 1), (0, 2), (1, 2)),
        dyad_ids=(("cn", "jp"), ("cn", "us"), ("jp", "us")),
        rung_names=RUNGS,
        outcome_ids=("calm", "rivalry", "crisis", "war"),
        outcome_labels={"calm": "Calm", "rivalry": "Rivalry", "crisis": "Crisis", "war": "War"},
        watch_rung=3,
        cost_unit="cost units",
        levers=(
            SimpleNamespace(actor=0, id="seafood_ban", name="seafood import ban"),
            SimpleNamespace(actor=1, id="protest", name="protest"),
        ),
    )


class ToyScenario:
    name = "toy"
    title = "A toy scenario"

    def content_hash(self) -> str:
        return "0123456789abcdef"

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {"name": self.name, "horizon_days": DAYS, "nan_is_null": math.nan}


def toy_engine(spec: Any, seed: np.random.SeedSequence) -> RunRecord:
    """A random walk on the ladder per dyad; the run ends early on reaching the top rung."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1, 0, 0, 1], size=(3, DAYS))
    rungs = np.zeros((3, DAYS + 1), dtype=np.int8)
    rungs[:, 1:] = np.clip(np.cumsum(steps, axis=1), 0, 4)
    overall = rungs.max(axis=0)
    top = np.flatnonzero(overall == 4)
    end = int(top[0]) if top.size else DAYS
    rungs[:, end:] = rungs[:, end : end + 1]  # Frozen once the run ends.
    overall = rungs.max(axis=0)
    firsts = np.array(
        [np.flatnonzero(overall >= k)[0] if (overall >= k).any() else np.nan for k in range(5)],
        float,
    )
    peak = int(overall.max())
    moves = [
        MoveRecord(float(d), "cn", "jp", "seafood_ban", 2, "163", -8.0, 1.0, "escalate", "policy")
        for d in np.sort(rng.uniform(0, end, rng.integers(0, 4)))
    ] + [MoveRecord(0.0, "jp", "cn", "protest", 1, "111", -2.0, 1.0, "escalate", "event:statement")]
    outcome = "calm" if peak == 0 else "rivalry" if peak < 3 else "crisis"
    return RunRecord(
        outcome=outcome,
        peak_rung=peak,
        peak_day=float(np.argmax(overall)),
        final_rung=int(overall[end]),
        end_day=float(end),
        ended_early=end < DAYS,
        costs={"cn": float(rng.gamma(2.0)), "jp": 0.5, "us": 0.0},
        moves=sorted(moves, key=lambda m: m.day),
        dyads=spec.dyad_ids,
        dyad_rungs=rungs,
        first_day_at_rung=firsts,
        events_scheduled=int(rng.integers(50, 100)),
    )


def go(tmp: Path | None, runs: int = 40, seed: int = 1, **kw: Any) -> Any:
    return run_spec(
        ToyScenario(), toy_spec(), runs, seed, tmp, engine=toy_engine, command="test", **kw
    )


class ShuffledExecutor:
    """Runs every chunk, then yields the results in a random order."""

    def map(
        self, fn: Callable[[Sequence[int]], Chunk], chunks: Iterable[Sequence[int]]
    ) -> Iterator[Chunk]:
        done = [fn(c) for c in chunks]
        random.Random(0).shuffle(done)
        yield from done


class DyingExecutor:
    """Yields ``survive`` chunks, then raises as Ctrl-C would."""

    def __init__(self, survive: int, exc: BaseException) -> None:
        self.survive, self.exc = survive, exc

    def map(
        self, fn: Callable[[Sequence[int]], Chunk], chunks: Iterable[Sequence[int]]
    ) -> Iterator[Chunk]:
        for i, chunk in enumerate(chunks):
            if i == self.survive:
                raise self.exc
            yield fn(chunk)


# --- JSON and atomic writes ---------------------------------------------------------------


def test_json_text_writes_nan_as_null_and_numpy_as_python() -> None:
    obj = {"a": math.nan, "b": [np.float64(1.5), np.int8(3), math.inf], "c": dt.date(2025, 1, 2)}
    assert json.loads(store.json_text(obj)) == {"a": None, "b": [1.5, 3, None], "c": "2025-01-02"}


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    with pytest.raises(RuntimeError), store.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_run_folders_are_unique_and_never_reused(tmp_path: Path) -> None:
    now = dt.datetime(2025, 11, 7, 12, 0, tzinfo=dt.UTC)
    paths = {store.create_run_dir(tmp_path, "toy", now) for _ in range(20)}
    assert len(paths) == 20
    assert all(p.name.startswith("20251107T120000Z-") for p in paths)


# --- an ensemble written to disk ----------------------------------------------------------


def test_a_run_writes_every_file(tmp_path: Path) -> None:
    res = go(tmp_path, runs=40)
    folder = res.path
    assert folder.parent == tmp_path / "toy"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "manifest.json",
        "moves.parquet",
        "runs.parquet",
        "summary.json",
        "trajectories.npy",
    ]

    manifest = store.read_manifest(folder)
    assert manifest["status"] == "complete"
    assert manifest["scenario"] == "toy" and manifest["content_hash"] == "0123456789abcdef"
    assert manifest["seed"] == 1 and manifest["runs"] == manifest["runs_completed"] == 40
    assert manifest["parameters"]["nan_is_null"] is None
    assert manifest["command"] == "test"
    assert manifest["files"]["trajectories"]["dyads"] == [["cn", "jp"], ["cn", "us"], ["jp", "us"]]
    for key in ("package_version", "git", "started", "finished", "environment"):
        assert key in manifest

    runs = store.read_runs(folder)
    assert runs["index"].tolist() == list(range(40))
    assert runs["seed_key"].iloc[17] == "1/17"
    for col in ("outcome", "peak_rung", "peak_day", "final_rung", "end_day", "ended_early",
                "cost_cn", "cost_us", "moves_cn", "moves_jp", "n_moves"):  # fmt: skip
        assert col in runs.columns

    moves = store.read_moves(folder)
    assert len(moves) == runs["n_moves"].sum()
    assert (
        moves.groupby("index").size().reindex(range(40), fill_value=0).tolist()
        == runs["n_moves"].tolist()
    )
    first = moves.iloc[0]
    assert pd.Timestamp(first["date"]).date() == dt.date(2025, 11, 7) + dt.timedelta(
        days=int(first["day"])
    )

    traj = store.read_trajectories(folder)
    assert traj.shape == (40, 3, DAYS + 1) and traj.dtype == np.int8
    assert np.array_equal(traj.max(axis=(1, 2)), runs["peak_rung"].to_numpy())

    assert store.read_summary(folder) == res.summary
    assert res.summary["runs"] == 40
    assert res.moves.shape[0] == len(moves)
    assert res.trajectories.shape == traj.shape


def test_the_same_seed_gives_identical_results_and_another_seed_does_not(tmp_path: Path) -> None:
    a, b, c = go(tmp_path, seed=3), go(tmp_path, seed=3), go(tmp_path, seed=4)
    assert a.path != b.path
    assert (a.path / "summary.json").read_bytes() == (b.path / "summary.json").read_bytes()
    pd.testing.assert_frame_equal(a.runs, b.runs)
    assert a.summary != c.summary


def test_results_do_not_depend_on_chunking_or_arrival_order(tmp_path: Path) -> None:
    base = go(None, runs=37, chunk_size=37)
    for kw in ({"chunk_size": 1}, {"chunk_size": 5, "executor": ShuffledExecutor()}):
        other = go(tmp_path, runs=37, **kw)
        pd.testing.assert_frame_equal(other.runs, base.runs)
        pd.testing.assert_frame_equal(other.moves, base.moves)
        assert np.array_equal(other.trajectories, base.trajectories)
        assert other.summary == base.summary


def test_trace_replays_a_replication_alone() -> None:
    res = go(None, runs=12)
    record = res.trace(7)
    again = toy_engine(toy_spec(), replication_seed(1, 7))
    assert record.outcome == res.runs["outcome"].iloc[7] == again.outcome
    assert record.peak_rung == res.runs["peak_rung"].iloc[7]
    assert np.array_equal(record.dyad_rungs, res.trajectories[7])


def test_in_memory_results_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = go(None, runs=5)
    assert res.path is None and list(tmp_path.iterdir()) == []
    assert isinstance(res.moves, pd.DataFrame) and res.trajectories.shape[0] == 5


@pytest.mark.parametrize(
    ("exc", "status"), [(KeyboardInterrupt(), "interrupted"), (RuntimeError("boom"), "failed")]
)
def test_an_interrupted_run_keeps_what_it_finished(
    tmp_path: Path, exc: BaseException, status: str
) -> None:
    with pytest.raises(type(exc)) as info:
        go(tmp_path, runs=40, chunk_size=10, executor=DyingExecutor(2, exc))
    (folder,) = (tmp_path / "toy").iterdir()
    assert any("20 of 40 runs saved" in note for note in info.value.__notes__)
    manifest = store.read_manifest(folder)
    assert manifest["status"] == status and manifest["runs_completed"] == 20
    assert len(store.read_runs(folder)) == 20
    assert store.read_trajectories(folder).shape[0] == 20
    assert set(store.read_moves(folder)["index"]) <= set(range(20))
    assert store.read_summary(folder)["runs"] == 20
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


class LossyExecutor:
    """Silently drops the second chunk."""

    def map(
        self, fn: Callable[[Sequence[int]], Chunk], chunks: Iterable[Sequence[int]]
    ) -> Iterator[Chunk]:
        for i, chunk in enumerate(chunks):
            if i != 1:
                yield fn(chunk)


def test_a_lost_chunk_is_never_passed_off_as_complete(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="10 of 40"):
        go(tmp_path, runs=40, chunk_size=10, executor=LossyExecutor())
    (folder,) = (tmp_path / "toy").iterdir()
    manifest = store.read_manifest(folder)
    # Only the contiguous prefix before the gap counts as completed.
    assert manifest["status"] == "failed" and manifest["runs_completed"] == 10


def test_bad_arguments_are_user_errors() -> None:
    from sim.errors import SimError

    for kw in ({"runs": 0}, {"seed": -1}, {"chunk_size": 0}):
        args = {"runs": 3, "seed": 0, **kw}
        with pytest.raises(SimError):
            go(None, args.pop("runs"), args.pop("seed"), **args)


def test_no_partial_files_remain(tmp_path: Path) -> None:
    res = go(tmp_path, runs=3)
    assert not [p for p in res.path.iterdir() if p.name.startswith(".")]
    assert os.access(res.path / "manifest.json", os.R_OK)


# --- streaming writers --------------------------------------------------------------------


def test_row_groups_are_cut_at_fixed_counts_whatever_the_input_pieces(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("index", pa.int64()), ("x", pa.float64()), ("s", pa.string())])
    rows = [{"index": i, "x": i / 7, "s": f"r{i % 5}"} for i in range(103)]
    outputs = []
    for cuts in ([103], [1, 2, 50, 50], [10] * 10 + [3], [40, 0, 63]):
        writer = store.TableWriter(tmp_path / f"t{len(outputs)}.parquet", schema, row_group=16)
        start = 0
        for size in cuts:
            writer.write(pa.Table.from_pylist(rows[start : start + size], schema=schema))
            start += size
        writer.close()
        outputs.append(writer.path)
    meta = pq.read_metadata(outputs[0])
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [16] * 6 + [7]
    assert pq.read_table(outputs[0]).to_pylist() == rows
    assert len({p.read_bytes() for p in outputs}) == 1


def test_trajectories_stream_to_the_file_np_save_would_write(tmp_path: Path) -> None:
    import io

    rng = np.random.default_rng(3)
    blocks = [rng.integers(0, 5, size=(n, 3, 11)).astype(np.int8) for n in (4, 0, 7, 1)]
    writer = store.TrajectoryWriter(tmp_path / "t.npy", 3, 11)
    for block in blocks:
        writer.write(block)
    writer.close()
    whole = np.concatenate(blocks)
    expected = io.BytesIO()
    np.save(expected, whole)
    assert (tmp_path / "t.npy").read_bytes() == expected.getvalue()
    assert np.array_equal(np.load(tmp_path / "t.npy", mmap_mode="r"), whole)
    with pytest.raises(ValueError, match="shape"):
        store.TrajectoryWriter(tmp_path / "u.npy", 3, 11).write(np.zeros((1, 2, 11), np.int8))


def test_runs_columns_give_the_summary_the_whole_table_gives(tmp_path: Path) -> None:
    res = go(tmp_path, runs=60)
    columns = store.RunsColumns(res.path / store.RUNS)
    frame = store.read_runs(res.path)
    assert len(columns) == 60 and "outcome" in columns and "nothing" not in columns
    assert columns["outcome"].dtype == "category"
    assert columns["cost_cn"].equals(frame["cost_cn"])
    from sim.analysis.summary import Tally, build_summary

    tally = Tally(DAYS, len(RUNGS))
    a = build_summary(toy_spec(), columns, tally, seed=1)
    b = build_summary(toy_spec(), frame, tally, seed=1)
    assert store.json_text(a) == store.json_text(b)


def test_memory_and_folder_results_are_the_same_tables(tmp_path: Path) -> None:
    memory, folder = go(None, runs=30), go(tmp_path, runs=30)
    pd.testing.assert_frame_equal(memory.runs, folder.runs)
    pd.testing.assert_frame_equal(memory.moves, folder.moves)
    pd.testing.assert_frame_equal(memory.failures, folder.failures)
    assert memory.summary == folder.summary


def test_an_unwritable_results_root_is_a_clear_error_before_any_run(tmp_path: Path) -> None:
    """A results root that cannot hold folders (here a plain file) fails at once, exit 2."""
    import subprocess
    import sys

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the results root should be")
    duel = Path(__file__).parent / "scenarios" / "duel.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", str(duel), "--runs", "5", "--out", str(blocker)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "cannot write results under" in done.stderr and str(blocker) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # no run was made, so no table was printed
