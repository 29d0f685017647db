"""Rate maths: the one place a numerator becomes a rate.

England and Wales values are never means of force rates (that would weight the City of London,
7,200 residents, like the Metropolitan Police, 8.8 million); they are Σ numerators / Σ denominators,
which :mod:`peel_helpers.measures.aggregate` builds with this same function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def rate(numerator, denominator, scale: float):
    """``scale × numerator / denominator``, vectorised; NA where either is missing or the denominator is 0.

    Scalars give a float or None; Series or arrays give a Float64 Series.
    """
    if np.ndim(numerator) == 0 and np.ndim(denominator) == 0:
        if numerator is None or denominator is None or pd.isna(numerator) or pd.isna(denominator):
            return None
        return None if float(denominator) == 0 else scale * float(numerator) / float(denominator)
    num = pd.to_numeric(pd.Series(numerator), errors="coerce").astype("Float64")
    den = pd.to_numeric(pd.Series(denominator), errors="coerce").astype("Float64")
    den = den.mask(den == 0)
    return (num * scale / den).astype("Float64")


def implied_denominator(count, published_rate, scale: float) -> float | None:
    """The denominator a published rate implies for ``count`` (e.g. the population behind a rate)."""
    if count is None or published_rate is None or pd.isna(count) or pd.isna(published_rate) or published_rate == 0:
        return None
    return scale * float(count) / float(published_rate)
