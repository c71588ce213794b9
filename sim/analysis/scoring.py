"""Scoring profiles: one number (or a few) per run, comparable across scenarios and studies.

Three profiles score every run from its moves:

``ladder``
    the scenario's own escalation ladder: the run's peak and final rung (what the summary
    has always reported).
``goldstein``
    the Goldstein (1992) conflict-cooperation scores of its moves, summed per directed
    dyad (``USA->CHN``) and in total; negative is conflictual. Every move carries its
    score, so this needs no mapping.
``rivera``
    the escalation score of Rivera et al. (2024), "Escalation Risks from Language Models
    in Military and Diplomatic Decision-Making" (FAccT 2024): each move falls into one of
    six categories weighted -2, 0, 4, 12, 28, 60 (``2**k - 4`` for k = 1..6), and a run
    scores the sum over its moves, in total and per acting actor. A move's category comes
    from its CAMEO code (:mod:`sim.analysis.rivera`; see ``docs/backtest.md`` for the
    table and its sources).

The functions take moves as a ``moves.parquet``-shaped table (columns ``index``,
``actor``, ``target``, ``cameo``, ``goldstein``) or as a run record's ``MoveRecord`` list,
so the same numbers come from memory, from a results folder or from one replication.

Entry points: :func:`score_table` (per-run scores of an ensemble, for plots),
:func:`summarize` (mean, SE, 95% CI and quantiles per score; :mod:`sim.present.scores`
renders it) and :func:`summary_block` (a summary section from a runs table that carries
the score columns of :mod:`sim.analysis.columns`, which computes one run record's scores).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.analysis import columns, stats
from sim.analysis.rivera import rivera_weight
from sim.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

PROFILES = ("ladder", "goldstein", "rivera")

# --- per-run scores ------------------------------------------------------------------------------


def score_columns(profile: str, actor_ids: Sequence[str]) -> list[str]:
    """Return the score columns of a profile, in order (``index`` not included)."""
    check_profile(profile)
    if profile == "ladder":
        return ["peak_rung", "final_rung"]
    return columns.score_parts(profile, actor_ids)


def check_profile(profile: str) -> None:
    """Raise :class:`UsageError` unless ``profile`` is one of :data:`PROFILES`."""
    if profile not in PROFILES:
        raise UsageError(
            f"unknown scoring profile '{profile}'; expected one of {', '.join(PROFILES)}"
        )


def move_scores(moves: pd.DataFrame, profile: str) -> pd.Series:
    """Return each move's contribution to a profile's totals (Goldstein or Rivera weight)."""
    if profile == "goldstein":
        return moves["goldstein"].astype(float)
    weights = {code: float(rivera_weight(code)) for code in moves["cameo"].astype(str).unique()}
    return moves["cameo"].astype(str).map(weights).astype(float)


def score_moves(
    moves: pd.DataFrame, profile: str, actor_ids: Sequence[str], runs: Iterable[int]
) -> pd.DataFrame:
    """Return one row per run (``runs``, in order) with the move-based scores of a profile.

    ``moves`` has the columns of ``moves.parquet`` (at least ``index``, ``actor``, ``target``,
    ``cameo`` and ``goldstein``). Runs without moves score 0, never go missing.
    """
    import pandas as pd

    if profile not in ("goldstein", "rivera"):
        raise UsageError(f"profile '{profile}' is not computed from moves")
    index = pd.Index(list(runs), name="index")
    columns = score_columns(profile, actor_ids)
    out = pd.DataFrame(0.0, index=index, columns=columns)
    if len(moves):
        frame = moves[moves["index"].isin(index)]
        values = move_scores(frame, profile)
        out["total"] = values.groupby(frame["index"]).sum().reindex(index, fill_value=0.0)
        if profile == "goldstein":
            # columns.dyad, for a whole column at once
            keys = frame["actor"].astype(str) + "->" + frame["target"].astype(str)
        else:
            keys = frame["actor"].astype(str)
        wide = values.groupby([frame["index"], keys]).sum().unstack(fill_value=0.0)
        for column in wide.columns:
            if column not in out.columns:
                raise ValueError(f"moves name '{column}', which the scenario's actors do not")
            out[column] = wide[column].reindex(index, fill_value=0.0)
    return out.reset_index()


def score_table(results: Any, profile: str) -> pd.DataFrame:
    """Return the per-run scores of an ensemble under one profile: one row per replication.

    ``results`` is a :class:`~sim.experiments.ensemble.Results` (in memory or backed by a
    results folder). Columns: ``index`` and :func:`score_columns` -- for ``ladder`` the
    peak and final rung, for ``goldstein`` the total and one column per directed dyad
    (``USA->CHN``), for ``rivera`` the total and one column per acting actor. This is the
    table plots draw from (``frame.melt(id_vars="index")`` gives it long).
    """
    check_profile(profile)
    runs = results.runs
    if profile == "ladder":
        return (
            runs[["index", "peak_rung", "final_rung"]]
            .astype({"peak_rung": int, "final_rung": int})
            .reset_index(drop=True)
        )
    return score_moves(results.moves, profile, results.spec.actor_ids, runs["index"].tolist())


# --- summaries -----------------------------------------------------------------------------------


def describe(values: np.ndarray) -> dict[str, Any]:
    """Return mean, SE, normal 95% CI, SD, n and the 5/25/50/75/95% quantiles of a score."""
    moments = stats.mean_se(values)
    return {**moments, "quantiles": stats.quantiles(values)}


def summarize(results: Any, profile: str) -> dict[str, Any]:
    """Return summary statistics of every score of a profile over an ensemble's runs.

    The result is JSON data: ``{"profile", "runs", "scores": {column: {mean, se, ci95, sd,
    n, quantiles}}}``, columns as in :func:`score_table`. SE and CI are those of the mean
    over replications (normal approximation).
    """
    table = score_table(results, profile)
    return summarize_table(table, profile)


def summarize_table(table: pd.DataFrame, profile: str) -> dict[str, Any]:
    """Return :func:`summarize`'s statistics from a per-run score table."""
    columns = [c for c in table.columns if c != "index"]
    return {
        "profile": profile,
        "runs": int(len(table)),
        "scores": {c: describe(table[c].to_numpy(dtype=float)) for c in columns},
    }


def summary_block(runs: Any, actor_ids: Sequence[str]) -> dict[str, Any]:
    """Return every profile's statistics found in a runs table, for ``summary.json``.

    ``runs`` is a DataFrame or anything that hands out columns by name (a large
    ``runs.parquet`` is read one column at a time). The ladder profile comes from
    ``peak_rung`` and ``final_rung``; the move-based profiles from the columns
    :func:`run_scores` adds, when the runs table has them (profiles whose columns are
    absent are left out rather than reported as zero).
    """
    out = {}
    for profile in PROFILES:
        names = score_columns(profile, actor_ids)
        flat = names if profile == "ladder" else [columns.score(profile, c) for c in names]
        if all(c in runs for c in flat):
            scores = {
                c: describe(np.asarray(runs[f], dtype=float))
                for c, f in zip(names, flat, strict=True)
            }
            out[profile] = {"profile": profile, "runs": len(runs), "scores": scores}
    return out
