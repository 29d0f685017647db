"""Our values beside the official tables that publish the same measure, so that agreement (and every
difference, with its cause) can be shown rather than assumed."""

from __future__ import annotations

import pandas as pd

from .. import data
from ..core.periods import Period
from .rates import implied_denominator
from .table import results


def asb_rates(period) -> pd.DataFrame:
    """Our ASB rate (the period's population base) beside ONS's own published P7 rate, per force, with
    the population each ONS rate implies. Nothing is tuned to make the two agree."""
    period = Period.parse(period)
    ours = results(measures=["asb_incidents_per_1000"], periods=[period], aggregates=False)
    asb = data.load("asb")
    ons = asb[asb["year_ending"] == pd.Timestamp(period.asb_year_ending)].set_index("force")
    out = ours[["force", "numerator", "denominator", "value", "population_year"]].rename(
        columns={"numerator": "incidents", "denominator": "population", "value": "rate_per_1000"})
    out["ons_rate_per_1000"] = ons["ons_rate_per_1000"].reindex(out["force"]).to_numpy()
    out["ons_rate_note"] = ons["ons_rate_note"].reindex(out["force"]).to_numpy()
    out["difference"] = (out["rate_per_1000"] - out["ons_rate_per_1000"]).astype("Float64")
    out["implied_population"] = [implied_denominator(i, r, 1_000) for i, r in
                                 zip(out["incidents"], out["ons_rate_per_1000"])]
    return out.reset_index(drop=True)
