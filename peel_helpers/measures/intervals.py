"""95% intervals for every value with counts behind it: how far chance alone could move a count.

Police recorded crime is a count of every crime recorded, not a survey sample, so these intervals
are not sampling error: they describe the chance (Poisson or binomial) variation of a count of
events, as public health intervals do for deaths or admissions. The method follows the kind of
measure (the Public Health England technical guidance on confidence intervals):

======================  ==========================================================================
rates per head, and     Poisson: Byar's approximation at 10 or more events, the exact (chi-squared)
other rates per base    limits below 10
shares (% of offences,  Wilson's score interval (Wilson 1927; Newcombe 1998)
% of calls)
change on the previous  the ratio of two Poisson counts: given both years' total, this year's count
12 months               is binomial, so the exact (Clopper–Pearson) limits of that binomial share
                        give the ratio's, shown as a % change
======================  ==========================================================================

A value without counts (published in the report, or supplied as a rate) gets no interval and
``ci_method`` says so; so does a negative net count (the source's adjustments can outweigh the
offences, e.g. a not-yet-assigned share below zero), or a share whose count exceeds its base.

scipy supplies the quantiles, vectorised over the whole table: the normal quantile (``ndtri``) and
the inverse regularised incomplete gamma and beta functions (``gammaincinv``, ``betaincinv``), which
are the chi-squared and beta quantiles that ``scipy.stats`` computes with, without the half second
importing ``scipy.stats`` costs. Byar's and Wilson's closed forms are written out here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import MEASURES, MeasureDef

LEVEL = 0.95
BYAR_FROM = 10          # events: Byar's approximation from here, exact limits below
METHODS = {
    "byar": "Poisson, Byar's approximation (10 or more events)",
    "exact": "Poisson, exact limits (fewer than 10 events)",
    "wilson": "Wilson score interval",
    "ratio": "ratio of two Poisson counts, exact conditional binomial (Clopper–Pearson)",
}


def kind(mdef: MeasureDef) -> str:
    """"ratio" (change on the previous 12 months), "share" (a % of a base) or "poisson" (a rate)."""
    if mdef.unit == "% change":
        return "ratio"
    return "share" if mdef.unit.startswith("%") else "poisson"


def _z(level: float) -> float:
    from scipy.special import ndtri        # the standard normal quantile

    return float(ndtri(0.5 + level / 2))


def poisson_limits(count, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Limits of a Poisson count: Byar's approximation at ``BYAR_FROM`` or more events, exact below."""
    from scipy.special import gammaincinv   # chi2.ppf(q, 2k) / 2 == gammaincinv(k, q)

    o = np.asarray(count, dtype=float)
    alpha, z = 1 - level, _z(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        byar_low = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
        byar_high = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
        exact_low = np.where(o > 0, gammaincinv(o, alpha / 2), 0.0)
        exact_high = gammaincinv(o + 1, 1 - alpha / 2)
    byar = o >= BYAR_FROM
    return np.where(byar, byar_low, exact_low), np.where(byar, byar_high, exact_high)


def wilson_limits(count, base, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Wilson's score interval for the proportion ``count / base`` (0 to 1)."""
    x, n = np.asarray(count, dtype=float), np.asarray(base, dtype=float)
    z2 = _z(level) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = np.sqrt(z2) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def ratio_limits(current, previous, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Limits of the ratio of two Poisson counts ``current / previous`` (same length of time): given
    their total, ``current`` is binomial with share R / (1 + R); the exact (Clopper–Pearson) limits
    of that share, turned back into a ratio."""
    from scipy.special import betaincinv    # beta.ppf(q, a, b) == betaincinv(a, b, q)

    c, p = np.asarray(current, dtype=float), np.asarray(previous, dtype=float)
    alpha = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        share_low = np.where(c > 0, betaincinv(c, p + 1, alpha / 2), 0.0)
        share_high = np.where(p > 0, betaincinv(c + 1, p, 1 - alpha / 2), 1.0)
        return share_low / (1 - share_low), np.where(share_high >= 1, np.inf, share_high / (1 - share_high))


# --------------------------------------------------------------------------- the results table

def _refusals(kinds: np.ndarray, num: np.ndarray, den: np.ndarray) -> pd.Series:
    """Why a row with counts gets no interval (NA where it gets one)."""
    ratio = kinds == "ratio"
    current = np.where(ratio, num + den, num)
    negative = (current < 0) | (ratio & (den < 0))
    over = (kinds == "share") & (num > den) & ~negative
    out = pd.Series(pd.NA, index=range(len(num)), dtype="object")
    out[negative] = [f"no interval: the net count is negative ({c:,.0f}{' this year' if r else ''}) after the "
                     "source's adjustments, so no chance model applies" for c, r in zip(current[negative], ratio[negative])]
    out[over] = [f"no interval: the count ({n:,.0f}) exceeds its base ({d:,.0f})" for n, d in zip(num[over], den[over])]
    return out


def add(table: pd.DataFrame) -> pd.DataFrame:
    """``ci_low``, ``ci_high`` (95%, in the value's unit) and ``ci_method`` for every row of the
    results table (columns measure, value, numerator, denominator, basis)."""
    mdefs = table["measure"].map(MEASURES)
    kinds = mdefs.map(kind)
    scale = mdefs.map(lambda m: m.scale).to_numpy(dtype=float)
    value = pd.to_numeric(table["value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    num = pd.to_numeric(table["numerator"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    den = pd.to_numeric(table["denominator"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    counts = ~np.isnan(value) & ~np.isnan(num) & ~np.isnan(den) & (den > 0)
    method = pd.Series(pd.NA, index=table.index, dtype="object")
    no_counts = ~np.isnan(value) & ~counts
    method[no_counts] = "no counts: " + table.loc[no_counts, "basis"].astype(str).str.replace("_", " ") + " value"
    k = kinds.to_numpy()
    refused = np.full(len(table), False)
    why = _refusals(k[counts], num[counts], den[counts])
    refused[np.flatnonzero(counts)[why.notna().to_numpy()]] = True
    method[refused] = why.dropna().to_numpy()
    ok = counts & ~refused
    low, high = np.full(len(table), np.nan), np.full(len(table), np.nan)
    for name, limits in (("poisson", _poisson_rows), ("share", _share_rows), ("ratio", _ratio_rows)):
        rows = ok & (k == name)
        low[rows], high[rows], labels = limits(num[rows], den[rows], scale[rows])
        method[rows] = labels
    out = table.copy()
    out["ci_low"], out["ci_high"], out["ci_method"] = low, high, method
    return out


def _poisson_rows(num, den, scale):
    low, high = poisson_limits(num)
    labels = np.where(num >= BYAR_FROM, METHODS["byar"], METHODS["exact"])
    return low * scale / den, high * scale / den, labels


def _share_rows(num, den, scale):
    low, high = wilson_limits(num, den)
    return low * scale, high * scale, METHODS["wilson"]


def _ratio_rows(num, den, scale):
    low, high = ratio_limits(num + den, den)      # numerator = this year - last year; denominator = last year
    return (low - 1) * scale, (high - 1) * scale, METHODS["ratio"]
