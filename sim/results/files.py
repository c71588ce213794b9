"""The names of the files of every kind of results folder, and their format versions.

One place for them, light to import (no numpy, no pandas): the store, the experiments that
write folders, the figures and the report that read them, and ``--force`` (which deletes
only what sim writes) all take the names from here.
"""

from __future__ import annotations

# --- an ensemble (sim run), and each arm of a comparison ---------------------------------------

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
RUNS = "runs.parquet"
MOVES = "moves.parquet"
TRAJECTORIES = "trajectories.npy"
FAILURES = "failures.parquet"
CHUNKS = "chunks.journal"
#: The posterior a run over a calibration's posterior drew from (so ``--resume`` draws the same).
POSTERIOR = "posterior.json"
#: Where a branched run's folder says it branched from (sim.experiments.branch).
BRANCH = "branch.json"

#: Bump when the layout of an ensemble's folder changes incompatibly.
FORMAT_VERSION = 4  # 3: event columns in runs.parquet; 4: chunks.journal in unfinished folders

# --- a comparison (sim compare) ------------------------------------------------------------------

#: The subfolders holding the two arms of a comparison, each a complete ensemble folder.
ARMS = ("base", "variant")

# --- a sweep (sim sweep) -----------------------------------------------------------------------

#: The plan of a sweep folder, written before its first point runs.
SWEEP_PLAN = "sweep.json"
DESIGN = "design.parquet"
POINTS = "points.parquet"
RUNS_DIR = "runs"
FAILURES_DIR = "failures"
SENSITIVITY = "sensitivity.parquet"

#: Bump when the layout of a sweep folder changes incompatibly.
SWEEP_FORMAT = 1

# --- a calibration (sim calibrate) ---------------------------------------------------------------

CALIBRATION_PLAN = "calibration.json"
DATABASE = "abc.db"
GENERATIONS = "generations.parquet"
PARTICLES = "particles.parquet"
CHECK = "check.parquet"
SCALES = "scales.json"

#: Bump when the layout of a calibration folder changes incompatibly.
CALIBRATION_FORMAT = 1

# --- what figures and reports add to any folder --------------------------------------------------

FIGURES_DIR = "figures"
REPORT = "report.html"

#: What a folder sim wrote may hold at its top (an ensemble's files, a comparison's arms, a
#: sweep's tables, a calibration's, figures and a report): ``--force`` deletes nothing else.
RESULT_ENTRIES = frozenset(
    {MANIFEST, SUMMARY, RUNS, MOVES, TRAJECTORIES, FAILURES, CHUNKS, SWEEP_PLAN, ".writable",
     FIGURES_DIR, REPORT, *ARMS, RUNS_DIR, FAILURES_DIR, DESIGN, POINTS, SENSITIVITY,
     CALIBRATION_PLAN, DATABASE, GENERATIONS, PARTICLES, CHECK, SCALES, POSTERIOR, BRANCH}
)  # fmt: skip
