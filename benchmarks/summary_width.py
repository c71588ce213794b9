"""The summary of a wide scenario (40 actors) against a narrow one, per run; its memory.

For each scenario it simulates ``--runs`` replications (timed alone), runs them again into a
results folder, then builds the summary from that folder's ``runs.parquet`` ``--repeat``
times in this process (the best time is kept) and prints, per run: the simulation's and
the summary's seconds,
their ratio, the columns of the runs table, and the summary's time per run and column;
then the wide/narrow ratios, all from the same invocation. The wide scenario is the
generated one of ``tests/test_extremes.py`` with 40 actors (1,703 columns: a Goldstein
column per directed dyad); the narrow one is the named scenario.

``--tile N`` also measures the summary's memory: the narrow runs table tiled to N rows
(first days jittered so that they are distinct, as the engine's fractional days are),
summarised in a fresh child process; it prints the child's high-water mark before and
after the summary (``VmHWM`` from ``/proc/self/status``, Linux only).

    python benchmarks/summary_width.py --runs 4
    python benchmarks/summary_width.py --runs 4 --tile 200000
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def wide_scenario(actors: int) -> Any:
    """The generated scenario of ``tests/test_extremes.py`` with ``actors`` actors."""
    from sim.scenario.schema import Scenario

    path = ROOT / "tests" / "test_extremes.py"
    spec = importlib.util.spec_from_file_location("_extremes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Scenario.model_validate(module.many_actors(actors))


def measure(scenario: Any, runs: int, repeat: int, out: Path) -> dict[str, float]:
    """Time ``runs`` replications alone, then the summary of a folder of them (best of)."""
    import pyarrow.parquet as pq

    from sim.analysis.summary import Tally, build_summary, lever_names
    from sim.experiments.chunks import simulate_chunk
    from sim.experiments.ensemble import run_spec
    from sim.results import files, store
    from sim.scenario import compile_scenario

    spec = compile_scenario(scenario)
    start = time.perf_counter()
    simulate_chunk(spec, 0, range(runs))
    simulate = time.perf_counter() - start
    results = run_spec(scenario, spec, runs, 0, out)
    best = float("inf")
    for _ in range(repeat):
        tally = Tally(spec.days, len(spec.rung_names))
        start = time.perf_counter()
        table = store.RunsColumns(results.path / files.RUNS)
        build_summary(spec, table, tally, seed=0, lever_names=lever_names(spec))
        best = min(best, time.perf_counter() - start)
        getattr(table, "close", lambda: None)()  # (the code before issue 17 had no close)
    columns = len(pq.read_schema(results.path / files.RUNS).names)
    return {"simulate": simulate, "summary": best, "columns": columns, "runs": runs}


def _row(name: str, m: dict[str, float]) -> str:
    n = m["runs"]
    return (
        f"{name:<7} {m['columns']:>7,.0f} {m['simulate'] / n:>9.3f} {m['summary'] / n:>9.3f} "
        f"{m['summary'] / m['simulate']:>9.2f} {1e6 * m['summary'] / n / m['columns']:>11.1f}"
    )


CHILD = """
import sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
import scipy.stats  # noqa: F401 - imported before the first mark, as a real summary has it
from sim.analysis.summary import Tally, build_summary
from sim.results import store
from sim.scenario import compile_scenario, load

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
spec = compile_scenario(load("taiwan-flashpoint-2025"))
before = hwm()
build_summary(spec, store.RunsColumns(sys.argv[1]), Tally(spec.days, len(spec.rung_names)), seed=0)
print(f"{before:.1f} {hwm():.1f}")
"""


def tiled_memory(folder: Path, rows: int, out: Path) -> tuple[float, float]:
    """The high-water mark (MiB) of a fresh process before and after summarising ``rows``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "runs.parquet")
    times = -(-rows // table.num_rows)
    tiled = pa.concat_tables([table] * times).slice(0, rows)
    rng = np.random.default_rng(0)
    columns = {}
    for name in tiled.column_names:
        column = tiled.column(name)
        if name.startswith("first_day_rung_"):
            values = column.to_numpy(zero_copy_only=False)
            column = pa.array(values + rng.uniform(0, 1e-3, rows))
        columns[name] = column
    path = out / "tiled.parquet"
    pq.write_table(pa.table(columns, schema=tiled.schema), path, row_group_size=8192)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    before, after = (float(x) for x in done.stdout.split())
    return before, after


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="replications of each (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="summaries timed (best kept)")
    parser.add_argument("--actors", type=int, default=40, help="actors of the wide one")
    parser.add_argument("--tile", type=int, help="also the summary's memory at this many rows")
    args = parser.parse_args(argv)
    from sim.scenario import load

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        narrow = measure(load("taiwan-flashpoint-2025"), args.runs, args.repeat, out / "n")
        wide = measure(wide_scenario(args.actors), args.runs, args.repeat, out / "w")
        print("        columns  sim s/run  sum s/run  sum/sim  us/run/column")
        print(_row("narrow", narrow))
        print(_row("wide", wide))
        per_run = wide["summary"] / narrow["summary"]
        share = (wide["summary"] / wide["simulate"]) / (narrow["summary"] / narrow["simulate"])
        per_cell = per_run * narrow["columns"] / wide["columns"]
        print(
            f"wide/narrow: summary per run {per_run:.2f}, summary/simulation {share:.2f}, "
            f"summary per run and column {per_cell:.2f}"
        )
        if args.tile:
            (folder,) = (out / "n" / "taiwan-flashpoint-2025").iterdir()
            before, after = tiled_memory(folder, args.tile, out)
            print(f"summary of {args.tile:,} rows: high-water mark {before:.1f} -> {after:.1f} MiB")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
