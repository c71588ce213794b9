"""One self-contained HTML report of a results folder, to open offline or send to someone.

The report holds the figures (PNG, embedded as ``data:`` URIs), the summary's tables -- the
very tables the terminal shows (:mod:`sim.present`), rendered as HTML -- the scenario as it was run
(description, sources, actors, levers, relations, events, outcome classes) and the
manifest. Nothing is linked: a Content-Security-Policy forbids the page to load anything
but its own inline images and styles, so it renders the same with no network and runs no
script.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import UsageError
from sim.present import comparison as comparison_text
from sim.present import summary as summary_text
from sim.present import sweep as sweep_text
from sim.present.table import Block, interval, num, pct
from sim.results.files import REPORT

#: Resolution of the embedded figures (dots per inch).
DPI = 110

#: Nothing may load but inline images and styles: the page is complete as it is.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1060px; margin: 2em auto; padding: 0 1.2em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
.meta { color: #555; margin-top: 0; }
.warn { background: #fdebd0; border-left: 4px solid #D55E00; padding: 0.6em 1em; }
nav a { margin-right: 1em; }
a { color: #0072B2; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e3e3e3; text-align: left;
         vertical-align: top; }
th { background: #f2f6fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
details summary { cursor: pointer; color: #0072B2; }
"""


# --- entry points -----------------------------------------------------------------------------


def write_report(results: Any, out: str | os.PathLike[str] | None = None) -> Path:
    """Write the HTML report of a results folder (or Results object); return its path.

    The report goes to ``out`` (default ``<folder>/report.html``), written under a temporary
    name and moved into place.
    """
    from sim.plots.registry import results_folder
    from sim.results.store import atomic_path

    folder = results_folder(results)
    text = build_report(folder)
    path = Path(out) if out is not None else folder / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def build_report(folder: str | os.PathLike[str]) -> str:
    """Return the report of a results folder (ensemble, comparison, sweep) as one HTML document.

    Raises:
        UsageError: if the folder holds results of a kind with no report.
    """
    from sim.plots.registry import drawn, figures, load_results, results_kind

    folder = Path(folder)
    kind = results_kind(folder)
    builders = {"ensemble": ensemble_report, "comparison": comparison_report, "sweep": sweep_report}
    if kind not in builders:
        raise UsageError(f"{folder}: no report for {kind} results (reports: {', '.join(builders)})")
    loaded = load_results(kind, folder)
    fns = figures(kind)
    skipped: list[Image] = []
    images = [
        Image(name, fns[name].__doc__ or name, png_data_uri(fig))
        for name, fig in drawn(fns, loaded, lambda name, why: skipped.append(Image(name, why)))
    ]
    return builders[kind](loaded, images + skipped)


@dataclass(frozen=True)
class Image:
    """A figure of the report: drawn (``uri``, its PNG), or not (no ``uri``; ``doc`` says why)."""

    name: str
    doc: str
    uri: str | None = None


def png_data_uri(fig: Any, dpi: int = DPI) -> str:
    """Return a matplotlib figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --- the document -----------------------------------------------------------------------------


def ensemble_report(ens: Any, images: Sequence[Image]) -> str:
    """Return the HTML report of an ensemble given its figures."""
    s = ens.summary
    sections = [
        ("summary", "Summary", summary_section(s)),
        ("figures", "Figures", figures_section(images)),
        ("tables", "Tables", tables_section(s)),
        ("scenario", "Scenario", scenario_section(ens.parameters or {})),
        ("manifest", "Manifest", manifest_section(ens.manifest or {})),
    ]
    name = summary_text.labelled(s.get("title") or s["scenario"], s)
    title = f"{name}: {s['runs']:,} runs, seed {s['seed']}"
    return page(title, header(ens), sections)


def page(title: str, heading: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """Return the whole HTML document: heading, a menu of the sections, the sections."""
    nav = "".join(f'<a href="#{key}">{name}</a>' for key, name, _ in sections)
    body = "".join(f'<h2 id="{key}">{name}</h2>\n{content}' for key, name, content in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"{heading}\n<nav>{nav}</nav>\n{body}\n</body>\n</html>\n"
    )


def header(ens: Any) -> str:
    """Return the page's heading: title, scenario, runs, seed, dates, and any warning."""
    s = ens.summary
    made = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    lines = [
        f"<h1>{esc(s.get('title') or s['scenario'])}</h1>",
        f'<p class="meta">scenario <code>{esc(s["scenario"])}</code> &middot; '
        f"{s['runs']:,} runs &middot; seed {s['seed']} &middot; {esc(s['start'])} to "
        f"{esc(s['end'])} ({s.get('horizon_days', '?')} days) &middot; report made {made}</p>",
    ]
    changed = summary_text.variation(s)
    if changed:  # a run of a changed scenario never wears the named scenario's label alone
        lines.insert(1, f'<p class="meta">with <code>{esc(changed)}</code></p>')
    if ens.failed:
        lines.append(
            f'<p class="warn"><strong>{ens.failed:,}</strong> replications raised an error and '
            "are left out of every number below (see the manifest and failures.parquet).</p>"
        )
    if ens.status != "complete":
        lines.append(
            f'<p class="warn">This run is <strong>{esc(ens.status)}</strong>: only '
            f"{ens.n_runs:,} of {ens.runs_requested:,} replications completed; every number "
            "below describes those alone.</p>"
        )
    return "\n".join(lines)


def summary_section(s: Mapping[str, Any]) -> str:
    """Return the key findings in a few sentences, then the outcome table."""
    outcomes = s["outcomes"]
    likely = max(outcomes.values(), key=lambda o: o["p"] if o["p"] is not None else -1)
    watch = s.get("days_to_watch_rung") or {}
    sentences = [
        f"The most likely outcome is <strong>{esc(likely['label'])}</strong> "
        f"({pct(likely['p'])}, 95% CI {interval(likely['ci95'])})."
    ]
    if watch:
        sentences.append(
            f"The overall rung reached <strong>{esc(watch['name'])}</strong> (rung "
            f"{watch['rung']}) or above by the horizon in {pct(watch.get('p_by_end'))} of runs "
            f"(Kaplan-Meier){_median_days(watch)}."
        )
    return f"<p>{' '.join(sentences)}</p>\n{html_block(summary_text.outcomes_table(s))}"


def _median_days(w: Mapping[str, Any]) -> str:
    """Return ", median N days" for a time-to-rung entry, or nothing when undefined."""
    if w.get("median") is None:
        return ""
    return f"; median {num(w['median'], 0)} days"


def figures_section(images: Sequence[Image]) -> str:
    """Return the figures as embedded images with captions; a figure with no image, why not."""
    parts = []
    for image in images:
        name = esc(image.name)
        if image.uri is None:
            parts.append(f'<p class="meta">Not drawn: <code>{name}</code>: {esc(image.doc)}.</p>')
            continue
        caption = esc(image.doc.strip().splitlines()[0])
        parts.append(
            f'<figure id="fig-{name}"><img src="{image.uri}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return "\n".join(parts)


# --- the summary's tables ---------------------------------------------------------------------


def tables_section(s: Mapping[str, Any]) -> str:
    """Return the summary's tables beyond the outcomes, each under its heading."""
    named = [
        ("Peak rung", summary_text.peak_table(s)),
        ("Time to each rung", summary_text.time_to_rung_table(s)),
        ("Exogenous events", summary_text.events_table(s)),
        ("Reached before a scheduled event", summary_text.before_events_table(s)),
        ("Costs", summary_text.costs_table(s)),
        *((t.headers[0], t) for t in summary_text.mean_tables(s)),
        ("Escalation scores", summary_text.scores_table(s)),
        ("Most used levers", summary_text.levers_table(s, shown=None)),
    ]
    return "\n".join(f"<h3>{esc(h)}</h3>\n{html_block(t)}" for h, t in named if t is not None)


# --- the scenario as run ----------------------------------------------------------------------


def scenario_section(p: Mapping[str, Any]) -> str:
    """Return the scenario's description, sources and parameters, as recorded in the manifest."""
    if not p:
        return "<p>The manifest records no scenario parameters.</p>"
    parts = [f"<p>{esc(p.get('description') or '')}</p>", "<h3>Sources</h3>", sources(p)]
    parts += ["<h3>Actors</h3>", actors_table(p), "<h3>Levers</h3>", lever_catalogue(p)]
    parts += ["<h3>Relations</h3>", relations_table(p), "<h3>Events</h3>", events_table(p)]
    parts += ["<h3>Outcome classes</h3>", outcome_classes(p)]
    parts += ["<h3>Escalation ladder</h3>", ladder_table(p), "<h3>Dynamics</h3>", dynamics(p)]
    parts.append(details("All parameters (JSON)", _json(p)))
    return "\n".join(parts)


def sources(p: Mapping[str, Any]) -> str:
    """Return the scenario's sources as a list (URLs shown as text, not loaded)."""
    items = []
    for src in p.get("sources") or []:
        url = (
            f' &lt;<a href="{esc(src["url"])}">{esc(src["url"])}</a>&gt;' if src.get("url") else ""
        )
        items.append(
            f"<li><code>{esc(src.get('id', ''))}</code>: {esc(src.get('citation', ''))}{url}</li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No sources listed.</p>"


def actors_table(p: Mapping[str, Any]) -> str:
    """Return the actors with their dispositions and decision rules."""
    rows = []
    for a in p.get("actors") or []:
        attrs = a.get("attributes") or {}
        policy = a.get("policy") or {}
        rows.append(
            [
                f"{a.get('name', '')} ({a['id']})",
                attrs.get("resolve", "-"),
                attrs.get("risk_tolerance", "-"),
                attrs.get("domestic_pressure", "-"),
                _pairs(attrs.get("stakes")),
                _pairs(attrs.get("exposure")),
                policy.get("name", "-"),
                a.get("review_every_days", "-"),
                len(a.get("levers") or []),
            ]
        )
    headers = ["Actor", "resolve", "risk tolerance", "domestic pressure", "stakes", "exposure",
               "policy", "reviews every (days)", "levers"]  # fmt: skip
    return table(headers, rows, numeric=(1, 2, 3, 7, 8))


def lever_catalogue(p: Mapping[str, Any]) -> str:
    """Return every lever of every actor: direction, rung, CAMEO code, costs and source."""
    rows = []
    for a in p.get("actors") or []:
        for lv in a.get("levers") or []:
            cost = lv.get("cost") or {}
            rows.append(
                [
                    a["id"],
                    lv["id"],
                    lv.get("name", ""),
                    lv.get("direction", ""),
                    lv.get("rung", ""),
                    lv.get("cameo", ""),
                    lv.get("goldstein", ""),
                    f"{cost.get('upfront', 0)} + {cost.get('per_day', 0)}/day",
                    lv.get("source", ""),
                ]
            )
    headers = ["Actor", "lever", "name", "direction", "rung", "CAMEO", "Goldstein", "cost",
               "source"]  # fmt: skip
    return details(f"{len(rows)} levers", table(headers, rows, numeric=(4, 6)), open_=True)


def relations_table(p: Mapping[str, Any]) -> str:
    """Return the relations (alliances and other ties) with their parameters."""
    rows = []
    for r in p.get("relations") or []:
        rest = {k: v for k, v in r.items() if k not in ("kind", "id", "source")}
        rows.append([r.get("kind", ""), r.get("id", ""), _pairs(rest), r.get("source", "")])
    return table(["Kind", "id", "parameters", "source"], rows) if rows else "<p>None.</p>"


def events_table(p: Mapping[str, Any]) -> str:
    """Return the exogenous events: when (date or rate), what they do, and their source."""
    rows = []
    for e in p.get("events") or []:
        if e.get("kind") == "scheduled":
            when = f"on {e.get('date')}"
        else:
            when = f"{e.get('rate_per_year', '?')} a year"
            if e.get("window_start") or e.get("window_end"):
                when += f" ({e.get('window_start') or 'start'} to {e.get('window_end') or 'end'})"
        effects = "; ".join(_pairs(x) for x in e.get("effects") or [])
        rows.append([e.get("name") or e.get("id", ""), e.get("kind", ""), when, effects,
                     e.get("source", "")])  # fmt: skip
    return table(["Event", "kind", "when", "effects", "source"], rows) if rows else "<p>None.</p>"


def outcome_classes(p: Mapping[str, Any]) -> str:
    """Return the outcome classes in the order they are tested, with their conditions."""
    classes = (p.get("outcomes") or {}).get("classes") or []
    rows = [
        [c.get("label") or c["id"], c.get("description", ""), _pairs(c.get("when")),
         "yes" if c.get("ends_run") else "no"]
        for c in classes
    ]  # fmt: skip
    note = "<p>A run takes the first class whose conditions it meets.</p>"
    return table(["Outcome", "description", "when", "ends the run"], rows) + note


def ladder_table(p: Mapping[str, Any]) -> str:
    """Return the escalation ladder, bottom rung first."""
    rows = [
        [i, r.get("name", ""), r.get("description", "")]
        for i, r in enumerate(p.get("ladder") or [])
    ]
    return table(["Rung", "name", "description"], rows, numeric=(0,))


def dynamics(p: Mapping[str, Any]) -> str:
    """Return the global dynamics and the initial state."""
    rows = [
        [k, _pairs(v) if isinstance(v, Mapping) else v]
        for k, v in (p.get("dynamics") or {}).items()
    ]
    initial = [[" - ".join(i.get("pair", [])), _pairs({k: v for k, v in i.items() if k != "pair"})]
               for i in p.get("initial") or []]  # fmt: skip
    return table(["Parameter", "value"], rows) + table(["Initial state of", "values"], initial)


# --- the manifest -----------------------------------------------------------------------------


def manifest_section(m: Mapping[str, Any]) -> str:
    """Return the manifest's main entries as a table and the whole of it as JSON."""
    if not m:
        return "<p>No manifest (results kept in memory).</p>"
    git = m.get("git") or {}
    done = m.get("runs_completed")
    rows: list[list[Any]] = [
        ["status", m.get("status")],
        ["error", m.get("error")],
        ["runs", f"{done} of {m.get('runs')} completed" if done is not None else m.get("runs")],
        ["seed", m.get("seed")],
        ["command", m.get("command")],
        ["started", m.get("started")],
        ["finished", m.get("finished")],
        ["scenario content hash", m.get("content_hash")],
        ["sim version", m.get("package_version")],
        [
            "git commit",
            git.get("commit") and git["commit"] + (" (modified)" if git.get("dirty") else ""),
        ],
        ["environment", _pairs(m.get("environment"))],
    ]
    rows = [r for r in rows if r[1] not in (None, "", "-")]
    rest = {k: v for k, v in m.items() if k != "parameters"}
    return table(["Entry", "value"], rows) + details(
        "Manifest (JSON, without parameters)", _json(rest)
    )


# --- a comparison ----------------------------------------------------------------------------


def comparison_report(cmp: Any, images: Sequence[Image]) -> str:
    """Return the HTML report of a paired comparison given its figures."""
    s = cmp.summary
    base, variant = s["base"], s["variant"]
    change = {arm: summary_text.variation(s, arm) for arm in ("base", "variant")}
    said = {arm: f" with <code>{esc(c)}</code>" if c else "" for arm, c in change.items()}
    heading = (
        f"<h1>{esc(variant.get('title') or variant['scenario'])}</h1>"
        f'<p class="meta">variant <code>{esc(variant["scenario"])}</code>{said["variant"]} '
        f"against base <code>{esc(base['scenario'])}</code>{said['base']} "
        f"({esc(base.get('title', ''))}) &middot; {s['runs']:,} paired runs &middot; "
        f"seed {s['seed']} &middot; {esc(s.get('method', ''))}</p>"
    )
    if cmp.status != "complete":
        heading += f'<p class="warn">This comparison is <strong>{esc(cmp.status)}</strong>.</p>'
    arms = (cmp.manifest or {}).get("arms", {})
    scenarios = "".join(
        details(f"{name}: {arm.get('scenario')} (JSON)", _json(arm.get("parameters", {})))
        for name, arm in arms.items()
    )
    note = (
        "<p>Each arm is a complete results folder (<code>base/</code>, <code>variant/</code>); "
        "<code>sim report</code> on it gives its own full report.</p>"
    )
    sections = [
        ("differences", "Paired differences", differences_table(s)),
        ("figures", "Figures", figures_section(images)),
        ("scenarios", "Scenarios", note + scenarios),
        ("manifest", "Manifest", manifest_section(_without_arm_parameters(cmp.manifest or {}))),
    ]
    title = f"{variant['scenario']} against {base['scenario']}: {s['runs']:,} paired runs"
    return page(title, heading, sections)


def differences_table(s: Mapping[str, Any]) -> str:
    """Return every paired difference with its 95% CI, SEs and what pairing saved."""
    blocks = comparison_text.comparison_blocks(s)[1:]  # the header is the page's heading
    return "\n".join(html_block(b) for b in blocks if b)


def _without_arm_parameters(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Return a comparison manifest with each arm's scenario left out (shown elsewhere)."""
    out = dict(manifest)
    if "arms" in out:
        out["arms"] = {
            k: {kk: vv for kk, vv in v.items() if kk != "parameters"}
            for k, v in out["arms"].items()
        }
    return out


# --- a sweep --------------------------------------------------------------------------------

#: Rows of a sweep's points table shown in its report (all of them are in points.parquet).
SWEEP_ROWS = 200


def sweep_report(data: Any, images: Sequence[Image]) -> str:
    """Return the HTML report of a parameter sweep given its figures."""
    from sim.experiments.designs import design
    from sim.scenario.labels import legend_note

    results, spec = data.results, data.spec
    scenario = data.scenario
    changed = summary_text.labelled(scenario.name, results.changes)
    legend = legend_note(data.labels)  # the parameters go by label below: their paths, once
    heading = (
        f"<h1>{esc(spec.title or scenario.title)}</h1>"
        f'<p class="meta">sweep of <code>{esc(changed)}</code> &middot; '
        f"{esc(spec.describe())}</p>"
    )
    if spec.description:
        heading += f"<p>{esc(spec.description)}</p>"
    if legend:
        heading += f'<p class="meta">{esc(legend)}</p>'
    if data.status != "complete":
        heading += (
            f'<p class="warn">This sweep is <strong>{esc(data.status)}</strong>: only '
            f"{len(data.points):,} of {spec.n_points:,} points finished; every number below "
            "describes those alone.</p>"
        )
    sections = [
        ("figures", "Figures", figures_section(images)),
        ("points", "Points", sweep_points_table(data)),
    ]
    if results.sensitivity is not None:
        ranking = sweep_text.ranking_name(design(spec.design))
        sections.append(("sensitivity", ranking, sensitivity_tables(data)))
    sections += [
        ("sweep", "Sweep", details("The sweep as run (JSON)", _json(spec.model_dump(mode="json")))),
        ("scenario", "Base scenario", scenario_section(results.plan.base.data)),
        ("manifest", "Manifest", manifest_section(data.manifest or {})),
    ]
    title = f"{spec.title or changed}: sweep of {spec.n_points:,} points"
    return page(title, heading, sections)


def sweep_points_table(data: Any) -> str:
    """Return each point's parameter values and outcomes of interest with 95% intervals."""
    from sim.experiments.designs import design

    name = data.scenario.name
    blocks = sweep_text.points_blocks(
        name, data.spec, design(data.spec.design), data.points, data.metrics, shown=SWEEP_ROWS,
        labels=data.labels, changes=data.results.changes,
    )  # fmt: skip
    return "\n".join(html_block(b) for b in blocks[1:])  # the first is the page's heading


def sensitivity_tables(data: Any) -> str:
    """Return the ranked Sobol indices (or Morris effects) of each outcome, with intervals.

    Parameters are named by label, as in the terminal (the page's heading says the paths).
    """
    from sim.experiments.designs import design

    blocks = sweep_text.ranking_blocks(
        design(data.spec.design), data.results.sensitivity, data.metrics, data.labels
    )
    return "\n".join(html_block(b) for b in blocks)


# --- HTML helpers -----------------------------------------------------------------------------


def html_block(block: Block | None) -> str:
    """Return a table of :mod:`sim.present` (title, rows, note) or a paragraph as HTML."""
    if block is None or block == "":
        return ""
    if isinstance(block, str):
        return "<p>" + "<br>".join(esc(line) for line in block.splitlines()) + "</p>"
    title = f"<p><strong>{esc(block.title)}</strong></p>" if block.title else ""
    note = f"<p>{esc(block.note)}</p>" if block.note else ""
    return title + table(block.headers, block.rows, numeric=block.right) + note


def esc(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()
) -> str:
    """Return an HTML table; columns listed in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def details(summary: str, content: str, open_: bool = False) -> str:
    """Return a collapsible block."""
    return (
        f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{content}</details>"
    )


def _json(obj: Any) -> str:
    """Return JSON data as an escaped, preformatted block."""
    from sim.results.store import json_text

    return f"<pre>{esc(json_text(obj))}</pre>"


def _pairs(obj: Any) -> str:
    """Return a flat mapping as ``key: value, ...`` (nested mappings in braces), '-' if empty."""
    if not obj:
        return "-"
    if not isinstance(obj, Mapping):
        return str(obj)
    return ", ".join(
        f"{k}: {{{_pairs(v)}}}" if isinstance(v, Mapping) else f"{k}: {v}"
        for k, v in obj.items()
        if v is not None
    )
