"""Reporting periods: 12-month windows, their financial quarters, and coverage errors."""

from __future__ import annotations

import datetime as dt

import pytest

from peel_helpers import data
from peel_helpers.core import periods
from peel_helpers.core.errors import PeriodError
from peel_helpers.core.periods import FinancialQuarter, Period


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


def test_period_not_covered_names_the_covered_range():
    available = [FinancialQuarter(2017, q) for q in (1, 2, 3, 4)]
    with pytest.raises(PeriodError) as err:
        periods.require_covered("Crime outcomes", FinancialQuarter(2016, 2), available,
                                "Add the official 2016/17 outcomes workbook.")
    msg = str(err.value)
    assert "2016/17 Q2" in msg and "2017/18 Q1 to 2017/18 Q4" in msg and "\n" not in msg
    missing = periods.missing_quarters(Period.parse("2017-06-30"), available)
    assert [q.label for q in missing] == ["2016/17 Q2", "2016/17 Q3", "2016/17 Q4"]


@pytest.mark.realdata
def test_coverage_of_the_real_sources(real_data_dir):
    """With only the mirror, 2017/18 outcomes are complete and the report window lacks three quarters."""
    quarters = data.outcome_quarters()
    assert periods.missing_quarters(Period.parse("2018-03-31"), quarters) == []
    assert [q.label for q in periods.missing_quarters(periods.REPORT_PERIOD, quarters)] == \
        ["2016/17 Q2", "2016/17 Q3", "2016/17 Q4"]
    ends = data.coverage("recorded_crime")
    periods.require_covered("Recorded crime", dt.date(2017, 6, 30), ends)
    with pytest.raises(PeriodError) as err:
        periods.require_covered("Recorded crime", dt.date(2019, 3, 31), ends)
    assert "2003-03-31 to 2018-12-31" in str(err.value)
    with pytest.raises(PeriodError, match="2002 to 2017"):
        periods.require_covered("Population", 2018, data.coverage("population"))
