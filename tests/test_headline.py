"""Force in numbers (:mod:`peel_helpers.reports.headline`): the panel of headline figures and the table
beneath it, checked against the rows of ``results()`` read here with plain pandas: one line per measure
(a part-window value in its own line, its months named in the cell, never a second line of dashes), the
period once in the caption, the method once under the table, sources by short title, and each panel
figure with England and Wales and the verdict in a few words."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from peel_helpers.core.periods import Period
from peel_helpers.measures.registry import FORCE_IN_NUMBERS, MEASURES

pytestmark = pytest.mark.realdata

CASES = [("Cambridgeshire", "2017-06-30"), ("City of London", "2018-03-31"), ("Suffolk", "2017-06-30"),
         ("Kent", "2018-03-31")]
SHORT = {"within": "within usual spread", "above": "above usual spread", "below": "below usual spread"}


@pytest.fixture(scope="module")
def rows(real_data_dir, no_user_data_return_module):
    from peel_helpers import results
    from peel_helpers.measures import clear_caches

    clear_caches()
    yield results(measures=list(FORCE_IN_NUMBERS), periods=["2017-06-30", "2018-03-31"])
    clear_caches()


def _p(force, period):
    from peel_helpers.reports import notebook as nb

    return nb.validate(force=force, period_end=period)


def _number(value: float, key: str) -> str:
    mdef = MEASURES[key]
    text = f"{value:+,.{mdef.decimals}f}" if mdef.signed else f"{value:,.{mdef.decimals}f}"
    return text + ("%" if mdef.unit.startswith("%") else "")


def _pairs(rows, force, period):
    """measure -> (the force's row, the England and Wales row), in the registry's order."""
    out = {}
    for key in FORCE_IN_NUMBERS:
        part = rows[(rows["measure"] == key) & (rows["period_end"] == period)]
        mine = part[part["force"] == force].iloc[0]
        ew = part[part["force"] == "England and Wales"].iloc[0]
        out[key] = (mine, ew)
    return out


@pytest.mark.parametrize("force, period", CASES)
def test_one_line_per_measure_with_a_value_and_part_windows_named_in_the_cell(rows, force, period):
    from peel_helpers.reports import notebook as nb

    table = nb.force_in_numbers(_p(force, period))
    label = Period.parse(period).label
    pairs = _pairs(rows, force, period)
    wanted = [k for k, (m, e) in pairs.items() if pd.notna(m["value"]) or pd.notna(e["value"])]
    assert [r[0].text for r in table.rows] == [MEASURES[k].label for k in wanted]      # each once, in order
    assert table.caption.endswith(label.lower()[:1] + label[1:]) or table.caption.endswith(label)
    assert "Period" not in table.columns and not [c for r in table.rows for c in r if c.text == label]
    for line, key in zip(table.rows, wanted):
        mine, ew = pairs[key]
        if pd.isna(mine["value"]):
            assert line[1].text == "–"
            continue
        assert line[1].text == _number(float(mine["value"]), key)
        if mine["basis"] == "partial_window" or not str(mine["window"]).startswith(label):
            if key != "recorded_crime_change_pct":
                assert line[1].window == mine["window"], (key, line[1].window)     # the months, in the cell
        else:
            assert line[1].window == ""
        assert line[3].text == _number(float(ew["value"]), key)
        if mine["vs_ew"] in SHORT:
            assert line[4].text.startswith(SHORT[mine["vs_ew"]])


@pytest.mark.parametrize("force, period", CASES)
def test_the_method_is_said_once_and_sources_go_by_short_title(rows, force, period):
    from peel_helpers.reports import notebook as nb

    table = nb.force_in_numbers(_p(force, period))
    notes = table.notes()
    assert not [n for n in notes if "funnel limits" in n or "τ²" in n or "DerSimonian" in n], notes
    text = table.to_html()
    assert text.count("99.8% limits of the usual spread between forces") == 1
    cells = " ".join(c.plain() for r in table.rows for c in r)
    assert "sha256" not in cells and not re.search(r"\.(csv|xlsx|ods)\b", cells)
    assert "Source" not in table.columns
    sources = next(line for line in table.footnote.splitlines() if line.startswith("Sources"))
    assert "Police recorded crime (recorded crime" in sources and "sha256" not in sources
    missing = [k for k, (m, e) in _pairs(rows, force, period).items() if pd.isna(m["value"]) and pd.isna(e["value"])]
    for key in missing:                         # nothing empty printed as a line: named once, with the reason
        assert MEASURES[key].label.lower()[:1] + MEASURES[key].label[1:] in table.footnote
        assert [r for r in table.rows if r[0].text == MEASURES[key].label] == []


@pytest.mark.parametrize("force, period", CASES)
def test_the_panel_gives_each_figure_with_england_and_wales_and_the_verdict(rows, force, period):
    from peel_helpers.reports import notebook as nb

    panel = nb.panel(_p(force, period))
    pairs = _pairs(rows, force, period)
    have = [k for k, (m, _) in pairs.items() if pd.notna(m["value"])]
    assert [c["measure"] for c in panel.cards] == have
    page = panel.to_html()
    assert "<script" not in page and "class=\"peel-panel\"" in page
    text = html.unescape(re.sub(r"<style>.*?</style>|<[^>]+>", " ", page))
    for card in panel.cards:
        mine, ew = pairs[card["measure"]]
        assert card["value"].startswith(_number(float(mine["value"]), card["measure"]))
        assert card["ew"].startswith(f"England and Wales {_number(float(ew['value']), card['measure'])}")
        verdict = SHORT.get(mine["vs_ew"], "not compared")
        assert card["verdict"] == verdict and verdict in text
        assert len(card["verdict"].split()) <= 3
        assert card["unusual"] == (mine["vs_ew"] in ("above", "below"))
    windows = {pairs[k][0]["window"] for k in have if pairs[k][0]["basis"] == "partial_window"}
    for window in windows:                      # part-window months said once, in the panel's caption
        assert window in panel.caption


def test_the_panel_styles_itself_inline_and_keeps_print_rules_to_its_own_section(rows):
    from peel_helpers.reports import notebook as nb

    page = nb.panel(_p("Kent", "2018-03-31")).to_html()
    (css,) = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert css.startswith("@media print{") and css.endswith("}")        # on screen, the style attributes alone
    selectors = re.findall(r"([^{}]+)\{[^{}]*\}", css[len("@media print{"):-1])
    assert selectors and all(s.strip().startswith((".peel-panel", "section.peel-section:has(.peel-panel)"))
                             for part in selectors for s in part.split(",")), selectors
    assert page.count('style="') > 5 * len(nb.panel(_p("Kent", "2018-03-31")).cards)


def test_a_force_without_any_headline_figure_gets_one_sentence(rows, monkeypatch):
    from peel_helpers.reports import headline

    empty = lambda p: rows[(rows["force"] == "nobody")]   # noqa: E731  (no row at all)
    monkeypatch.setattr(headline, "_rows", empty)
    note = headline.panel(_p("Kent", "2018-03-31"))
    assert note.no_data and note.text.startswith("No headline figure has a value for Kent")
