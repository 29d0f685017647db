"""A by-force bar chart's spec and data: :func:`prepare` turns results rows into :class:`ChartData`,
one row per force with its value, basis, reason and window (and the comparison period's), sorted
from highest to lowest, plus the England and Wales rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from ...core.forces import FORCE_NAMES, resolve
from ...core.periods import Period
from ...core.text import format_value
from ...measures.registry import MEASURES
from ...measures.table import aggregate_row
from .style import CUT_RATIO


@dataclass(frozen=True)
class ChartSpec:
    """What to draw: a measure, a period (and optionally a comparison period), and the focal force."""

    measure: str
    period: str
    focal: str
    comparison: str | None = None
    title: str | None = None          # overrides the generated title
    intervals: bool = False           # draw each value's 95% interval as a line through its bar


@dataclass
class ChartData:
    spec: ChartSpec
    forces: pd.DataFrame              # force, value, basis, reason, window, prev, prev_basis, prev_window, drawn
    aggregate: pd.Series | None
    previous_aggregate: pd.Series | None

    @property
    def mdef(self):
        return MEASURES[self.spec.measure]

    def fmt(self, value) -> str:
        return format_value(value, self.mdef.unit, self.mdef.decimals, self.mdef.signed)

    @property
    def rank(self) -> tuple[int | None, int]:
        have = self.forces[self.forces["value"].notna()].sort_values("value", ascending=False, kind="mergesort")
        names = list(have["force"])
        return (names.index(self.spec.focal) + 1 if self.spec.focal in names else None), len(names)

    @property
    def windows(self) -> list[str]:
        """Labels of the part-windows the drawn values cover (empty when all are 12-month values)."""
        rows = self.forces[(self.forces["basis"] == "partial_window") & self.forces["value"].notna()]
        return sorted(set(rows["window"].dropna()))

    @property
    def prev_windows(self) -> list[str]:
        """The same for the comparison period's values (the diamonds)."""
        rows = self.forces[(self.forces["prev_basis"] == "partial_window") & self.forces["prev"].notna()]
        return sorted(set(rows["prev_window"].dropna()))

    @property
    def has_values(self) -> bool:
        return bool(self.forces["value"].notna().any() or self.forces["prev"].notna().any())

    @cached_property
    def cut(self) -> float | None:
        """Where the value axis stops when one force is more than :data:`CUT_RATIO` times the next (the
        City of London's rates per resident), so that the other forces stay readable: past the next
        force and the England and Wales lines. None when no force is that far out."""
        drawn = self.forces[self.forces["drawn"]]
        top = drawn[["value", "prev"]].max(axis=1, skipna=True).dropna().sort_values(ascending=False)
        if len(top) < 2 or top.iloc[1] <= 0 or top.iloc[0] <= CUT_RATIO * top.iloc[1]:
            return None
        lines = [float(r["value"]) for r in (self.aggregate, self.previous_aggregate)
                 if r is not None and pd.notna(r["value"])]
        return max([float(top.iloc[1])] + lines) * 1.25

    @property
    def cut_forces(self) -> pd.DataFrame:
        """The forces drawn past the cut (empty when the axis is not cut)."""
        if self.cut is None:
            return self.forces.iloc[0:0]
        return self.forces[(self.forces["value"] > self.cut) | (self.forces["prev"] > self.cut)]




# --------------------------------------------------------------------------- prepare

def _one_period(rows: pd.DataFrame, period: str | None) -> tuple[pd.DataFrame, pd.Series | None]:
    if period is None:
        return pd.DataFrame(columns=["force", "value", "basis", "reason", "window"]), None
    sel = rows[rows["period_end"] == period]
    forces = sel[sel["area"] == "force"].set_index("force").reindex(list(FORCE_NAMES)).reset_index()
    return forces, aggregate_row(sel)


def _reasons(values: pd.Series, reasons: pd.Series) -> list:
    """Each force's reason: why it has no value ("no value" when the row gives none); beside a value,
    the row's own reason if it has one (a part-window value says why), else nothing."""
    return [r if isinstance(r, str) else (pd.NA if pd.notna(v) else "no value") for v, r in zip(values, reasons)]


def prepare(rows: pd.DataFrame, spec: ChartSpec) -> ChartData:
    """Results rows for one measure -> one row per force, sorted high to low, with the comparison."""
    spec = replace(spec, focal=resolve(spec.focal).name, period=Period.parse(spec.period).iso,
                   comparison=Period.parse(spec.comparison).iso if spec.comparison else None)
    rows = rows[rows["measure"] == spec.measure]
    cur, agg = _one_period(rows, spec.period)
    prev, prev_agg = _one_period(rows, spec.comparison)
    out = pd.DataFrame({"force": list(FORCE_NAMES)})
    out["value"] = pd.to_numeric(cur["value"], errors="coerce").astype(float).to_numpy()
    out["basis"] = cur["basis"].astype(str).to_numpy()
    out["reason"] = _reasons(out["value"], cur["reason"])
    out["window"] = cur["window"].to_numpy()
    for col in ("ci_low", "ci_high"):
        out[col] = pd.to_numeric(cur[col], errors="coerce").astype(float).to_numpy() if col in cur else np.nan
    out["prev"] = pd.to_numeric(prev["value"], errors="coerce").astype(float).to_numpy() if len(prev) else np.nan
    out["prev_basis"] = prev["basis"].astype(str).to_numpy() if len(prev) else "not_available"
    out["prev_reason"] = _reasons(out["prev"], prev["reason"]) if len(prev) else pd.NA
    out["prev_window"] = prev["window"].to_numpy() if len(prev) else pd.NA
    out["drawn"] = out["value"].notna() | out["prev"].notna()
    key = np.where(out["value"].isna(), -np.inf, out["value"])
    out = out.assign(_key=key).sort_values(["_key", "force"], ascending=[False, True], kind="mergesort")
    return ChartData(spec, out.drop(columns="_key").reset_index(drop=True), agg, prev_agg)


