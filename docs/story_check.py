"""Read an ensemble of the named scenario as an analyst would: does it tell a credible story?

    python docs/story_check.py                       # 2,000 runs of taiwan-flashpoint-2025
    python docs/story_check.py --runs 400 --seed 5 --scenario taiwan-flashpoint-2025-us-backs-japan

Each figure is a share of runs (or a mean per run) computed from the moves and runs tables,
with its 95% Wilson interval where it is a share. docs/model.md quotes these figures before
and after the model-credibility change; the tests run this script at a small size so that
its code cannot rot.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import pandas as pd

# Lever ids of the named scenario that the checks look for (missing ones count as never used);
# the ids of the scenario before and after the model-credibility change are both listed.
SANCTIONS_ON_US_FIRMS = ("entity_listing", "sanction_defence_firms")
DRILLS_AT_TAIWAN = ("live_fire_exercise",)
STEPS_UP = ("group_tour_ban", "rare_earth_embargo", "anti_dumping_duties")


def share(hits: int, n: int) -> dict[str, float]:
    """A share of runs with its Wilson interval."""
    from sim.analysis.stats import proportion

    p = proportion(int(hits), int(n))
    return {"p": round(p["p"], 4), "lo": round(p["ci95"][0], 4), "hi": round(p["ci95"][1], 4)}


def hostile(moves: pd.DataFrame, actor: str, target: str) -> pd.DataFrame:
    """Hostile moves of ``actor`` against ``target``."""
    m = moves
    return m[(m.actor == actor) & (m.target == target) & (m.direction == "escalate")]


def per_run(frame: pd.DataFrame, runs: int) -> np.ndarray:
    """Counts per replication, zeros included."""
    return frame.groupby("index").size().reindex(range(runs), fill_value=0).to_numpy()


def coercion_fading(moves: pd.DataFrame, runs: int, horizon: int) -> dict[str, Any]:
    """China's hostile moves on Japan early and late, and its easing without a concession."""
    cj = hostile(moves, "CHN", "JPN")
    early = per_run(cj[cj.day < 30], runs).mean()
    late = per_run(cj[cj.day >= horizon - 30], runs).mean()
    easing = moves[(moves.actor == "CHN") & (moves.target == "JPN")]
    easing = easing[(easing.direction == "deescalate") & (easing.day <= 100)]
    lifts = easing[easing.lever.str.startswith(("ease", "resume", "lift"))]
    steps = cj[cj.lever.isin(STEPS_UP)]
    return {
        "CHN->JPN hostile moves per run, days 0-29": round(float(early), 2),
        "CHN->JPN hostile moves per run, last 30 days": round(float(late), 2),
        "China lifted a measure on Japan by day 100": share(lifts["index"].nunique(), runs),
        "China eased or consulted with Japan by day 100": share(easing["index"].nunique(), runs),
        "China stepped up a measure on Japan (a tightened step)": share(
            steps["index"].nunique(), runs
        ),
    }


def concession(moves: pd.DataFrame, runs: int) -> dict[str, Any]:
    """Japan's retraction, and what China does to Japan after it."""
    retract = moves[(moves.actor == "JPN") & (moves.lever == "retract_statement")]
    first = retract.groupby("index").day.min()
    cj = hostile(moves, "CHN", "JPN")
    after = cj[cj["index"].isin(first.index)]
    after = after[after.day > after["index"].map(first)]
    mean_after = len(after) / len(first) if len(first) else float("nan")
    return {
        "Japan retracts": share(len(first), runs),
        "CHN->JPN hostile moves after a retraction (mean, retracting runs)": round(mean_after, 2),
    }


def answers_to_arms_sales(moves: pd.DataFrame, window: float = 14.0) -> dict[str, Any]:
    """What China does within ``window`` days of each arms-sale notification."""
    sales = moves[(moves.actor == "USA") & (moves.lever == "arms_sale")]
    chn = moves[(moves.actor == "CHN") & (moves.direction == "escalate")]
    sanctions = chn[chn.lever.isin(SANCTIONS_ON_US_FIRMS)]
    drills = chn[chn.lever.isin(DRILLS_AT_TAIWAN) & (chn.target == "TWN")]

    def answered(answers: pd.DataFrame) -> int:
        by_run = answers.groupby("index").day.apply(np.sort)
        hits = 0
        for run, day in zip(sales["index"], sales.day, strict=True):
            days = by_run.get(run)
            if days is not None and np.any((days >= day) & (days <= day + window)):
                hits += 1
        return hits

    n = len(sales)
    return {
        "arms-sale notifications": n,
        f"sales answered by sanctions on US firms within {window:g} days": share(
            answered(sanctions), n
        ),
        f"sales answered by drills around Taiwan within {window:g} days": share(
            answered(drills), n
        ),
    }


def taiwan_alerts(moves: pd.DataFrame, window: float = 14.0) -> dict[str, Any]:
    """Taiwan's alerts, and how many came with no PLA move at Taiwan in the days before."""
    alerts = moves[(moves.actor == "TWN") & (moves.lever == "heightened_alert")]
    pla = moves[(moves.actor == "CHN") & (moves.target == "TWN") & (moves.rung >= 5)]
    by_run = pla.groupby("index").day.apply(np.sort)
    unprovoked = 0
    for run, day in zip(alerts["index"], alerts.day, strict=True):
        days = by_run.get(run)
        if days is None or not np.any((days <= day) & (days >= day - window)):
            unprovoked += 1
    return {
        "Taiwan alerts": len(alerts),
        f"alerts with no PLA move at Taiwan in the {window:g} days before": share(
            unprovoked, len(alerts)
        ),
    }


def patron(moves: pd.DataFrame, runs: int) -> dict[str, Any]:
    """Whether and when Washington backs Japan publicly, or at a spokesperson's level."""
    us = moves[moves.actor == "USA"]
    first = us[us.lever == "back_japan"].groupby("index").day.min()
    officials = us[us.lever == "reaffirm_commitment"]["index"].nunique()
    return {
        "US president backs Japan publicly": share(len(first), runs),
        "median day of the first presidential backing": (
            round(float(first.median()), 1) if len(first) else None
        ),
        "US officials reaffirm the commitment to Japan": share(officials, runs),
    }


def pipeline(results: Any) -> dict[str, Any]:
    """Arms-sale cases offered, held back, notified (from the event log columns and moves)."""
    runs = results.runs
    offered = runs.get("occurred_arms_sale_notification")
    moves = results.moves
    notified = moves[(moves.actor == "USA") & (moves.lever == "arms_sale")]
    if offered is None:
        return {}
    total = int(offered.sum())
    return {
        "arms-sale cases offered per run": round(float(offered.mean()), 2),
        "arms sales notified per run": round(len(notified) / len(runs), 2),
        "share of offered cases notified by the horizon": (
            round(len(notified) / total, 3) if total else None
        ),
    }


def summit(results: Any) -> dict[str, Any]:
    """What became of the Beijing visit."""
    events = results.summary.get("events", {}).get("beijing_visit", {})
    out = {k: events[k]["p"] for k in ("held", "cancelled", "postponed") if k in events}
    if "not_reached" in events:
        out["not reached (slipped past the horizon)"] = events["not_reached"] / len(results.runs)
    return out


def check(results: Any) -> dict[str, Any]:
    """Every figure of the story check for one ensemble."""
    runs, horizon = len(results.runs), int(results.summary["horizon_days"])
    moves = results.moves
    out: dict[str, Any] = {
        "scenario": results.summary["scenario"],
        "runs": runs,
        "seed": results.summary["seed"],
        "military crisis (peak >= 6)": share(int((results.runs.peak_rung >= 6).sum()), runs),
    }
    for part in (
        coercion_fading(moves, runs, horizon),
        concession(moves, runs),
        answers_to_arms_sales(moves),
        pipeline(results),
        taiwan_alerts(moves),
        patron(moves, runs),
        {"Beijing visit": summit(results)},
    ):
        out.update(part)
    return out


def main(argv: list[str] | None = None) -> None:
    """Run the ensemble and print the figures as JSON."""
    import sim

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="taiwan-flashpoint-2025")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    results = sim.run(args.scenario, runs=args.runs, seed=args.seed, workers=args.workers)
    print(json.dumps(check(results), indent=2))


if __name__ == "__main__":
    main()
