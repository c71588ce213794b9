"""Regenerate the golden summaries of the named scenarios -- only on purpose.

    python -m tests.golden.regenerate          # rewrite every golden file
    python -m tests.golden.regenerate --check  # compare only; exit 1 on any difference

Run it from the repository root after a deliberate change to the model or to a named
scenario, check the printed differences, and commit the new files with a note saying why
the numbers moved. ``tests/test_determinism.py`` compares these files exactly, so any
change that was not meant to move them fails there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCENARIOS = (
    "taiwan-flashpoint-2025",
    "taiwan-flashpoint-2025-lai-transit",
    "taiwan-flashpoint-2025-us-backs-japan",
)
RUNS = 100  # enough that any change to the model moves some count; cheap enough for CI
SEED = 12345
# The keys that are compared; the others say where and when the file was made.
COMPARED = ("scenario", "runs", "seed", "content_hash", "outcomes", "peak_rungs", "moves")


def path_of(name: str) -> Path:
    """The golden file of a scenario."""
    return HERE / f"{name}.json"


def compute(name: str) -> dict[str, Any]:
    """The golden summary of a scenario: outcome, peak-rung and move counts at SEED."""
    import sim

    results = sim.run(name, runs=RUNS, seed=SEED)  # in this process, serially, no folder
    runs = results.runs
    rungs = results.summary["rungs"]
    peaks = Counter(int(r) for r in runs["peak_rung"])
    outcomes = Counter(str(o) for o in runs["outcome"])
    classes = list(results.summary["outcomes"])
    moves = results.moves
    return {
        "scenario": name,
        "runs": RUNS,
        "seed": SEED,
        "content_hash": results.summary["scenario_hash"],
        "outcomes": {c: outcomes.get(c, 0) for c in classes},
        "peak_rungs": {f"{k} {rungs[k]}": peaks.get(k, 0) for k in range(len(rungs))},
        "moves": {
            "total": int(len(moves)),
            "by_actor": {str(a): int(n) for a, n in sorted(Counter(moves["actor"]).items())},
        },
    }


def provenance() -> dict[str, Any]:
    """When and with what the files were made (not compared)."""
    import numpy as np
    import simpy

    from sim.results.manifest import git_commit

    return {
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_commit(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "simpy": getattr(simpy, "__version__", "unknown"),
        "command": "python -m tests.golden.regenerate",
    }


def compared(data: dict[str, Any]) -> dict[str, Any]:
    """The part of a golden file that the test compares."""
    return {k: data.get(k) for k in COMPARED}


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Lines saying which compared values moved, old -> new."""
    out = []
    for key in COMPARED:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            for sub in sorted(set(a) | set(b), key=str):
                if a.get(sub) != b.get(sub):
                    out.append(f"  {key}.{sub}: {a.get(sub)} -> {b.get(sub)}")
        elif a != b:
            out.append(f"  {key}: {a} -> {b}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with --check, compare) the golden file of every named scenario."""
    parser = argparse.ArgumentParser(prog="python -m tests.golden.regenerate")
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args(argv)
    changed = 0
    for name in SCENARIOS:
        new = compute(name)
        path = path_of(name)
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        diff = differences(old, new)
        changed += bool(diff)
        print(f"{name}: {'unchanged' if not diff else 'CHANGED'}")
        print("\n".join(diff[:40]))
        if not args.check and diff:
            path.write_text(json.dumps({**new, **provenance()}, indent=2) + "\n", encoding="utf-8")
            print(f"  wrote {path}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
