"""Annex A rules as data: which forces are left out of which measure and year, and which values
carry a caveat.

* ``data/exclusions.csv`` (measure or family, period end or ``*``, force, reason, source): a force
  Annex A leaves out gets no value for that measure and period, and never enters the England and
  Wales sum.
* ``data/caveats.csv`` (family, period end or ``*``, force, flag, assumption): a note that qualifies
  a value without removing it (the City of London's resident-only population, Warwickshire's
  pro-rata ASB incidents, ...). Family ``population`` applies to every rate per head.

:func:`apply` is the only place these rules touch computed rows.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from ..core.forces import resolve
from ..core.paths import REPO_DATA_DIR
from ..core.periods import Period
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


def _lookup(path, rule_column: str, measure: str, period) -> pd.DataFrame:
    wanted = pd.DataFrame({"measure": [MEASURES[measure].key], "period_end": [_key(period)]})
    return _expand(_table(path), rule_column, wanted).reset_index(drop=True)


def exclusions(measure: str, period) -> pd.DataFrame:
    """Annex A exclusions (force, reason, source) for ``measure`` (by key or family) in ``period``."""
    rows = _lookup(EXCLUSIONS_PATH, "measure", measure, period)
    return rows[["force", "reason", "source"]].drop_duplicates("force").reset_index(drop=True)


def caveats(measure: str, period) -> pd.DataFrame:
    """Flags (force, flag, assumption) that qualify ``measure`` in ``period``, population flags included."""
    return _lookup(CAVEATS_PATH, "family", measure, period)[["force", "flag", "assumption"]]


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
    force, value, basis, status, reason, flag). Returns a new frame."""
    out = rows.copy()
    excl = _expand(_table(EXCLUSIONS_PATH), "measure", out).drop_duplicates(["measure", "period_end", "force"])
    key = ["measure", "period_end", "force"]
    hit = out[key].merge(excl[key + ["reason"]], on=key, how="left")["reason"]
    mask = hit.notna().to_numpy()
    out.loc[mask, "value"] = pd.NA
    out.loc[mask, ["basis", "status"]] = ["not_available", "excluded"]
    out.loc[mask, "reason"] = ("Annex A: " + hit[mask]).to_numpy()
    flags = _expand(_table(CAVEATS_PATH), "family", out)
    flags = flags.groupby(key, sort=False)["flag"].agg("; ".join).reset_index()
    joined = out[key].merge(flags, on=key, how="left")["flag"].to_numpy()
    existing = out["flag"].to_numpy() if "flag" in out else [pd.NA] * len(out)
    out["flag"] = join_notes(existing, joined)
    return out


def join_notes(*columns) -> list:
    """Element-wise '; '-join of note columns, skipping missing entries and repeats."""
    out = []
    for parts in zip(*columns):
        seen = []
        for part in parts:
            if isinstance(part, str) and part:
                for piece in part.split("; "):
                    if piece not in seen:
                        seen.append(piece)
        out.append("; ".join(seen) if seen else pd.NA)
    return out
