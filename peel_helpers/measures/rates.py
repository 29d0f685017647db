"""Rate maths and the England and Wales aggregation rule.

Everything here is plain arithmetic with two rules taken from the report's Annex A:

* England and Wales values are the sum of the included forces' numerators over the sum
  of their denominators. A mean of force rates is never used: it would weight the City
  of London (7,200 residents) the same as the Metropolitan Police (8.8 million).
* Which forces are left out of which measure and year is data, in
  ``data/exclusions.csv`` (measure or family, period end, force, reason, source), not
  code. Every aggregate says which forces it excluded and why.

Flags that qualify a value without excluding it (the City of London population base,
Warwickshire's pro-rata ASB, ...) live in ``data/caveats.csv``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from ..core.forces import FORCE_NAMES, resolve
from ..core.paths import REPO_DATA_DIR
from ..core.periods import Period

EXCLUSIONS_PATH = REPO_DATA_DIR / "exclusions.csv"
CAVEATS_PATH = REPO_DATA_DIR / "caveats.csv"
ENGLAND_AND_WALES = "England and Wales"


# --------------------------------------------------------------------------- scalar / vector maths

def _ratio(numerator, denominator, scale: float):
    """``scale * numerator / denominator``; NA where either is missing or the denominator is 0."""
    if np.ndim(numerator) == 0 and np.ndim(denominator) == 0:
        if numerator is None or denominator is None or pd.isna(numerator) or pd.isna(denominator):
            return None
        if float(denominator) == 0:
            return None
        return scale * float(numerator) / float(denominator)
    num = pd.to_numeric(pd.Series(numerator), errors="coerce").astype("Float64")
    den = pd.to_numeric(pd.Series(denominator), errors="coerce").astype("Float64")
    den = den.mask(den == 0)
    return (num * scale / den).astype("Float64")


def per_1000(count, population):
    """Rate per 1,000 population."""
    return _ratio(count, population, 1_000)


def per_million(count, population):
    """Rate per 1 million population."""
    return _ratio(count, population, 1_000_000)


def per_100(count, base):
    """Count per 100 of ``base`` (e.g. arrests per 100 domestic abuse-related offences)."""
    return _ratio(count, base, 100)


def share_pct(part, whole):
    """``part`` as a percentage of ``whole`` (e.g. outcome proportions)."""
    return _ratio(part, whole, 100)


def pct_change(new, old):
    """Percentage change from ``old`` to ``new``."""
    if np.ndim(new) == 0 and np.ndim(old) == 0:
        if new is None or old is None or pd.isna(new) or pd.isna(old):
            return None
        return _ratio(float(new) - float(old), old, 100)
    new_s = pd.to_numeric(pd.Series(new), errors="coerce").astype("Float64")
    old_s = pd.to_numeric(pd.Series(old), errors="coerce").astype("Float64")
    return _ratio(new_s - old_s, old_s, 100)


def implied_denominator(count: float, rate: float, scale: float) -> float | None:
    """The denominator a published ``rate`` implies for ``count`` (e.g. the population behind a rate)."""
    if rate in (None, 0) or count is None or pd.isna(rate) or pd.isna(count):
        return None
    return scale * float(count) / float(rate)


# --------------------------------------------------------------------------- exclusions and caveats

def _period_key(period) -> str:
    if period is None:
        return "*"
    if isinstance(period, str) and period == "*":
        return "*"
    return Period.parse(period).iso


@lru_cache(maxsize=1)
def _exclusions_table() -> pd.DataFrame:
    table = pd.read_csv(EXCLUSIONS_PATH, dtype="string", keep_default_na=False)
    table["force"] = [resolve(f).name for f in table["force"]]
    return table


@lru_cache(maxsize=1)
def _caveats_table() -> pd.DataFrame:
    table = pd.read_csv(CAVEATS_PATH, dtype="string", keep_default_na=False)
    table["force"] = [resolve(f).name for f in table["force"]]
    return table


def _matching(table: pd.DataFrame, column: str, names: tuple[str, ...], period) -> pd.DataFrame:
    key = _period_key(period)
    mask = table[column].isin(names) & table["period_end"].isin([key, "*"])
    return table[mask]


def exclusions(measure: str, period, family: str | None = None) -> pd.DataFrame:
    """Annex A exclusions (force, reason, source) that apply to ``measure`` (or its ``family``) in ``period``."""
    names = tuple(n for n in (measure, family) if n)
    rows = _matching(_exclusions_table(), "measure", names, period)
    return rows[["force", "reason", "source"]].drop_duplicates("force").reset_index(drop=True)


def caveats(family: str, period, force: str | None = None) -> pd.DataFrame:
    """Flags (force, flag, assumption) that qualify values of ``family`` in ``period``."""
    families = (family, "population") if family != "population" else (family,)
    rows = _matching(_caveats_table(), "family", families, period)
    rows = rows[rows["family"] == family] if family == "population" else rows
    if force is not None:
        rows = rows[rows["force"] == resolve(force).name]
    return rows[["force", "flag", "assumption", "family"]].reset_index(drop=True)


# --------------------------------------------------------------------------- aggregation

@dataclass
class Aggregate:
    """An England and Wales value built from force numerators and denominators."""

    measure: str
    period: str
    value: float | None
    numerator: float | None
    denominator: float | None
    scale: float
    included: list[str] = field(default_factory=list)
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["force", "reason"]))
    note: str | None = None
    published_only: bool = False

    @property
    def excluded_text(self) -> str:
        if self.excluded.empty:
            return "no force excluded"
        return "; ".join(f"{r.force} ({r.reason})" for r in self.excluded.itertuples())


def aggregate(frame: pd.DataFrame, measure: str, period, *, family: str | None = None,
              numerator: str = "numerator", denominator: str = "denominator",
              scale: float = 1.0, min_forces: int = 1) -> Aggregate:
    """England and Wales = scale × Σ numerator / Σ denominator over the included forces.

    A force is left out when Annex A excludes it for this measure (or family) and period,
    or when its numerator or denominator is missing (its ``reason`` column, if any, says why).
    """
    df = frame.copy()
    if "force" not in df:
        raise ValueError("aggregate() needs a 'force' column")
    df["force"] = [resolve(f).name for f in df["force"]]
    rules = exclusions(measure, period, family)
    excluded_rows = []
    rule_reason = dict(zip(rules["force"], "Annex A: " + rules["reason"]))
    keep = []
    for row in df.itertuples(index=False):
        force = row.force
        num, den = getattr(row, numerator), getattr(row, denominator)
        if force in rule_reason:
            excluded_rows.append((force, rule_reason[force]))
        elif pd.isna(num) or pd.isna(den):
            reason = getattr(row, "reason", None)
            excluded_rows.append((force, reason if isinstance(reason, str) and reason else "no data"))
        else:
            keep.append((force, float(num), float(den)))
    # forces absent from the frame entirely are missing too
    present = set(df["force"])
    for force in FORCE_NAMES:
        if force not in present:
            excluded_rows.append((force, rule_reason.get(force, "not in the source")))
    excluded = pd.DataFrame(excluded_rows, columns=["force", "reason"]).astype("string")
    excluded = excluded.set_index("force").reindex([f for f in FORCE_NAMES if f in set(excluded["force"])]).reset_index()
    if len(keep) < min_forces:
        return Aggregate(measure, _period_key(period), None, None, None, scale, [f for f, *_ in keep], excluded,
                         note="too few forces with data for an England and Wales value")
    num_sum = math.fsum(n for _, n, _ in keep)
    den_sum = math.fsum(d for *_, d in keep)
    value = scale * num_sum / den_sum if den_sum else None
    return Aggregate(measure, _period_key(period), value, num_sum, den_sum, scale, [f for f, *_ in keep], excluded)
