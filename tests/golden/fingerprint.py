"""Fingerprints of whole run records: every move, day, cost and rung, to the last bit.

    python -m tests.golden.fingerprint            # print the fingerprints of this checkout
    python -m tests.golden.fingerprint --write    # rewrite tests/golden/records.json

The golden summaries (``regenerate.py``) pin counts; these pin the runs themselves: a hash
of each scenario's first ``RUNS`` records at ``SEED``, floats written with ``repr`` (so a
last-digit difference in an ``exp`` shows). The file was written by the engine as it was
before the compiled kernels (the Python engine, last as commit b9fdcdc; checked equal
to the kernels on the same scenarios when they were merged), and
``tests/test_determinism.py`` holds the engine to it: the kernels are a port, operation for
operation, and give the same runs. Rewrite it only with a deliberate change to the model,
as the golden summaries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PATH = HERE / "records.json"
ROOT = HERE.parent.parent
SCENARIOS = (
    "taiwan-flashpoint-2025",
    "taiwan-flashpoint-2025-campaign",
    "taiwan-flashpoint-2025-lai-transit",
    "taiwan-flashpoint-2025-us-backs-japan",
    "us-china-tradewar-2025",
    "oracles/gamblers-ruin-5",
    "oracles/prisoners-dilemma",
    "oracles/richardson",
    "oracles/war-of-attrition",
    str(ROOT / "tests" / "scenarios" / "duel.yaml"),
)
RUNS = 40
SEED = 2024
WRITER = "python -m tests.golden.fingerprint --write"


def describe(record: Any) -> str:
    """A record as text, every float by ``repr``."""
    moves = [
        (float(m.day), m.actor, m.target, m.lever, m.rung, m.cameo, m.goldstein, m.magnitude,
         m.direction, m.source)
        for m in record.moves
    ]  # fmt: skip
    parts = (
        record.outcome,
        record.peak_rung,
        float(record.peak_day),
        record.final_rung,
        float(record.end_day),
        record.ended_early,
        sorted(record.costs.items()),
        moves,
        record.dyad_rungs.tolist(),
        [repr(float(x)) for x in record.first_day_at_rung],
        [(float(day), event, what) for day, event, what in record.event_log],
        sorted((a, sorted(s.items())) for a, s in record.stocks.items()),
    )
    return repr(parts)


def fingerprint(name: str, runs: int = RUNS, seed: int = SEED) -> str:
    """The SHA-256 of a scenario's first ``runs`` records at ``seed``."""
    import sim
    from sim.experiments.seeding import replication_seed
    from sim.scenario import compile_scenario, load

    spec = compile_scenario(load(name))
    digest = hashlib.sha256()
    for index in range(runs):
        digest.update(describe(sim.simulate(spec, replication_seed(seed, index))).encode())
    return digest.hexdigest()


def key(name: str) -> str:
    """A scenario's key in the file: its name, or a test scenario's file name."""
    return Path(name).name if name.endswith(".yaml") else name


def main(argv: list[str] | None = None) -> int:
    """Print (or with --write, store) the fingerprints of this checkout's engine."""
    parser = argparse.ArgumentParser(prog="python -m tests.golden.fingerprint")
    parser.add_argument("--write", action="store_true", help="rewrite tests/golden/records.json")
    args = parser.parse_args(argv)
    prints = {key(name): fingerprint(name) for name in SCENARIOS}
    print(json.dumps(prints, indent=2))
    if args.write:
        data = {"runs": RUNS, "seed": SEED, "written_by": WRITER, "fingerprints": prints}
        PATH.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
