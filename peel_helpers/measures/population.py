"""The population base of every rate per head.

Rule (the report's Annex A, applied to every window): the ONS mid-year estimate for the calendar
year before the one the 12 months end in. The 12 months to 30 June 2017 use mid-2016; the 12 months
to 31 March 2018 use mid-2017. When that year is not in the loaded ONS tables the rate is not
computed, and the reason names the missing year: a neighbouring year is never used silently.
"""

from __future__ import annotations

import pandas as pd

from .. import data
from ..core.forces import FORCE_NAMES
from ..core.periods import Period


def _sources() -> dict[int, str]:
    """mid-year -> 'file (sha256 …)' for the population rows."""
    pop = data.load("population")
    files = {item["key"]: item for item in data.provenance("population")}
    out = {}
    for year, keys in pop.groupby("mid_year")["source_key"].unique().items():
        out[int(year)] = "; ".join(f"{files[k]['filename']} (sha256 {files[k]['sha256']})" for k in keys if k in files)
    return out


def for_periods(periods: list[Period]) -> pd.DataFrame:
    """force × period_end: population, population_year, population_source, population_reason (why none)."""
    pop = data.load("population")
    years = sorted(int(y) for y in pop["mid_year"].unique())
    grid = pd.DataFrame([(p.iso, p.population_year, f) for p in periods for f in FORCE_NAMES],
                        columns=["period_end", "population_year", "force"])
    table = pop[["force", "mid_year", "population"]].rename(columns={"mid_year": "population_year"})
    table["population_year"] = table["population_year"].astype(int)
    out = grid.merge(table, on=["population_year", "force"], how="left")
    out["population"] = pd.to_numeric(out["population"]).astype("Float64")
    out["population_source"] = out["population_year"].map(_sources()).astype("object")
    missing = out["population"].isna()
    out["population_reason"] = pd.NA
    out.loc[missing, "population_reason"] = [
        f"no mid-{y} population estimate in the loaded ONS tables (they cover mid-{years[0]} to mid-{years[-1]}), "
        "so no rate per head is computed" for y in out.loc[missing, "population_year"]]
    out["population_year"] = out["population_year"].astype("Int64")
    return out


def population(period) -> pd.DataFrame:
    """The 43 forces' population base for one ``period``: force, population, population_year, source."""
    frame = for_periods([Period.parse(period)])
    return frame.drop(columns=["period_end"]).reset_index(drop=True)
