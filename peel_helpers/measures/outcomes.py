"""Crime outcome shares: of the offences a force recorded in a window, the share that had reached
each outcome when the data were extracted (Home Office outcomes open data, by financial quarter).

A 12-month window spans four financial quarters. The loaded files may hold only some of them (the
offline mirror has 2017/18 only), and a force may lack a quarter the others have. Shares are then
computed over the quarters that exist and labelled ``partial_window`` with the months they cover
("April–June 2017 only: 1 of 4 quarters"); they are never passed off as 12-month values.

Negative counts: the source has rows with negative counts (later reclassifications). They are kept
as published; ``numerator_negative`` and ``denominator_negative`` carry their sums so that a value
they change on display is flagged (see :mod:`peel_helpers.measures.table`).
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from .. import data
from ..core.forces import FORCE_NAMES
from ..core.periods import FinancialQuarter, Period, describe_quarters
from ..core.text import ENGLAND_AND_WALES
from ..data.manifest import outcomes_file_for
from . import rules
from .rates import rate
from .registry import MeasureDef

COLUMNS = ["force", "body", "financial_year", "quarter", "outcome_type", "offences_outcomes"]


def loaded_quarters() -> list[FinancialQuarter]:
    """Financial quarters the outcomes table holds, oldest first."""
    return sorted(data.coverage("outcomes"))


@lru_cache(maxsize=4)
def _quarterly(cache_key: str) -> pd.DataFrame:
    """force × (financial_year, quarter) × outcome_type: sum of counts and sum of the negative ones."""
    oc = data.load("outcomes", columns=COLUMNS)
    oc = oc[oc["body"] == "territorial"]
    counts = oc["offences_outcomes"].astype("Float64")
    frame = pd.DataFrame({"force": oc["force"], "fq": oc["financial_year"] + " Q" + oc["quarter"].astype("string"),
                          "type": oc["outcome_type"], "count": counts, "negative": counts.clip(upper=0)})
    return frame.groupby(["force", "fq", "type"], observed=True)[["count", "negative"]].sum().reset_index()


def periods() -> list[Period]:
    """Every 12-month period whose window holds at least one loaded quarter."""
    out = set()
    for quarter in loaded_quarters():
        p = Period(quarter.end)
        for _ in range(4):
            out.add(p)
            p = _next(p)
    return sorted(out)


def _next(p: Period) -> Period:
    return Period((pd.Timestamp(p.end) + pd.offsets.QuarterEnd(1)).date())


def _missing_text(missing: list[FinancialQuarter]) -> str:
    files = []
    for fy in sorted({q.financial_year for q in missing}):
        src = outcomes_file_for(fy)
        files.append(f"{src.filename} for {fy}" if src else f"no known file for {fy}")
    return (f"outcomes for {', '.join(q.label for q in missing)} are not in the loaded data "
            f"(the Home Office file that supplies them: {'; '.join(files)})")


def window_label(have: list[FinancialQuarter]) -> str:
    """'April–June 2017 only: 1 of 4 quarters'."""
    return f"{describe_quarters(have)} only: {len(have)} of 4 quarters"


def coverage(period) -> dict:
    """Which quarters of ``period``'s window are loaded, which are missing, and which files supply them."""
    period = Period.parse(period)
    loaded = set(loaded_quarters())
    have = [q for q in period.quarters if q in loaded]
    missing = [q for q in period.quarters if q not in loaded]
    files = []
    for fy in sorted({q.financial_year for q in missing}):
        src = outcomes_file_for(fy)
        files.append({"financial_year": fy, "key": getattr(src, "key", None),
                      "filename": getattr(src, "filename", None), "url": getattr(src, "url", None)})
    return {"period": period.label, "needed": [q.label for q in period.quarters],
            "available": [q.label for q in have], "missing": [q.label for q in missing], "files": files,
            "complete": not missing, "window": window_label(have) if have and missing else period.label}


def _windows(wanted: list[Period]) -> pd.DataFrame:
    """period_end × the labels of its window's loaded quarters, with the dataset-level gap text."""
    loaded = set(loaded_quarters())
    recs = []
    for period in wanted:
        have = [q for q in period.quarters if q in loaded]
        missing = [q for q in period.quarters if q not in loaded]
        gap = f"partial window: {_missing_text(missing)}, so no 12-month share is computed" if missing else ""
        recs.append({"period_end": period.iso, "label": period.label, "have": have, "gap": gap,
                     "partial_label": window_label(have) if have else pd.NA})
    return pd.DataFrame(recs).set_index("period_end")


def _counts(wanted: list[Period]) -> pd.DataFrame:
    """(period_end, force, type) sums over each window's quarters: count, negative, and quarters held."""
    pq = pd.DataFrame([(p.iso, q.label) for p in wanted for q in p.quarters], columns=["period_end", "fq"])
    joined = pq.merge(_quarterly(data.table_key("outcomes")), on="fq")
    return joined


def _force_frame(mdef: MeasureDef, grid: pd.MultiIndex, joined: pd.DataFrame, den: pd.DataFrame,
                 n_q: pd.Series) -> pd.DataFrame:
    num = joined[joined["type"].isin(mdef.outcome_types)].groupby(["period_end", "force"])[["count", "negative"]].sum()
    num = num.reindex(grid)
    has = n_q.reindex(grid).fillna(0).astype(int)
    frame = pd.DataFrame({"period_end": grid.get_level_values(0), "force": grid.get_level_values(1),
                          "measure": mdef.key})
    frame["numerator"] = num["count"].fillna(0).where(has.to_numpy() > 0).to_numpy()
    frame["denominator"] = den["count"].reindex(grid).to_numpy()
    frame["numerator_negative"] = num["negative"].fillna(0).to_numpy()
    frame["denominator_negative"] = den["negative"].reindex(grid).fillna(0).to_numpy()
    frame["quarters"] = has.to_numpy()
    frame["value"] = rate(frame["numerator"], frame["denominator"], mdef.scale).to_numpy()
    return frame


def _label_rows(frame: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    w = windows.reindex(frame["period_end"])
    full, some = (frame["quarters"] == 4).to_numpy(), ((frame["quarters"] > 0) & (frame["quarters"] < 4)).to_numpy()
    gap = w["gap"].to_numpy()
    frame["basis"] = ["reproduced" if f else "partial_window" if s else "not_available" for f, s in zip(full, some)]
    frame["status"] = ["ok" if f else "partial" if s else "missing" for f, s in zip(full, some)]
    frame["window"] = [lab if f else pl if s else pd.NA
                       for f, s, lab, pl in zip(full, some, w["label"], w["partial_label"])]
    frame["reason"] = [pd.NA if f else (f"{g}; the value covers {pl}" if g else
                                        f"the force has outcome rows for only {n} of the window's 4 quarters")
                       if s else (g or "no outcome rows for this force in the window")
                       for f, s, g, pl, n in zip(full, some, gap, w["partial_label"], frame["quarters"])]
    return frame.drop(columns="quarters")


def rows(measures: list[MeasureDef], wanted: list[Period]) -> pd.DataFrame:
    """Force rows for the outcome shares over ``wanted`` periods, computed for all periods at once."""
    joined = _counts(wanted)
    den = joined.groupby(["period_end", "force"])[["count", "negative"]].sum()
    n_q = joined.groupby(["period_end", "force"])["fq"].nunique()
    grid = pd.MultiIndex.from_product([[p.iso for p in wanted], list(FORCE_NAMES)], names=["period_end", "force"])
    windows = _windows(wanted)
    out = pd.concat([_label_rows(_force_frame(m, grid, joined, den, n_q), windows) for m in measures],
                    ignore_index=True)
    out["source"] = "; ".join(f"{i['filename']} (sha256 {i['sha256']})" for i in data.provenance("outcomes"))
    return out


@lru_cache(maxsize=32)
def _quarter_exclusions(key: str, quarters: tuple[FinancialQuarter, ...]) -> pd.DataFrame:
    """(fq, force, reason): the forces Annex A leaves out of a 12-month window that contains the quarter.
    Their quarterly values are not shown and never enter the quarter's England and Wales sum, so a
    quarter has the same England and Wales value as the part-window share over that quarter. A force
    left out of several such windows gets the reason of the first (the quarter's own window first).
    Kept per process, as the rules are (the trends section asks for the same quarters twice)."""
    windows = []
    for q_order, quarter in enumerate(quarters):
        period = Period(quarter.end)
        for _ in range(4):              # the four 12-month windows that contain the quarter, in time order
            windows.append((quarter.label, period.iso, q_order))
            period = _next(period)
    windows = pd.DataFrame(windows, columns=["fq", "period_end", "q_order"])
    left = rules.exclusions_in(key, sorted(set(windows["period_end"])))   # in time order too
    left = left.assign(r_order=range(len(left)))
    found = windows.merge(left, on="period_end").sort_values(["q_order", "r_order"], kind="stable")
    recs = list(found[["fq", "force", "reason"]].astype(object).itertuples(index=False, name=None))
    return pd.DataFrame(recs, columns=["fq", "force", "reason"]).drop_duplicates(["fq", "force"]).reset_index(drop=True)


def by_quarter(keys: list[str] | None = None) -> pd.DataFrame:
    """Each outcome share for each loaded financial quarter (the share of the offences recorded in that
    quarter), for every force and for England and Wales (Σ over the forces with that quarter, less
    those Annex A leaves out of a window containing it; those forces have no value, with the reason).

    Columns: force, area, measure, quarter, quarter_end (ISO), value, numerator, denominator, basis,
    status, reason, window, n_forces, excluded, source. These are three-month values: the trends
    section draws them by quarter, never beside 12-month values."""
    from .registry import MEASURES

    q = _quarterly(data.table_key("outcomes"))
    src = "; ".join(f"{i['filename']} (sha256 {i['sha256']})" for i in data.provenance("outcomes"))
    frames = [_one_measure_by_quarter(key, q) for key in keys or [k for k, m in MEASURES.items() if m.outcome_types]]
    out = pd.concat(frames, ignore_index=True).rename(columns={"fq": "quarter"})
    quarters = {q.label: q for q in loaded_quarters()}
    out["quarter_end"] = [quarters[x].end.isoformat() for x in out["quarter"]]
    out["window"] = [f"{x}: {describe_quarters([quarters[x]])}" for x in out["quarter"]]
    out["source"] = src
    return out.sort_values(["measure", "quarter_end", "area", "force"]).reset_index(drop=True)


def _one_measure_by_quarter(key: str, q: pd.DataFrame) -> pd.DataFrame:
    from .registry import MEASURES

    mdef = MEASURES[key]
    num = q[q["type"].isin(mdef.outcome_types)].groupby(["fq", "force"])["count"].sum()
    den = q.groupby(["fq", "force"])["count"].sum()
    frame = pd.DataFrame({"numerator": num.reindex(den.index).fillna(0), "denominator": den}).reset_index()
    left = _quarter_exclusions(key, tuple(loaded_quarters()))
    frame = frame.merge(left, on=["fq", "force"], how="left")
    out_of_sum = frame["reason"].notna()
    summed = frame[~out_of_sum]
    totals = summed.groupby("fq")[["numerator", "denominator"]].sum().reset_index()
    totals["force"], totals["n_forces"] = ENGLAND_AND_WALES, summed.groupby("fq").size().to_numpy()
    named = frame[out_of_sum].groupby("fq").apply(
        lambda g: "; ".join(f"{f} (Annex A: {r})" for f, r in zip(g["force"], g["reason"])), include_groups=False)
    totals["excluded"] = totals["fq"].map(named)
    frame["reason"] = "Annex A: " + frame["reason"]
    frame = pd.concat([frame.assign(area="force"), totals.assign(area="aggregate")], ignore_index=True)
    frame["measure"] = key
    frame["value"] = rate(frame["numerator"], frame["denominator"], mdef.scale).to_numpy()
    excluded = frame["reason"].notna().to_numpy()
    frame.loc[excluded, "value"] = float("nan")
    frame["basis"] = ["not_available" if e else "reproduced" for e in excluded]
    frame["status"] = ["excluded" if e else "ok" for e in excluded]
    return frame
