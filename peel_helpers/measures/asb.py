"""Anti-social behaviour incidents per 1,000 population (ONS Table P7, years ending 31 March).

ONS publishes ASB incidents by year ending March only, so a period uses the latest year ending
on or before its end (the 12 months to 30 June 2017 use the year ending 31 March 2017). The rate
uses the period's population year (see :mod:`peel_helpers.measures.population`), not ONS's own
rate, which rests on an older estimate; :mod:`peel_helpers.measures.compare` sets the two side by side.
"""

from __future__ import annotations

import pandas as pd

from .. import data
from ..core.periods import Period, describe_range
from . import population
from .rates import rate
from .rules import join_notes
from .registry import MeasureDef


def periods() -> list[Period]:
    """The years ending March that Table P7 covers, as 12-month periods."""
    return [Period(d) for d in data.coverage("asb")]


def rows(measures: list[MeasureDef], wanted: list[Period]) -> pd.DataFrame:
    """Force rows for ASB incidents per 1,000 over ``wanted`` periods."""
    asb = data.load("asb")
    years = sorted(d.date().isoformat() for d in pd.to_datetime(asb["year_ending"].unique()))
    table = pd.DataFrame({"year": [d.date().isoformat() for d in pd.to_datetime(asb["year_ending"])],
                          "force": asb["force"], "numerator": asb["incidents"].astype("Float64"),
                          "note": asb["incidents_note"]})
    frame = population.for_periods(wanted)
    frame["year"] = [p.asb_year_ending.isoformat() for p in wanted for _ in range(len(frame) // len(wanted))]
    frame = frame.merge(table, on=["year", "force"], how="left")
    src = "; ".join(f"{i['filename']} (sha256 {i['sha256']})" for i in data.provenance("asb"))
    gap = [pd.NA if y in years else f"ONS Table P7 has no year ending {y} (it covers years ending "
           f"{describe_range(years)})" for y in frame["year"]]
    frames = []
    for mdef in measures:
        out = frame.rename(columns={"population": "denominator"}).assign(measure=mdef.key)
        out["value"] = rate(out["numerator"], out["denominator"], mdef.scale).to_numpy()
        ok = out["value"].notna().to_numpy()
        why = [g if isinstance(g, str) else (n if isinstance(n, str) else "no ASB count in ONS Table P7")
               if pd.isna(i) else r for g, n, i, r in zip(gap, out["note"], out["numerator"], out["population_reason"])]
        out["basis"] = ["reproduced" if v else "not_available" for v in ok]
        out["status"] = ["ok" if v else "missing" for v in ok]
        out["reason"] = [pd.NA if v else w for v, w in zip(ok, why)]
        out["window"] = [f"year ending 31 March {y[:4]}" for y in out["year"]]
        out["source"] = join_notes([src] * len(out), out["population_source"])
        frames.append(out.drop(columns=["year", "note", "population_reason", "population_source"]))
    return pd.concat(frames, ignore_index=True)
