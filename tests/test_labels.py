"""Labels that match what is drawn, on the real results table: a chart's words name its comparison window
only where the data let it draw one; a table's title names the months its rows hold; no chart's caption
repeats its drawn title. What each should say is worked out here from the rows of ``results()``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.realdata

WINDOWS = ["2017-06-30", "2018-03-31"]


@pytest.fixture(scope="module")
def nb(real_data_dir, no_user_data_return_module):
    from peel_helpers.measures import clear_caches
    from peel_helpers.reports import notebook

    clear_caches()
    yield notebook
    clear_caches()


@pytest.mark.parametrize("period", WINDOWS)
def test_figure_1_names_the_earlier_window_only_when_it_draws_it(nb, period):
    from peel_helpers import results

    p = nb.validate(force="Cambridgeshire", period_end=period, comparison_period_end="")
    earlier = results(measures=["action_taken"], aggregates=True)
    has_earlier = bool(earlier.loc[earlier["period_end"] == p.comparison.iso, "value"].notna().any())
    chart = nb.chart(p, "action_taken", compare=True)
    guide = nb.chart_guide(chart).text
    label = p.comparison.label.removeprefix("12 months to ")
    subtitle = " ".join(t.get_text() for t in chart.figure.texts[1:3])
    for text in (subtitle, chart.alt, guide, chart.caption):
        assert (label in text) == has_earlier, text
    assert ("diamond" in guide.lower()) == has_earlier and ("dashed" in guide) == has_earlier
    assert has_earlier or "No comparison is drawn" in guide


@pytest.mark.parametrize("period", WINDOWS)
def test_the_funnel_tables_title_names_the_months_its_rows_hold(nb, period):
    from peel_helpers import results

    rows = results(measures=["action_taken"], periods=[period], aggregates=False)
    windows = set(rows.loc[rows["value"].notna(), "window"])
    assert len(windows) == 1
    (window,) = windows
    p = nb.validate(force="Cambridgeshire", period_end=period)
    caption = nb.funnel_table(p).caption
    assert window in caption, (window, caption)
    if window != p.period.label:                                  # part of the window: never titled as all of it
        assert caption.endswith(f"{window} (part of the {p.period.label[:1].lower() + p.period.label[1:]})")
    assert window in nb.funnel(p).caption


def test_no_chart_in_a_report_repeats_its_title_as_its_caption(nb):
    p = nb.validate(force="Kent", period_end="2018-03-31", comparison_period_end="")
    charts = [nb.chart(p, "action_taken", compare=True), nb.trend(p, "recorded_crime_per_1000"),
              nb.trend(p, "asb_incidents_per_1000", march_only=True), nb.outcome_quarters(p), nb.funnel(p)]
    for chart in charts:
        _, meta = chart._repr_mimebundle_()
        caption, title = meta["peel"].get("caption", ""), meta["peel"]["title"]
        assert caption and caption != title and title not in caption and caption not in title, (title, caption)


def test_a_city_rate_per_resident_carries_its_caveat_wherever_it_is_drawn(nb):
    """The City of London's trend on a rate per resident flattens England and Wales's line: the caveat sits
    under the chart and in its alt text; never on a share, never where the City is not drawn."""
    from peel_helpers import results

    city = nb.validate(force="City of London", period_end="2018-03-31")
    kent = nb.validate(force="Kent", period_end="2018-03-31")
    rows = results(forces=["City of London"], measures=["recorded_crime_per_1000"], aggregates=True)
    mine = rows.loc[(rows["force"] == "City of London") & rows["value"].notna(), "value"].astype(float)
    ew = rows.loc[(rows["force"] == "England and Wales") & rows["value"].notna(), "value"].astype(float)
    assert mine.min() > 5 * ew.max()          # why the caveat is needed: England and Wales drawn flat beside it

    def says(chart) -> tuple[bool, bool]:
        drawn = " ".join(t.get_text() for t in chart.figure.texts)
        return "City of London: a rate per resident" in " ".join(drawn.split()), "(A-CITY)" in chart.alt

    for chart in (nb.trend(city, "recorded_crime_per_1000"), nb.trend(city, "asb_incidents_per_1000", march_only=True)):
        assert says(chart) == (True, True)
        assert "whose line looks flat beside it" in chart.alt
    assert says(nb.trend(kent, "recorded_crime_per_1000")) == (False, False)
    assert says(nb.outcome_quarters(city)) == (False, False)                   # shares: no caveat
    assert says(nb.chart(kent, "recorded_crime_per_1000")) == (True, True)     # the City's bar is drawn
    assert says(nb.chart(kent, "action_taken")) == (False, False)


@pytest.mark.parametrize("period", WINDOWS)
def test_the_trend_chart_names_each_window_it_marks_for_what_it_is(nb, period):
    """A trend chart marks the 2017 report's window (30 June 2017), and this report's window when it
    is another; each mark says which it is, so a report for March 2018 never calls June 2017 its own."""
    p = nb.validate(force="Kent", period_end=period)
    chart = nb.trend(p, "recorded_crime_per_1000")
    drawn = [t.get_text() for t in chart.figure.axes[0].texts]
    assert "2017 report's window" in drawn
    assert ("this report's window" in drawn) == (period != "2017-06-30")
    assert not [t for t in drawn if t in ("report window", "chosen window")]
