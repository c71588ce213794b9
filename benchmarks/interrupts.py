"""How often a Ctrl-C to a running sweep is lost: the sweep then runs on to its end.

    python benchmarks/interrupts.py --trials 40

Each trial starts ``sim sweep`` of the test fixture ``sweep_oracle`` (16 points of 40 runs,
in one process), waits until its second point is saved and sends SIGINT, as
``tests/test_sweep.py``'s interrupted sweep does. A trial whose process exits 130 with some
points saved kept the interrupt; one that exits 0 with every point saved lost it. Before
``sim.experiments.stops.signals_outside_compiled_code`` about one trial in twelve lost it
(the signal was handled inside numba's ``_numba_unpickle`` callback and dropped there).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORACLE = REPO / "tests" / "scenarios" / "sweep_oracle.yaml"
POINTS = 16


def trial(root: Path) -> tuple[int, int]:
    """Run one interrupted sweep under ``root``; return its exit code and the points saved."""
    args = ["sweep", str(ORACLE), "--param", f"events.clash.rate_per_year=0:6:{POINTS}"]
    args += ["--runs", "40", "--seed", "9", "--workers", "1", "--quiet", "--out", str(root)]
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # The default SIGINT, as a shell gives it (a parent may ignore it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if any(root.glob("sweep_oracle/sweep-*/runs/point-000001.parquet")):
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=120)
    return code, len(list(root.glob("sweep_oracle/sweep-*/runs/point-*.parquet")))


def main(argv: list[str] | None = None) -> int:
    """Run the trials and print how many kept the interrupt and how many lost it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="interrupted sweeps (default 40)")
    args = parser.parse_args(argv)
    outcomes: dict[str, int] = {"kept": 0, "lost": 0, "other": 0}
    for _ in range(args.trials):
        with tempfile.TemporaryDirectory() as folder:
            code, saved = trial(Path(folder))
        if code == 130 and saved < POINTS:
            outcomes["kept"] += 1
        elif code == 0 and saved == POINTS:
            outcomes["lost"] += 1
        else:
            outcomes["other"] += 1
    print(
        f"{args.trials} interrupted sweeps: {outcomes['kept']} stopped (exit 130), "
        f"{outcomes['lost']} lost the interrupt and ran to the end, {outcomes['other']} other"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
