"""Text tables fit 100 characters: headers and prose wrap, wide tables stack (issue 18, item 7)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.present.table import NARROWEST, WIDTH, Table, aligned, render, wrapped

PROSE = "a dangerous incident between Chinese and Japanese ships or aircraft near the Senkakus"


def widest_line(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_a_narrow_table_renders_as_before() -> None:
    text = aligned(["name", "p"], [["China", "1.0%"], ["Japan", "12.5%"]], right=[1])
    assert text == "name       p\n-----  -----\nChina   1.0%\nJapan  12.5%"


def test_a_long_text_column_wraps_and_keeps_every_word_in_order() -> None:
    rows = [[PROSE, "held (planned 2025-11-07); 17 runs ended first", "83.0%"]]
    text = aligned(["event", "what", "p"], rows, right=[2])
    assert widest_line(text) <= WIDTH
    rule, *body = text.splitlines()[1:]
    first = len(rule.split("  ")[0])
    assert len(body) > 1
    assert " ".join(line[:first].strip() for line in body) == PROSE
    assert body[0].endswith("83.0%")  # a number stays whole, on its row's first line


def test_wrapped_text_columns_end_up_evenly_wide() -> None:
    rows = [[PROSE, PROSE.upper(), "1.0%"]]
    header, rule = aligned(["a", "b", "p"], rows, right=[2]).splitlines()[:2]
    widths = [len(dashes) for dashes in rule.split("  ")]
    assert abs(widths[0] - widths[1]) <= 1 and widths[2] == 4


def test_numeric_headers_wrap_before_any_text_cell() -> None:
    lever = "statement that a Taiwan contingency could draw in Japan's forces"
    headers = ["Most used levers", "lever", "runs using", "SE", "uses per run", "SE"]
    row = ["Japan", lever, "100%", "0.0%", "1.00", "0.00"]
    text = aligned(headers, [row], right=[2, 3, 4, 5])
    assert lever in text  # the lever's name still fits on one line
    assert widest_line(text) <= WIDTH
    header = text.split("\n-")[0].splitlines()
    assert len(header) > 1 and header[-1].split()[:2] == ["levers", "lever"]  # on the rule


def test_a_table_of_many_short_columns_is_stacked_in_groups_with_its_key() -> None:
    headers = ["kind", *(f"interval {k}" for k in range(8))]
    rows = [
        [f"CHN->USA 0{k}", *(f"2025-0{k % 9 + 1}-13 .. never" for _ in range(8))] for k in range(3)
    ]
    text = aligned(headers, rows)
    assert widest_line(text) <= WIDTH
    parts = text.split("\n\n")
    assert len(parts) > 1
    assert all(part.startswith("kind") for part in parts)
    shown = [h for part in parts for h in re.findall(r"interval \d", part.splitlines()[0])]
    assert shown == [f"interval {k}" for k in range(8)]  # every column once, in order
    assert all("2025-01-13 .. never" in part for part in parts)  # no interval is broken


def test_a_word_longer_than_the_width_is_never_cut() -> None:
    path = "/home/you/results/" + "x" * 120
    assert wrapped(f"results: {path}") == f"results:\n  {path}"


def test_paragraphs_wrap_under_their_own_indentation() -> None:
    paragraph = "Days until first military signalling\n  " + "reached in 89 of 100 runs; " * 6
    text = render([paragraph])
    lines = text.splitlines()
    assert widest_line(text) <= WIDTH
    assert lines[1].startswith("  reached") and lines[2].startswith("    ")


def test_titles_and_notes_wrap() -> None:
    table = Table(["a"], [["1"]], title="t " * 80, note="n " * 80)
    assert widest_line(table.text()) <= WIDTH


words = st.text(alphabet="abcdefghij.%>", min_size=1, max_size=NARROWEST)
cells = st.lists(words, min_size=1, max_size=12).map(" ".join)
numbers = st.floats(-1e6, 1e6).map(lambda x: f"{x:,.2f}") | st.just("[1.2%, 99.0%]")


@settings(max_examples=150, deadline=None)
@given(
    columns=st.integers(min_value=1, max_value=9),
    data=st.data(),
)
def test_any_table_fits_and_loses_no_word(columns: int, data: st.DataObject) -> None:
    headers = data.draw(st.lists(cells, min_size=columns, max_size=columns))
    right = data.draw(st.sets(st.integers(min_value=0, max_value=columns - 1)))
    # Right-aligned columns hold numbers and intervals, which never wrap.
    kinds = [numbers if i in right else cells for i in range(columns)]
    rows = data.draw(st.lists(st.tuples(*kinds).map(list), min_size=1, max_size=5))
    text = aligned(headers, rows, right)
    if columns > 1:  # a single column may hold one cell wider than the page, shown whole
        assert widest_line(text) <= WIDTH
    expected = sorted(w for line in [*headers, *(c for r in rows for c in r)] for w in line.split())
    shown = sorted(w for w in text.split() if set(w) != {"-"})
    # The stacked parts repeat the key column: every word is shown at least once.
    assert set(expected) <= set(shown)


def test_a_mean_difference_shows_the_decimals_its_se_needs() -> None:
    from sim.present.comparison import paired_table
    from sim.present.table import digits_for, num

    assert [digits_for(se) for se in (0.012, 0.2, 3.1, 0.0, None, 1e-7)] == [2, 1, 1, 1, 1, 4]
    row = {"base": 4.84, "variant": 5.12, "difference": 0.28, "ci95": [0.25, 0.31],
           "se": 0.015, "se_independent": 0.017, "variance_reduction": 1.3}  # fmt: skip
    wide = {**row, "difference": 212.5, "ci95": [206.4, 218.6], "se": 3.1}
    table = paired_table("Mean", [("peak rung", row), ("cost", wide)], num, num)
    assert table.rows[0][1:6] == ["4.84", "5.12", "+0.28", "[+0.25, +0.31]", "0.01"]
    assert table.rows[1][3:5] == ["+212.5", "[+206.4, +218.6]"]  # one decimal, as before
