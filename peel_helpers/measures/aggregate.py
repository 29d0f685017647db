"""England and Wales: Σ numerators / Σ denominators over the forces the rules allow, and a label
that says when it is not that.

Rules, for one measure and period:

* the forces allowed are the 43 less those Annex A leaves out (``data/exclusions.csv``);
* a force enters the sum only with both a numerator and a denominator, and only over the same
  window as the others: a force with part of the window (fewer quarters) never enters a 12-month
  sum; when every counted force has the same part of the window, the sum is over that part and is
  labelled ``partial_window``;
* a sum over fewer forces than allowed is labelled "N of 43 forces", never "England and Wales";
* an England and Wales value the input carries (published in the report) is kept as its own row
  with basis ``published`` unless the sum over forces covers every allowed force;
* a caveat on a force value that enters the sum reaches the sum: the aggregate row's ``flag`` lists
  the ``sum_flag`` items of the force rows summed (Cheshire's 11-month ASB count, ...).

Everything is vectorised over all measures and periods at once: the results table holds about a
thousand (measure, period) pairs.
"""

from __future__ import annotations

import pandas as pd

from ..core.text import ENGLAND_AND_WALES, aggregate_label, flag_items
from .registry import MEASURES

KEY = ["measure", "period_end"]


def _entering(rows: pd.DataFrame) -> pd.Series:
    """Boolean: the force rows that enter their group's sum."""
    allowed = rows["status"] != "excluded"
    counted = allowed & rows["numerator"].notna() & rows["denominator"].notna() & rows["value"].notna()
    partial = rows["basis"] == "partial_window"
    g = pd.DataFrame({"full": counted & ~partial, "part": counted & partial,
                      "window": rows["window"].where(counted & partial)})
    g[KEY] = rows[KEY]
    stats = g.groupby(KEY, sort=False).agg(full=("full", "sum"), part=("part", "sum"), windows=("window", "nunique"))
    mode = stats["full"].gt(0).map({True: "full", False: "none"})
    mode[(stats["full"] == 0) & (stats["part"] > 0) & (stats["windows"] == 1)] = "partial"
    row_mode = rows[KEY].merge(mode.rename("mode").reset_index(), on=KEY, how="left")["mode"].to_numpy()
    return (counted & ~partial & (row_mode == "full")) | (counted & partial & (row_mode == "partial"))


def _why(rows: pd.DataFrame, enters: pd.Series) -> pd.Series:
    """For each allowed force left out of the sum: why."""
    out = pd.Series(pd.NA, index=rows.index, dtype="object")
    excluded = rows["status"] == "excluded"
    out[excluded] = rows.loc[excluded, "reason"]
    left = ~enters & ~excluded
    partial = left & (rows["basis"] == "partial_window")
    out[partial] = "only " + rows.loc[partial, "window"].astype(str)
    rate_only = left & ~partial & rows["value"].notna()
    out[rate_only] = rows.loc[rate_only, "basis"].astype(str) + " rate only, no counts to add"
    other = left & ~partial & ~rate_only
    out[other] = rows.loc[other, "reason"].fillna("no value")
    return out


def _excluded_text(rows: pd.DataFrame, why: pd.Series) -> pd.Series:
    """Per group: 'Suffolk (Annex A: ...); 40 forces (not public: ...)' (names listed when eight or fewer)."""
    left = rows.loc[why.notna(), KEY + ["force"]].assign(why=why[why.notna()].astype(str))
    if left.empty:
        return pd.Series(dtype="object", index=pd.MultiIndex.from_tuples([], names=KEY))
    by_reason = left.groupby(KEY + ["why"], sort=False)["force"].agg(list).reset_index()
    by_reason["text"] = [f"{', '.join(f)} ({w})" if len(f) <= 8 else f"{len(f)} forces ({w})"
                         for f, w in zip(by_reason["force"], by_reason["why"])]
    return by_reason.groupby(KEY, sort=False)["text"].agg("; ".join)


def _basis(kinds: set) -> str:
    if kinds == {"reproduced"}:
        return "reproduced"
    if "partial_window" in kinds:
        return "partial_window"
    return "supplied" if "supplied" in kinds else sorted(kinds)[0]


def _sums(rows: pd.DataFrame, enters: pd.Series) -> pd.DataFrame:
    """Σ numerator and Σ denominator (and negative counts) per group over the entering rows."""
    inside = rows[enters]
    cols = [c for c in ("numerator", "denominator", "numerator_negative", "denominator_negative") if c in rows]
    sums = inside.groupby(KEY, sort=False)[cols].sum()
    sums["n_forces"] = inside.groupby(KEY, sort=False).size()
    sums["kinds"] = inside.groupby(KEY, sort=False)["basis"].agg(lambda b: frozenset(b))
    sums["window"] = inside.groupby(KEY, sort=False)["window"].agg(lambda w: w.iloc[0] if w.nunique() == 1 else pd.NA)
    sums["population_year"] = inside.groupby(KEY, sort=False)["population_year"].first()
    sums["part_reason"] = inside.groupby(KEY, sort=False)["reason"].first()
    if "sum_flag" in inside:
        sums["flag"] = inside.groupby(KEY, sort=False)["sum_flag"].agg(
            lambda column: list(dict.fromkeys(flag for flags in column for flag in flag_items(flags))))
    return sums


def summed(rows: pd.DataFrame) -> pd.DataFrame:
    """One aggregate row per (measure, period) of force ``rows`` (after the Annex A rules)."""
    enters = _entering(rows)
    groups = rows.groupby(KEY, sort=False).agg(n_allowed=("status", lambda s: int((s != "excluded").sum())))
    allowed = rows[rows["status"] != "excluded"].groupby(KEY, sort=False)["reason"]
    groups["common_reason"] = allowed.agg(lambda r: r.iloc[0] if r.notna().all() and r.nunique() == 1 else pd.NA)
    out = groups.join(_sums(rows, enters)).join(_excluded_text(rows, _why(rows, enters)).rename("excluded"))
    out = out.reset_index()
    out["n_forces"] = out["n_forces"].fillna(0).astype(int)
    scale = out["measure"].map({k: m.scale for k, m in MEASURES.items()})
    has = out["n_forces"] > 0
    out["value"] = (out["numerator"] * scale / out["denominator"]).where(has & (out["denominator"] != 0))
    out["basis"] = [_basis(set(k)) if h else "not_available" for k, h in zip(out["kinds"], has)]
    out["status"] = ["partial" if b == "partial_window" else "ok" if h else "missing"
                     for b, h in zip(out["basis"], has)]
    out["force"] = [aggregate_label(n, a) if h else ENGLAND_AND_WALES
                    for n, a, h in zip(out["n_forces"], out["n_allowed"], has)]
    out["reason"] = [(r if b == "partial_window" else pd.NA) if n >= a else
                     (c if isinstance(c, str) else "no force has both a count and a base to add up") if n == 0 else
                     f"sum over {n} of the {a} forces the rules allow, not all of England and Wales"
                     for n, a, b, r, c in zip(out["n_forces"], out["n_allowed"], out["basis"], out["part_reason"],
                                              out["common_reason"])]
    out["area"] = "aggregate"
    return out.drop(columns=["kinds", "n_allowed", "part_reason", "common_reason"])


def rows(force_rows: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Aggregate rows: the sums over forces, and the England and Wales values in ``published`` (kept
    unless the sum covers every allowed force, in which case the published value goes in the note)."""
    sums = summed(force_rows)
    if published.empty:
        return sums
    pub = published.assign(area="aggregate", force=ENGLAND_AND_WALES, status="ok")
    merged = sums.merge(pub[KEY + ["value"]].rename(columns={"value": "published"}), on=KEY, how="left")
    complete = (merged["force"] == ENGLAND_AND_WALES) & (merged["basis"] != "not_available")
    has_pub = merged["published"].notna()
    merged.loc[complete & has_pub, "note"] = [f"England and Wales value published in the report: {v:g}"
                                              for v in merged.loc[complete & has_pub, "published"]]
    keep_sum = ~has_pub | complete | (merged["basis"] != "not_available")
    annex = _excluded_text(force_rows, force_rows["reason"].where(force_rows["status"] == "excluded"))
    pub = pub.merge(merged.loc[has_pub & ~complete, KEY], on=KEY)
    pub["excluded"] = [annex.get((m, p)) for m, p in zip(pub["measure"], pub["period_end"])]
    return pd.concat([pub, merged[keep_sum].drop(columns="published")], ignore_index=True)
