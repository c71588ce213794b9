"""Readable labels of scenario paths: ``actors.CHN.attributes.resolve`` as "China: resolve".

Sweeps and calibrations name their parameters by dotted paths (:mod:`sim.scenario.paths`),
which are what ``--set`` and ``--param`` take but not what a reader should meet in a table
or on an axis. A label names the thing the path reaches by the scenario's own names -- an
actor's name, a lever's or an event's name (its id when it has none, or one too long for
an axis), an alliance's patron and protege -- followed by the field in words:

- ``actors.CHN.attributes.resolve``: "China: resolve"
- ``actors.CHN.levers.seafood_ban.cost.per_day``: "China, seafood import suspension: cost
  per day"
- ``relations.us_japan_treaty.public_backing``: "United States-Japan alliance: public backing"
- ``events.incident_east_china_sea.rate_per_year``: "incident east china sea: rate per year"
- anything else: its parts after the first, in words (``dynamics.hostility_scale``:
  "hostility scale").

A sweep or calibration file may give a parameter its own ``label``, which wins. Labels
are made from the scenario a results folder stores, so an old folder gets them too; the
label never replaces the path in stored tables (JSON, Parquet), and :func:`legend` gives
the "label = path" lines an output shows once, so a reader can copy a path into --set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

#: A lever's or an event's name longer than this is left for its id: a label must fit an axis.
LONGEST_NAME = 40

#: Path parts that say nothing to a reader, left out of the field's words (in this order).
FILLERS = (("attributes",), ("policy", "params"))


class Labelled(Protocol):
    """A parameter of a sweep or a calibration: its path and the label its file gave, if any."""

    @property
    def path(self) -> str: ...  # noqa: D102 - a Protocol's members say what they hold

    @property
    def label(self) -> str | None: ...  # noqa: D102


def parameter_label(scenario: Any, path: str) -> str:
    """Return the label of a dotted path into ``scenario`` (a Scenario or its JSON document).

    Never raises: a part that names nothing in the scenario is shown in words as written.
    """
    return _derived(_document(scenario), path)


def parameter_labels(scenario: Any, parameters: Iterable[str | Labelled]) -> dict[str, str]:
    """Return each parameter's label by path: the one its file gave, else the derived one.

    ``parameters`` are paths or objects with ``path`` and ``label`` (a sweep's
    :class:`~sim.experiments.sweep_spec.Parameter`, a calibration's ``Prior``). Two
    parameters whose labels would read the same are shown by their paths instead.
    """
    document = _document(scenario)
    labels: dict[str, str] = {}
    for p in parameters:
        path, given = (p, None) if isinstance(p, str) else (p.path, p.label)
        labels[path] = given or _derived(document, path)
    shared = {label for label, n in Counter(labels.values()).items() if n > 1}
    return {path: path if label in shared else label for path, label in labels.items()}


#: What an output says before the "label = path" lines of its parameters.
LEGEND_HEADING = "Paths (as --set and --param take them)"


def legend(labels: Mapping[str, str]) -> list[str]:
    """Return a "label = path" line for each labelled path (none where the label is the path)."""
    return [f"{label} = {path}" for path, label in labels.items() if label != path]


def legend_text(labels: Mapping[str, str]) -> str:
    """Return the legend as lines under its heading, for a table's note ('' when none)."""
    lines = legend(labels)
    return "\n".join([f"{LEGEND_HEADING}:", *(f"  {line}" for line in lines)]) if lines else ""


def legend_note(labels: Mapping[str, str]) -> str:
    """Return the legend as one sentence, for a figure's notes ('' when nothing is labelled)."""
    lines = legend(labels)
    return f"{LEGEND_HEADING}: {'; '.join(lines)}." if lines else ""


def _document(scenario: Any) -> Mapping[str, Any]:
    """Return a scenario's JSON document (a validated Scenario is dumped, a mapping is kept)."""
    if hasattr(scenario, "model_dump"):
        return scenario.model_dump(mode="json")
    return scenario if isinstance(scenario, Mapping) else {}


def _derived(document: Mapping[str, Any], path: str) -> str:
    """Return the label a path gets from the scenario's names."""
    parts = [part for part in str(path).split(".") if part]
    if not parts:
        return str(path)
    names = _actor_names(document)
    if len(parts) >= 2 and parts[0] in OWNERS:
        owner, rest = OWNERS[parts[0]](document, parts[1:], names)
        field = _words(rest, names)
        return f"{owner}: {field}" if field else owner
    return _words(parts[1:] or parts, names)


def _actor_names(document: Mapping[str, Any]) -> dict[str, str]:
    """Return each actor's name by id."""
    actors = document.get("actors")
    return {
        str(a["id"]): str(a.get("name") or a["id"])
        for a in actors if isinstance(a, Mapping) and "id" in a
    } if isinstance(actors, list) else {}  # fmt: skip


def _item(document: Mapping[str, Any], section: str, key: str) -> Mapping[str, Any]:
    """Return the item of a list of the document named by id (or position), or {}."""
    return _find(document.get(section), key)


def _find(items: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(items, list):
        return {}
    for item in items:
        if isinstance(item, Mapping) and item.get("id") == key:
            return item
    if key.isdigit() and int(key) < len(items) and isinstance(items[int(key)], Mapping):
        return items[int(key)]
    return {}


def _named(item: Mapping[str, Any], key: str) -> str:
    """Return an item's name, or its id in words when it has none or one too long to show."""
    name = str(item.get("name") or "")
    return name if 0 < len(name) <= LONGEST_NAME else _words([str(item.get("id", key))], {})


def _actor(document: Mapping[str, Any], rest: Sequence[str], names: dict[str, str]) -> Owner:
    """The owner of a path into an actor: the actor, or the actor and one of its levers."""
    actor = names.get(rest[0], _words(rest[:1], {}))
    if len(rest) >= 3 and rest[1] == "levers":
        lever = _find(_item(document, "actors", rest[0]).get("levers"), rest[2])
        return f"{actor}, {_named(lever, rest[2])}", rest[3:]
    return actor, rest[1:]


def _relation(document: Mapping[str, Any], rest: Sequence[str], names: dict[str, str]) -> Owner:
    """The owner of a path into a relation: an alliance by its parties, a dependence by its."""
    item = _item(document, "relations", rest[0])
    if item.get("kind", "alliance") == "alliance" and "patron" in item and "protege" in item:
        patron, protege = (names.get(str(item[k]), str(item[k])) for k in ("patron", "protege"))
        pair = [
            r for r in document.get("relations") or []
            if isinstance(r, Mapping) and (r.get("patron"), r.get("protege"))
            == (item["patron"], item["protege"])
        ]  # fmt: skip
        if len(pair) == 1:  # two alliances of the same parties go by their ids
            return f"{patron}-{protege} alliance", rest[1:]
    if item.get("kind") == "dependence":
        dependent, supplier = (names.get(str(item.get(k)), str(item.get(k))) for k in
                               ("dependent", "supplier"))  # fmt: skip
        sector = _words([str(item.get("sector", ""))], {})
        return f"dependence of {dependent} on {supplier} ({sector})", rest[1:]
    return _words([str(item.get("id", rest[0]))], {}), rest[1:]


def _event(document: Mapping[str, Any], rest: Sequence[str], names: dict[str, str]) -> Owner:
    """The owner of a path into an event: its name (or id)."""
    return _named(_item(document, "events", rest[0]), rest[0]), rest[1:]


def _dyad(document: Mapping[str, Any], rest: Sequence[str], names: dict[str, str]) -> Owner:
    """The owner of a path into a dyad's initial state: the pair, on the start date."""
    pair = _find(document.get("initial"), rest[0]).get("pair") or []
    if len(pair) != 2:
        return f"initial {rest[0]}", rest[1:]
    a, b = (names.get(str(x), str(x)) for x in pair)
    return f"{a}-{b} at the start", rest[1:]


#: What a path's owner and the rest of its parts are.
Owner = tuple[str, Sequence[str]]

#: The sections of a scenario whose items a label names, and how.
OWNERS = {"actors": _actor, "relations": _relation, "events": _event, "initial": _dyad}


def _words(parts: Sequence[str], names: Mapping[str, str]) -> str:
    """Return path parts in words: fillers left out, actor ids by name in parentheses."""
    parts = list(parts)
    for filler in FILLERS:
        if tuple(parts[: len(filler)]) == filler and len(parts) > len(filler):
            parts = parts[len(filler) :]
    words = [f"({names[p]})" if p in names else p.replace("_", " ") for p in parts]
    return " ".join(words)
