"""The notebooks run top to bottom, with small run counts, and are committed without outputs."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: Run counts small enough for a test; the committed notebooks use larger ones.
SMALL = {
    "01-named-scenario.ipynb": {"RUNS": 40},
    "02-sweep-and-compare.ipynb": {"RUNS": 30, "SWEEP_RUNS": 20, "VALUES": [0.4, 1.0]},
    "03-calibration.ipynb": {
        "POINTS": 2,
        "SCREEN_RUNS": 1,
        "POPULATION": 20,
        "GENERATIONS": 2,
        "CHECK": 10,
        "RUNS": 20,
    },
    "04-explore.ipynb": {
        "RARE_EFFORT": 30,
        "RARE_REPEATS": 2,
        "ORACLE_EFFORT": 30,
        "SWEEP_RUNS": 10,
        "MORRIS_TRAJECTORIES": 2,
        "MORRIS_RUNS": 4,
        "BRANCHES": 10,
    },
}

#: The budget the issue sets for one notebook, in seconds.
BUDGET = 60

#: Appended to the notebook under test: prints the kernel's CPU seconds so far.
CPU_CELL = (
    "import resource as _resource\n"
    "_usage = _resource.getrusage(_resource.RUSAGE_SELF)\n"
    "print(_usage.ru_utime + _usage.ru_stime)"
)


def set_parameters(book: nbformat.NotebookNode, values: dict[str, object]) -> None:
    """Replace assignments in the cell tagged "parameters" (papermill's convention)."""
    cells = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    source = cells[0].source
    for name, value in values.items():
        source, n = re.subn(rf"(?m)^{name} = .*$", f"{name} = {value!r}", source)
        assert n == 1, f"the parameters cell does not assign {name}"
    cells[0].source = source


def shows_a_figure(source: str) -> bool:
    """Whether a cell's value is a figure: it ends with a sim.plots call or with ``fig``."""
    last = source.rstrip().splitlines()[-1] if source.strip() else ""
    return last.startswith("sim.plots.") or last == "fig"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_is_committed_without_outputs(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.slow  # each notebook runs in a kernel of its own: tens of seconds
@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs_top_to_bottom(name: str, tmp_path: Path) -> None:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    set_parameters(book, SMALL[name])
    book.cells.append(nbformat.v4.new_code_cell(CPU_CELL))
    client = NotebookClient(
        book, timeout=BUDGET, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    started = time.monotonic()
    client.execute()  # Raises CellExecutionError, with the cell and traceback, on any error.
    elapsed = time.monotonic() - started
    for cell in book.cells:
        if cell.cell_type == "code" and shows_a_figure(cell.source):
            shown = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert shown, f"no figure displayed by: {cell.source.splitlines()[-1]}"
    errors = [o for c in book.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    cpu = float(book.cells[-1].outputs[0]["text"])
    # The work must fit the budget; the wall clock is checked where the machine is not shared
    # with other test runs (CI), since elsewhere it measures the neighbours too.
    assert cpu < BUDGET, f"{name} used {cpu:.0f} s of CPU"
    if os.environ.get("CI"):
        assert elapsed < BUDGET, f"{name} took {elapsed:.0f} s"
    assert list(tmp_path.iterdir()) == [], "the notebook left files in its working directory"
