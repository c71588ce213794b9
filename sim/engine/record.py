"""What one simulated run leaves behind: its moves, its daily rungs and its end state."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class MoveRecord:
    """One move as it was announced: who did what to whom, when, and how it is coded.

    Not frozen: a run makes a hundred of them, and a frozen dataclass's ``__init__`` sets
    each field through ``object.__setattr__``, at twice the cost. Treat it as read-only.
    """

    day: float
    actor: str
    target: str
    lever: str
    rung: int
    cameo: str
    goldstein: float
    magnitude: float
    direction: str  # 'escalate', 'deescalate' or 'support'
    source: str  # "policy", or "event:<event id>" for moves injected by an exogenous event


@dataclass(slots=True)
class RunRecord:
    """The outcome of one replication.

    ``dyad_rungs`` holds the rung of every dyad at the end of each calendar day, shape
    ``(len(dyads), days + 1)``, int8; column 0 is the start date. ``first_day_at_rung[k]``
    is the first day on which the overall rung (the maximum over dyads) reached ``k``, or
    ``nan`` when it never did.
    """

    outcome: str
    peak_rung: int
    peak_day: float
    final_rung: int
    end_day: float
    ended_early: bool
    costs: dict[str, float]
    moves: list[MoveRecord]
    dyads: tuple[tuple[str, str], ...]
    dyad_rungs: np.ndarray
    first_day_at_rung: np.ndarray
    events_scheduled: int = 0
    # day, event id, what became of it ("held", "cancelled", "occurred", ...)
    event_log: list[tuple[float, str, str]] = field(default_factory=list)
    stocks: dict[str, dict[str, float]] = field(default_factory=dict)  # final continuous stocks

    @property
    def overall_rungs(self) -> np.ndarray:
        """The daily maximum rung over all dyads (zeros for a world of one actor)."""
        if self.dyad_rungs.shape[0] == 0:
            return np.zeros(self.dyad_rungs.shape[1], dtype=np.int8)
        return self.dyad_rungs.max(axis=0)


def moves_from_rows(
    ints: list[list[int]],
    floats: list[list[float]],
    levers: list[tuple[str, str, int, str, float, str]],
    actor_ids: tuple[str, ...],
    sources: list[str],
) -> list[MoveRecord]:
    """MoveRecords from the engine's move rows: (lever, target, source) and (day, magnitude).

    ``levers`` holds each lever's (actor id, lever id, rung, CAMEO code, Goldstein score,
    direction).
    """
    out = []
    for (i, t, s), (day, magnitude) in zip(ints, floats, strict=True):
        actor, lever, rung, cameo, goldstein, direction = levers[i]
        out.append(
            MoveRecord(
                day,
                actor,
                actor_ids[t],
                lever,
                rung,
                cameo,
                goldstein,
                magnitude,
                direction,
                sources[s],
            )  # fmt: skip
        )
    return out
