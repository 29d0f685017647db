"""Recorded crime excluding fraud: the rate per 1,000 population and the change on the previous
12 months, for every force and every period the Home Office file covers.

Annex A: recorded crime excludes fraud (recorded nationally by Action Fraud and other bodies) and
British Transport Police. The file's rows are rolling 12-month totals, so a period's count is one
row per offence, summed.
"""

from __future__ import annotations

import pandas as pd

from .. import data
from ..core.forces import FORCE_NAMES
from ..core.periods import Period, describe_range
from ..data.readers import FRAUD_OFFENCE
from . import population
from .rates import rate
from .rules import join_notes
from .registry import MeasureDef


def totals() -> pd.DataFrame:
    """period_end (ISO) × force: recorded crime excluding fraud, territorial forces only."""
    rc = data.load("recorded_crime")
    sel = rc[(rc["body"] == "territorial") & (rc["offence"] != FRAUD_OFFENCE)]
    out = sel.groupby(["period_end", "force"])["count"].sum().unstack("force").reindex(columns=list(FORCE_NAMES))
    out.index = [d.date().isoformat() for d in pd.to_datetime(out.index)]
    return out.astype("Float64")


def periods() -> list[Period]:
    """Every 12-month period the recorded crime file covers."""
    return [Period(d) for d in data.coverage("recorded_crime")]


def _long(counts: pd.DataFrame, isos: list[str]) -> pd.Series:
    """(period_end, force) -> count for ``isos`` (NA where the file has no such period)."""
    grid = pd.MultiIndex.from_product([isos, list(FORCE_NAMES)], names=["period_end", "force"])
    return counts.stack().reindex(grid)


def _finish(frame: pd.DataFrame, mdef: MeasureDef, reasons: list) -> pd.DataFrame:
    frame["measure"] = mdef.key
    frame["value"] = rate(frame["numerator"], frame["denominator"], mdef.scale).to_numpy()
    ok = frame["value"].notna().to_numpy()
    frame["basis"] = ["reproduced" if v else "not_available" for v in ok]
    frame["status"] = ["ok" if v else "missing" for v in ok]
    frame["reason"] = [pd.NA if v else r for v, r in zip(ok, reasons)]
    return frame


def rows(measures: list[MeasureDef], wanted: list[Period]) -> pd.DataFrame:
    """Force rows for the recorded crime measures over ``wanted`` periods."""
    counts = totals()
    gap = f"rec-crime-pfa.csv has no 12 months ending on this date (it covers {describe_range(list(counts.index))})"
    src = "; ".join(f"{i['filename']} (sha256 {i['sha256']})" for i in data.provenance("recorded_crime"))
    isos = [p.iso for p in wanted]
    current = _long(counts, isos)
    have = current.index.get_level_values(0).isin(counts.index)
    frames = []
    for mdef in measures:
        if mdef.key == "recorded_crime_change_pct":
            prev = _long(counts, [p.previous.iso for p in wanted]).to_numpy()
            frame = current.rename("numerator").reset_index()
            frame["numerator"] = (current.to_numpy() - prev)
            frame["denominator"] = prev
            frame["window"] = [f"{p.label} vs {p.previous.label.removeprefix('12 months to ')}"
                               for p in wanted for _ in FORCE_NAMES]
            reasons = [gap if not h else f"no 12 months to {p.previous.iso} in rec-crime-pfa.csv to compare with"
                       for h, p in zip(have, (p for p in wanted for _ in FORCE_NAMES))]
            frame["source"] = src
        else:
            pop = population.for_periods(wanted)
            frame = current.rename("numerator").reset_index()
            frame["denominator"] = pop["population"].to_numpy()
            frame["population_year"] = pop["population_year"].to_numpy()
            frame["window"] = [p.label for p in wanted for _ in FORCE_NAMES]
            reasons = [gap if not h else r for h, r in zip(have, pop["population_reason"])]
            frame["source"] = join_notes([src] * len(frame), pop["population_source"])
        frames.append(_finish(frame, mdef, reasons))
    return pd.concat(frames, ignore_index=True)
