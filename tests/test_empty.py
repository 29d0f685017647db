"""Nothing empty printed as content: a section or table with nothing for a force and window is one
sentence saying why and what would fill it, never a table of headers or of dashes. Which measures have
nothing is read here from ``results()`` with plain pandas."""

from __future__ import annotations

import pandas as pd
import pytest

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def nb(real_data_dir, no_user_data_return_module):
    from peel_helpers.measures import clear_caches
    from peel_helpers.reports import notebook

    clear_caches()
    yield notebook
    clear_caches()


@pytest.mark.parametrize("key", ["asb_powers_per_million", "ocg_per_million"])
@pytest.mark.parametrize("period", ["2017-06-30", "2018-03-31"])
def test_a_data_return_section_with_nothing_is_one_sentence(nb, key, period):
    from peel_helpers import results

    rows = results(measures=[key], periods=[period])
    assert rows["value"].isna().all()                     # no force and no England and Wales value
    p = nb.validate(force="Kent", period_end=period)
    shown = [nb.data_return_note(p, key, p.period), nb.chart(p, key), nb.values_table(p, [key]),
             nb.exclusions_note(key, p.period)]
    said = [s for s in shown if s is not None]
    assert len(said) == 1 and isinstance(said[0], nb.Note) and said[0].no_data
    text = said[0].text
    assert "not published as open data" in text                              # why
    assert "data-return file" in text and "PEEL_DATA_RETURN" in text        # what would fill it
    assert text.count(". ") == 0 and text.endswith(".")                      # one sentence


def test_a_table_with_nothing_for_the_force_or_england_and_wales_is_a_sentence(nb, monkeypatch):
    """SYNTHETIC: other forces have a value, this force and England and Wales none."""
    from peel_helpers import results
    from peel_helpers.reports import notebook

    real = results(measures=["da_arrests_per_100"], periods=["2017-06-30"])

    def fake(**kwargs):
        rows = real.copy()
        if kwargs.get("forces") == ["Kent"]:
            rows = rows[rows["force"].isin(["Kent", "England and Wales"])]
            rows["value"] = pd.NA
        elif kwargs.get("aggregates") is False:
            rows = rows[rows["area"] == "force"]
        return rows

    monkeypatch.setattr(notebook, "_results", fake)
    p = nb.validate(force="Kent", period_end="2017-06-30")
    note = nb.values_table(p, ["da_arrests_per_100"])
    assert isinstance(note, nb.Note) and note.text.startswith("No value for Kent or England and Wales")
    assert "data-return file" in note.text


@pytest.mark.parametrize("force", ["Kent", "Cambridgeshire"])
def test_the_ledger_for_a_window_the_report_does_not_cover_prints_no_table(nb, force):
    from peel_helpers.reports import ledger

    frame = ledger.build(force, "2018-03-31")
    assert frame.empty
    for rows in (ledger.display_rows(frame), ledger.summary(frame).to_dict("records"), ledger.source_rows(frame)):
        assert nb.records(rows, ["Id"], caption="anything") is None
    assert any("nothing to compare" in line and "2017-06-30" in line for line in ledger.notes(force, "2018-03-31"))
    said = nb.records([], ["Id"], empty="Nothing here, because; this would fill it.")
    assert isinstance(said, nb.Note) and said.text.startswith("Nothing here")
    full = ledger.build(force, "2017-06-30")
    assert not full.empty and nb.records(ledger.display_rows(full), ["Id"]).rows


@pytest.mark.parametrize("force, period", [("Kent", "2018-03-31"), ("Cambridgeshire", "2017-06-30"),
                                           ("Suffolk", "2017-06-30")])
def test_a_values_table_has_no_line_of_dashes_and_names_part_windows_in_the_line(nb, force, period):
    """Figure 1's table: a window with no value for the force or England and Wales (the 12 months before,
    whose outcome files are not loaded) is one sentence under the table; a value over part of the window
    is the one line of its measure, its months named, with no line of dashes above it."""
    from peel_helpers import results

    keys = ["action_taken", "outcome_charge_summons"]
    p = nb.validate(force=force, period_end=period, comparison_period_end="")
    table = nb.values_table(p, keys, [p.period, p.comparison])
    rows = results(forces=[force], measures=keys, periods=[p.period, p.comparison])
    for q in (p.period, p.comparison):
        mine = rows[rows["period_end"] == q.iso]
        empty = mine["value"].isna().all()
        lines = [r for r in table.rows if q.label in r[1].text]
        assert (lines == []) == empty, (q.label, [r[1].text for r in table.rows])
        assert (f"No value for {force} or England and Wales in the {q.label[:1].lower() + q.label[1:]}"
                in table.footnote) == empty
    assert len(table.rows) == len({(r[0].text, r[1].text) for r in table.rows})      # one line per measure and window
    for line in table.rows:
        assert [c.text for c in line[2:]] != ["–", "–"], line[1].text                 # never a line of dashes
    partial = rows[(rows["basis"] == "partial_window") & (rows["area"] == "force")]
    for window in set(partial["window"]):
        assert [r for r in table.rows if r[1].text.startswith(window)]
