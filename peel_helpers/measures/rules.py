"""Annex A rules as data: which forces are left out of which measure and year, and which values
carry a caveat.

* ``data/exclusions.csv`` (measure or family, period end or ``*``, force, reason, source): a force
  Annex A leaves out gets no value for that measure and period, and never enters the England and
  Wales sum.
* ``data/caveats.csv`` (family, period end or ``*``, force, flag, assumption, in_sum): a note that
  qualifies a value without removing it (the City of London's resident-only population,
  Warwickshire's pro-rata ASB incidents, ...). Family ``population`` applies to every rate per head.
  A caveated value that enters an England and Wales sum qualifies the sum too: ``in_sum`` is the
  flag the aggregate row carries then (empty: "the sum includes FORCE: FLAG").

Flags are lists of separate strings (a flag may contain "; "), one list per row.
:func:`apply` is the only place these rules touch computed rows.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from ..core.forces import resolve
from ..core.paths import REPO_DATA_DIR
from ..core.periods import Period
from ..core.text import flag_items
from .registry import MEASURES

EXCLUSIONS_PATH = REPO_DATA_DIR / "exclusions.csv"
CAVEATS_PATH = REPO_DATA_DIR / "caveats.csv"


@lru_cache(maxsize=1)
def _table(path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype="string", keep_default_na=False)
    table["force"] = [resolve(f).name for f in table["force"]]
    return table


def _key(period) -> str:
    return "*" if period is None or period == "*" else Period.parse(period).iso


@lru_cache(maxsize=4)
def _matched(path, rule_column: str) -> pd.DataFrame:
    """Every rule row matched to each measure it reaches (the rules are read once per process)."""
    return _table(path).rename(columns={rule_column: "rule"}).merge(_targets(), on="rule")


def _lookup(path, rule_column: str, measure: str, period) -> pd.DataFrame:
    """The rule rows for one measure and period: those for that period, then those for every period
    ('*'), as :func:`_expand` gives them for one (measure, period) row, without a merge per call."""
    matched, key = _matched(path, rule_column), _key(period)
    mine = matched[matched["measure"] == MEASURES[measure].key]
    is_star = mine["period_end"] == "*"
    star = mine[is_star].drop(columns="period_end").assign(period_end=key)
    return pd.concat([mine[~is_star & (mine["period_end"] == key)], star], ignore_index=True)


def exclusions(measure: str, period) -> pd.DataFrame:
    """Annex A exclusions (force, reason, source) for ``measure`` (by key or family) in ``period``."""
    rows = _lookup(EXCLUSIONS_PATH, "measure", measure, period)
    return rows[["force", "reason", "source"]].drop_duplicates("force").reset_index(drop=True)


def exclusions_in(measure: str, periods: list[str]) -> pd.DataFrame:
    """:func:`exclusions` for several periods at once (columns period_end, force, reason, source; each
    period's rows in the order :func:`exclusions` gives them)."""
    wanted = pd.DataFrame({"measure": MEASURES[measure].key, "period_end": [_key(p) for p in periods]})
    rows = _expand(_table(EXCLUSIONS_PATH), "measure", wanted)
    rows = rows[["period_end", "force", "reason", "source"]].drop_duplicates(["period_end", "force"])
    order = {p: i for i, p in enumerate(wanted["period_end"])}
    return rows.sort_values("period_end", key=lambda col: col.map(order), kind="stable").reset_index(drop=True)


def caveats(measure: str, period) -> pd.DataFrame:
    """Flags (force, flag, assumption, in_sum) that qualify ``measure`` in ``period``, population flags
    included; ``in_sum`` is the flag an aggregate that sums the force's value carries."""
    rows = _lookup(CAVEATS_PATH, "family", measure, period)
    return rows.assign(in_sum=_in_sum(rows))[["force", "flag", "assumption", "in_sum"]]


def _in_sum(rows: pd.DataFrame) -> list[str]:
    own = rows["in_sum"] if "in_sum" in rows else [""] * len(rows)
    return [text if isinstance(text, str) and text else f"the sum includes {force}: {flag}"
            for text, force, flag in zip(own, rows["force"], rows["flag"])]


def rules_for(period) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every exclusion and every caveat that reaches any measure in ``period``, for display (a report's
    "About the data"): columns measure, period_end, force, and reason and source, or flag and assumption."""
    wanted = pd.DataFrame({"measure": list(MEASURES), "period_end": _key(period)})
    excl = _expand(_table(EXCLUSIONS_PATH), "measure", wanted)
    cav = _expand(_table(CAVEATS_PATH), "family", wanted)
    return (excl[["measure", "period_end", "force", "reason", "source"]].reset_index(drop=True),
            cav[["measure", "period_end", "force", "flag", "assumption"]].reset_index(drop=True))


def _targets() -> pd.DataFrame:
    """Which rule names reach which measure: its key, its family, and 'population' for rates per head."""
    pairs = [(k, k) for k in MEASURES] + [(m.family, k) for k, m in MEASURES.items()]
    pairs += [("population", k) for k, m in MEASURES.items() if m.uses_population]
    return pd.DataFrame(pairs, columns=["rule", "measure"]).drop_duplicates()


def _expand(table: pd.DataFrame, rule_column: str, rows: pd.DataFrame) -> pd.DataFrame:
    """Rule rows matched to every (measure, period_end, force) they reach in ``rows``; a '*' period
    matches every period."""
    matched = table.rename(columns={rule_column: "rule"}).merge(_targets(), on="rule")
    periods = rows[["measure", "period_end"]].drop_duplicates()
    star = matched[matched["period_end"] == "*"].drop(columns="period_end").merge(periods, on="measure")
    exact = matched[matched["period_end"] != "*"].merge(periods, on=["measure", "period_end"])
    return pd.concat([exact, star], ignore_index=True)


def apply(rows: pd.DataFrame) -> pd.DataFrame:
    """Mark Annex A exclusions and attach caveat flags on force rows (columns measure, period_end,
    force, value, basis, status, reason, flag). Returns a new frame with ``sum_flag``: the flags an
    aggregate that sums the row's value must carry (see :mod:`peel_helpers.measures.aggregate`)."""
    out = rows.copy()
    excl = _expand(_table(EXCLUSIONS_PATH), "measure", out).drop_duplicates(["measure", "period_end", "force"])
    key = ["measure", "period_end", "force"]
    hit = out[key].merge(excl[key + ["reason"]], on=key, how="left")["reason"]
    mask = hit.notna().to_numpy()
    out.loc[mask, "value"] = pd.NA
    out.loc[mask, ["basis", "status"]] = ["not_available", "excluded"]
    out.loc[mask, "reason"] = ("Annex A: " + hit[mask]).to_numpy()
    flags = _expand(_table(CAVEATS_PATH), "family", out)
    flags = flags.assign(in_sum=_in_sum(flags)).groupby(key, sort=False)[["flag", "in_sum"]].agg(list).reset_index()
    joined = out[key].merge(flags, on=key, how="left")
    existing = out["flag"].to_numpy() if "flag" in out else [None] * len(out)
    out["flag"] = merge_flags(existing, joined["flag"].to_numpy())
    out["sum_flag"] = merge_flags(joined["in_sum"].to_numpy())
    return out


def merge_flags(*columns) -> list[list[str]]:
    """Element-wise union of flag columns (each entry a list of flags, one flag string, or missing),
    in order and without repeats. A flag is never split: it may contain "; "."""
    return [list(dict.fromkeys(flag for part in parts for flag in flag_items(part))) for parts in zip(*columns)]


def join_notes(*columns) -> list:
    """Element-wise '; '-join of text columns (sources), skipping missing entries and repeated parts."""
    out = []
    for parts in zip(*columns):
        seen = list(dict.fromkeys(part for part in parts if isinstance(part, str) and part))
        out.append("; ".join(seen) if seen else pd.NA)
    return out
