"""Reporting periods: "12 months to" windows ending on a quarter end, and financial quarters.

The report's headline window is the 12 months to 30 June 2017. Crime outcomes are
published by financial quarter (Q1 = April-June), so that window is
2016/17 Q2, Q3, Q4 and 2017/18 Q1.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Iterable

from .errors import PeriodError

QUARTER_ENDS = {(3, 31), (6, 30), (9, 30), (12, 31)}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]


@dataclass(frozen=True, order=True)
class FinancialQuarter:
    """Financial year starting April ``start_year``; quarter 1 = April-June."""

    start_year: int
    quarter: int

    @property
    def financial_year(self) -> str:
        return f"{self.start_year}/{(self.start_year + 1) % 100:02d}"

    @property
    def end(self) -> dt.date:
        month = {1: 6, 2: 9, 3: 12, 4: 3}[self.quarter]
        year = self.start_year + (1 if self.quarter == 4 else 0)
        return _month_end(year, month)

    @property
    def label(self) -> str:
        return f"{self.financial_year} Q{self.quarter}"

    def __str__(self) -> str:
        return self.label

    @classmethod
    def from_parts(cls, financial_year: str, quarter: int) -> "FinancialQuarter":
        m = re.fullmatch(r"(\d{4})\s*/\s*(\d{2}|\d{4})", str(financial_year).strip())
        if not m or int(quarter) not in (1, 2, 3, 4):
            raise PeriodError(
                f"Bad financial quarter {financial_year!r} Q{quarter}: use a year like '2017/18' and a quarter 1-4."
            )
        return cls(int(m.group(1)), int(quarter))

    @classmethod
    def ending(cls, date: dt.date) -> "FinancialQuarter":
        q = {6: 1, 9: 2, 12: 3, 3: 4}[date.month]
        start = date.year - 1 if date.month == 3 else date.year
        return cls(start, q)


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def parse_date(value: object) -> dt.date:
    """Accept ``2017-06-30``, ``30-06-2017``, ``30/06/2017``, a date or a timestamp."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "date") and callable(value.date):  # pandas Timestamp
        return value.date()
    s = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise PeriodError(
        f"Cannot read the date {value!r}: write the period end as YYYY-MM-DD, e.g. '2017-06-30'."
    )


@dataclass(frozen=True, order=True)
class Period:
    """The 12 months ending on ``end`` (a quarter end)."""

    end: dt.date

    def __post_init__(self):
        if (self.end.month, self.end.day) not in QUARTER_ENDS:
            nearest = _month_end(self.end.year, ((self.end.month - 1) // 3 + 1) * 3)
            raise PeriodError(
                f"Period end {self.end.isoformat()} is not a quarter end: "
                f"use 31 March, 30 June, 30 September or 31 December, e.g. {nearest.isoformat()}."
            )

    @classmethod
    def parse(cls, value: object) -> "Period":
        if isinstance(value, Period):
            return value
        return cls(parse_date(value))

    @property
    def start(self) -> dt.date:
        return self.previous.end + dt.timedelta(days=1)

    @property
    def previous(self) -> "Period":
        return Period(_month_end(self.end.year - 1, self.end.month))

    @property
    def quarters(self) -> list[FinancialQuarter]:
        """The four financial quarters the window spans, oldest first."""
        last = FinancialQuarter.ending(self.end)
        out = [last]
        for _ in range(3):
            q = out[-1]
            out.append(FinancialQuarter(q.start_year - 1, 4) if q.quarter == 1 else FinancialQuarter(q.start_year, q.quarter - 1))
        return out[::-1]

    @property
    def label(self) -> str:
        return f"12 months to {self.end.day} {_MONTHS[self.end.month - 1]} {self.end.year}"

    @property
    def iso(self) -> str:
        return self.end.isoformat()

    @property
    def asb_year_ending(self) -> dt.date:
        """The ASB year (ending 31 March) used for this period: the latest on or before ``end``."""
        year = self.end.year if self.end.month >= 3 else self.end.year - 1
        return dt.date(year, 3, 31)

    @property
    def population_year(self) -> int:
        """Mid-year population estimate the report's rule gives (Annex A: mid-2016 for the
        12 months to 30 June 2017, i.e. the mid-year before the calendar year the period ends in)."""
        return self.end.year - 1

    def __str__(self) -> str:
        return self.label


REPORT_PERIOD = Period(dt.date(2017, 6, 30))
DEFAULT_PERIODS = (REPORT_PERIOD, Period(dt.date(2018, 3, 31)))


def describe_range(items: Iterable[object]) -> str:
    items = sorted(items)
    if not items:
        return "nothing"
    first, last = items[0], items[-1]
    fmt = lambda x: x.isoformat() if isinstance(x, dt.date) else str(x)  # noqa: E731
    return fmt(first) if first == last else f"{fmt(first)} to {fmt(last)}"


def describe_quarters(quarters: Iterable[FinancialQuarter]) -> str:
    """Calendar months a run of financial quarters covers: 'April–June 2017', 'October 2017–March 2018'."""
    qs = sorted(quarters)
    if not qs:
        return "no quarter"
    starts = {1: 4, 2: 7, 3: 10, 4: 1}
    first, last = qs[0], qs[-1]
    start_month = starts[first.quarter]
    start_year = first.start_year + (1 if first.quarter == 4 else 0)
    end = last.end
    if start_year == end.year:
        return f"{_MONTHS[start_month - 1]}\u2013{_MONTHS[end.month - 1]} {end.year}"
    return f"{_MONTHS[start_month - 1]} {start_year}\u2013{_MONTHS[end.month - 1]} {end.year}"
