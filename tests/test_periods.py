"""Reporting periods: 12-month windows, their financial quarters, and coverage errors."""

from __future__ import annotations

import datetime as dt

import pytest

from peel_helpers import data
from peel_helpers.core import periods
from peel_helpers.core.errors import PeriodError
from peel_helpers.core.periods import FinancialQuarter, Period, describe_quarters


def test_report_window_spans_four_quarters():
    p = Period.parse("2017-06-30")
    assert [q.label for q in p.quarters] == ["2016/17 Q2", "2016/17 Q3", "2016/17 Q4", "2017/18 Q1"]
    assert p.label == "12 months to 30 June 2017"
    assert p.start == dt.date(2016, 7, 1)
    assert p.previous == Period(dt.date(2016, 6, 30))
    assert p.iso == "2017-06-30"
    assert p.asb_year_ending == dt.date(2017, 3, 31)
    assert p.population_year == 2016
    assert periods.REPORT_PERIOD == p


@pytest.mark.parametrize("value", ["2018-03-31", "31-03-2018", "31/03/2018", dt.date(2018, 3, 31)])
def test_parse_formats(value):
    p = Period.parse(value)
    assert p.end == dt.date(2018, 3, 31)
    assert [q.label for q in p.quarters] == ["2017/18 Q1", "2017/18 Q2", "2017/18 Q3", "2017/18 Q4"]


def test_financial_quarters():
    q = FinancialQuarter.from_parts("2017/18", 1)
    assert q.end == dt.date(2017, 6, 30) and q.label == "2017/18 Q1"
    assert FinancialQuarter(2016, 4).end == dt.date(2017, 3, 31)
    assert FinancialQuarter.ending(dt.date(2017, 12, 31)) == FinancialQuarter(2017, 3)
    with pytest.raises(PeriodError):
        FinancialQuarter.from_parts("2017", 5)


def test_non_quarter_end_is_an_error_with_a_suggestion():
    with pytest.raises(PeriodError) as err:
        Period.parse("2017-05-31")
    msg = str(err.value)
    assert "2017-05-31" in msg and "2017-06-30" in msg and "\n" not in msg
    with pytest.raises(PeriodError, match="YYYY-MM-DD"):
        Period.parse("June 2017")


def test_quarters_become_calendar_months():
    assert describe_quarters([FinancialQuarter(2017, 1)]) == "April–June 2017"
    assert describe_quarters(Period.parse("2018-03-31").quarters) == "April 2017–March 2018"
    assert [q.label for q in Period.parse("2017-06-30").quarters] == ["2016/17 Q2", "2016/17 Q3", "2016/17 Q4",
                                                                       "2017/18 Q1"]


@pytest.mark.realdata
def test_coverage_of_the_real_sources(real_data_dir):
    """With only the mirror, 2017/18 outcomes are complete and the report window lacks three quarters."""
    from peel_helpers import results
    from peel_helpers.measures import outcomes

    assert outcomes.coverage("2018-03-31")["complete"]
    report = outcomes.coverage(periods.REPORT_PERIOD)
    assert report["missing"] == ["2016/17 Q2", "2016/17 Q3", "2016/17 Q4"] and report["available"] == ["2017/18 Q1"]
    assert report["window"] == "April–June 2017 only: 1 of 4 quarters"
    assert data.coverage("recorded_crime")[0] == dt.date(2003, 3, 31)
    with pytest.raises(PeriodError) as err:
        results(periods="2019-03-31")
    assert "2003-03-31 to 2018-12-31" in str(err.value) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- rules pinned by mutation testing

def test_every_quarter_names_its_own_months():
    assert describe_quarters([FinancialQuarter(2017, 1)]) == "April\u2013June 2017"
    assert describe_quarters([FinancialQuarter(2017, 2)]) == "July\u2013September 2017"
    assert describe_quarters([FinancialQuarter(2017, 3)]) == "October\u2013December 2017"
    assert describe_quarters([FinancialQuarter(2017, 4)]) == "January\u2013March 2018"
    # a run that starts in a January-March quarter starts in the next calendar year
    assert describe_quarters([FinancialQuarter(2017, 4), FinancialQuarter(2018, 1)]) == "January\u2013June 2018"
    assert describe_quarters([]) == "no quarter"


def test_describe_range_names_first_and_last():
    days = [dt.date(2018, 3, 31), dt.date(2017, 6, 30), dt.date(2017, 12, 31)]
    assert periods.describe_range(days) == "2017-06-30 to 2018-03-31"
    assert periods.describe_range([dt.date(2017, 6, 30)]) == "2017-06-30"
    assert periods.describe_range(["2017/18 Q1", "2016/17 Q2"]) == "2016/17 Q2 to 2017/18 Q1"
    assert periods.describe_range([]) == "nothing"


def test_year_first_dates_with_slashes():
    assert Period.parse("2018/03/31").end == dt.date(2018, 3, 31)


@pytest.mark.parametrize("day, nearest", [("2017-05-15", "2017-06-30"), ("2017-11-02", "2017-12-31"),
                                          ("2017-01-31", "2017-03-31"), ("2017-08-31", "2017-09-30")])
def test_the_suggested_quarter_end_is_the_one_the_date_falls_in(day, nearest):
    with pytest.raises(PeriodError, match=f"e.g. {nearest}"):
        Period.parse(day)
