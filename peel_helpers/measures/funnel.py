"""Is a force further from England and Wales than forces usually are? Funnel limits with an
over-dispersion adjustment (Spiegelhalter 2005), and the ``vs_ew`` verdict of the results table.

Why not the plain intervals: recorded crime counts run to tens of thousands, so chance alone moves a
force's rate very little and almost every force would be "different" from England and Wales. Forces
really do differ by more than chance (population, geography, recording practice), so the limits
are widened by the spread between forces that the data themselves show:

1. each force's value ``y`` is put on a scale where its chance variance depends only on its
   denominator ``n``: the square root for rates (variance ``scale / 4n``), the arcsine of the square
   root for shares (``1 / 4n``), and for the change on the previous 12 months the arcsine of the
   square root of this year's share of both years' offences (``1 / 4n(1 + R0)``, with ``R0`` the
   England and Wales ratio);
2. z-scores against England and Wales, ``z = (Y - Y0) / s``, are winsorised at 10% at each end
   (FunnelPlotR's default; it keeps a few extreme forces from setting the spread for all);
3. ``phi = mean(z²)``; the additive between-force variance is the DerSimonian–Laird moment estimate
   ``tau² = (n·phi - (n - 1)) / (Σw - Σw²/Σw)`` with ``w = 1/s²`` (zero when ``n·phi <= n - 1``);
4. the limits are ``Y0 ± z_level · sqrt(s² + tau²)``, turned back into the value's unit; a force is
   ``above`` or ``below`` when its value lies outside the 99.8% limits (``within`` otherwise).

An additive ``tau²`` rather than a multiplicative ``phi`` because the between-force spread does not
shrink as a force grows: multiplying chance variance, which falls with size, would still call
nearly every large force different. Forces without counts (published values) are not compared,
nor a value over a different window from England and Wales's. The City of London's rates per head
rest on a resident population of under 10,000 against several hundred thousand who work in or
visit it, so its rates per head neither enter the estimate nor get a verdict (its shares do).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from ..core.forces import FORCE_NAMES
from ..core.text import ENGLAND_AND_WALES
from .intervals import kind
from .registry import MEASURES, fmt

KEY = ["measure", "period_end"]
VERDICT_LEVEL = 0.998
TRIM = 0.10
MIN_FORCES = 10
SCALES = {"poisson": "square-root", "share": "arcsine square-root", "ratio": "arcsine square-root"}
PER_HEAD_LEFT_OUT = {
    "City of London": "rate per head on a resident population of under 10,000, against the several hundred "
                      "thousand who work in or visit the City (A-CITY), so it is left out of the comparison",
}


def z_of(level: float) -> float:
    """The two-sided normal quantile for ``level`` (1.96 for 0.95, 3.09 for 0.998)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


# --------------------------------------------------------------------------- scales

def to_scale(k: str, y, target, n, scale: float):
    """(Y, Y0, s): values and the England and Wales value on the variance-stabilising scale of kind
    ``k``, and each value's chance standard error there (from its denominator ``n``)."""
    y, t, n = np.asarray(y, float), np.asarray(target, float), np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if k == "poisson":
            return np.sqrt(np.clip(y, 0, None)), np.sqrt(t), np.sqrt(scale / n) / 2
        if k == "share":
            return (np.arcsin(np.sqrt(np.clip(y / scale, 0, 1))), np.arcsin(np.sqrt(np.clip(t / scale, 0, 1))),
                    1 / (2 * np.sqrt(n)))
        ratio, ratio0 = np.clip(1 + y / scale, 0, None), 1 + t / scale
        return (np.arcsin(np.sqrt(ratio / (1 + ratio))), np.arcsin(np.sqrt(ratio0 / (1 + ratio0))),
                1 / (2 * np.sqrt(n * (1 + ratio0))))


def from_scale(k: str, values, scale: float):
    """Back from the scale of kind ``k`` to the value's unit."""
    v = np.asarray(values, float)
    if k == "poisson":
        return np.clip(v, 0, None) ** 2
    share = np.sin(np.clip(v, 0, np.pi / 2)) ** 2
    if k == "share":
        return scale * share
    with np.errstate(divide="ignore"):
        return scale * (share / (1 - share) - 1)


# --------------------------------------------------------------------------- over-dispersion

def overdispersion(z, s, use=None, trim: float = TRIM) -> tuple[np.ndarray, np.ndarray]:
    """(phi, tau²) per row of ``z`` and ``s`` (2-D: groups × units; 1-D: one group) from the units
    where ``use`` is true: z-scores winsorised at ``trim`` at each end (quantiles as R's default),
    ``phi = mean(z²)``, and the DerSimonian–Laird ``tau²`` with weights ``1/s²``."""
    z2d, s2d = np.atleast_2d(np.asarray(z, float)), np.atleast_2d(np.asarray(s, float))
    use = np.isfinite(z2d) & np.isfinite(s2d) & (np.ones_like(z2d, bool) if use is None else np.atleast_2d(use))
    n = use.sum(axis=1)
    zm = np.where(use, z2d, np.nan)
    phi, tau2 = np.full(len(n), np.nan), np.full(len(n), np.nan)
    ok = n >= 2
    if ok.any():
        low = np.nanquantile(zm[ok], trim, axis=1)[:, None]
        high = np.nanquantile(zm[ok], 1 - trim, axis=1)[:, None]
        phi[ok] = np.nansum(np.clip(zm[ok], low, high) ** 2, axis=1) / n[ok]
        w = np.where(use[ok], 1 / s2d[ok] ** 2, 0.0)
        sw, sw2 = w.sum(axis=1), (w ** 2).sum(axis=1)
        excess = n[ok] * phi[ok] - (n[ok] - 1)
        tau2[ok] = np.where(excess > 0, excess / (sw - sw2 / sw), 0.0)
    return (phi, tau2) if np.ndim(z) > 1 else (phi[0], tau2[0])


# --------------------------------------------------------------------------- who is compared

def _targets(table: pd.DataFrame) -> pd.DataFrame:
    """The England and Wales row of each group: its value, window and basis."""
    ew = table[(table["area"] == "aggregate") & (table["force"] == ENGLAND_AND_WALES) & table["value"].notna()]
    ew = ew.drop_duplicates(KEY)[KEY + ["value", "window", "basis"]]
    return ew.rename(columns={"value": "target", "window": "target_window", "basis": "target_basis"})


def _reasons(rows: pd.DataFrame) -> pd.Series:
    """Why each force row is not compared (NA for the rows that are)."""
    per_head = rows["measure"].map(lambda m: MEASURES[m].uses_population).astype(bool)
    ci = rows["ci_method"].astype("object")
    no_interval = ci.fillna("").str.startswith(("no counts", "no interval"))
    left_out = per_head & rows["force"].isin(list(PER_HEAD_LEFT_OUT))
    other_window = rows["window"].astype("object").fillna("") != rows["target_window"].astype("object").fillna("")
    conditions = [rows["value"].isna(), no_interval, left_out, rows["target"].isna(), other_window]
    why = rows["reason"].astype("object") if "reason" in rows else pd.Series(pd.NA, index=rows.index, dtype=object)
    choices = [("no value: " + why).fillna("no value"), ci.str.replace("no interval: ", "not compared: "),
               rows["force"].map(PER_HEAD_LEFT_OUT),
               pd.Series("no England and Wales value from counts to compare with", index=rows.index),
               "this value covers " + rows["window"].astype(str) + "; the England and Wales value "
               + rows["target_window"].astype(str)]
    out = pd.Series(pd.NA, index=rows.index, dtype="object")
    for cond, choice in zip(reversed(conditions), reversed(choices)):   # the first reason that applies wins
        out = out.mask(cond.to_numpy(), choice)
    return out


# --------------------------------------------------------------------------- assessment

@dataclass
class Groups:
    """The compared force rows of every (measure, period) laid out as groups × forces arrays."""

    keys: pd.DataFrame            # measure, period_end, target, target_window, target_basis, kind, scale
    rows: np.ndarray              # group index of each compared row
    cols: np.ndarray              # force index of each compared row
    Y: np.ndarray
    s: np.ndarray
    Y0: np.ndarray


def _lay_out(cand: pd.DataFrame) -> Groups:
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(cand[KEY]))
    keys = pd.DataFrame(list(uniques), columns=KEY)
    keys = keys.merge(cand.drop_duplicates(KEY)[KEY + ["target", "target_window", "target_basis"]], on=KEY)
    keys["kind"] = keys["measure"].map(lambda m: kind(MEASURES[m]))
    keys["scale"] = keys["measure"].map(lambda m: MEASURES[m].scale).astype(float)
    cols = cand["force"].map({f: i for i, f in enumerate(FORCE_NAMES)}).to_numpy(dtype=np.int64)
    shape = (len(keys), len(FORCE_NAMES))
    Y, s, Y0 = np.full(shape, np.nan), np.full(shape, np.nan), np.full(len(keys), np.nan)
    value, den = cand["value"].to_numpy(float), cand["denominator"].to_numpy(float)
    target, scale = keys["target"].to_numpy(float)[codes], keys["scale"].to_numpy()[codes]
    for k in keys["kind"].unique():
        sel = (keys["kind"] == k).to_numpy()[codes]
        y_k, y0_k, s_k = to_scale(k, value[sel], target[sel], den[sel], scale[sel])
        Y[codes[sel], cols[sel]], s[codes[sel], cols[sel]], Y0[codes[sel]] = y_k, s_k, y0_k
    return Groups(keys, codes, cols, Y, s, Y0)


def _method_text(keys: pd.DataFrame, n: np.ndarray, city: set) -> list[str]:
    out = []
    for row, count in zip(keys.itertuples(), n):
        mdef = MEASURES[row.measure]
        where = f", both over {row.target_window}" if row.target_basis == "partial_window" else ""
        spread = (f"widened by an additive over-dispersion tau² = {row.tau2:.3g} on the {SCALES[row.kind]} scale "
                  "(DerSimonian–Laird, from the forces' z-scores winsorised 10% at each end)" if row.tau2 > 0 else
                  "no over-dispersion found (tau² = 0), so the limits are those of chance alone")
        left = "; City of London's rate per head left out" if (row.measure, row.period_end) in city else ""
        out.append(f"99.8% funnel limits around England and Wales ({fmt(row.target, mdef)}{where}), {spread}; "
                   f"{int(count)} forces{left}")
    return out


def assess(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(force rows with vs_ew, vs_ew_method, z, z_adjusted; one row per compared group with target,
    phi, tau2, n and method) for results rows carrying value, denominator, window and ci_method."""
    rows = table[table["area"] == "force"].merge(_targets(table), on=KEY, how="left")
    rows.index = table.index[table["area"] == "force"]
    reason = _reasons(rows)
    cand = rows[reason.isna()]
    for col in ("value", "denominator", "target"):
        cand = cand.assign(**{col: pd.to_numeric(cand[col], errors="coerce").astype(float)})
    g = _lay_out(cand)
    use = ~np.isnan(g.Y)
    n = use.sum(axis=1)
    phi, tau2 = overdispersion((g.Y - g.Y0[:, None]) / g.s, g.s, use)
    enough = n >= MIN_FORCES
    g.keys["phi"], g.keys["tau2"], g.keys["n"] = phi, tau2, n
    city = {tuple(k) for k in rows.loc[reason.fillna("").str.contains("A-CITY") & rows["value"].notna(), KEY].to_numpy()}
    g.keys["method"] = _method_text(g.keys, n, city)
    z = (g.Y[g.rows, g.cols] - g.Y0[g.rows]) / g.s[g.rows, g.cols]
    z_adj = (g.Y[g.rows, g.cols] - g.Y0[g.rows]) / np.sqrt(g.s[g.rows, g.cols] ** 2 + np.nan_to_num(tau2)[g.rows])
    limit = z_of(VERDICT_LEVEL)
    verdict = np.where(z_adj > limit, "above", np.where(z_adj < -limit, "below", "within"))
    few = ~enough[g.rows]
    rows["z"], rows["z_adjusted"] = np.nan, np.nan
    rows.loc[cand.index, "z"], rows.loc[cand.index, "z_adjusted"] = z, z_adj
    rows["vs_ew"] = "not_compared"
    rows.loc[cand.index[~few], "vs_ew"] = verdict[~few]
    method = reason.copy()
    method[cand.index[~few]] = g.keys["method"].to_numpy()[g.rows[~few]]
    method[cand.index[few]] = [f"only {c} forces have counts to compare; at least {MIN_FORCES} are needed to "
                               "estimate the spread between forces" for c in n[g.rows[few]]]
    rows["vs_ew_method"] = method
    return rows, g.keys[enough].reset_index(drop=True)


def compare(table: pd.DataFrame) -> pd.DataFrame:
    """``vs_ew`` (above, below, within, not_compared) and ``vs_ew_method`` for every force row of the
    results table; aggregate rows get neither."""
    rows, _ = assess(table)
    out = table.copy()
    out["vs_ew"], out["vs_ew_method"] = pd.NA, pd.NA
    out.loc[rows.index, "vs_ew"] = rows["vs_ew"]
    out.loc[rows.index, "vs_ew_method"] = rows["vs_ew_method"]
    return out


# --------------------------------------------------------------------------- one funnel, for a chart

@dataclass
class Funnel:
    """One measure and period: every force's value against its denominator, the England and Wales
    value at the centre, and the over-dispersion estimate; :meth:`limits` gives the funnel's curves."""

    measure: str
    period: str
    forces: pd.DataFrame          # one row per force: value, ci_low, ci_high, denominator, basis, window, vs_ew, ...
    aggregate: pd.Series | None   # the England and Wales row (None when there is none)
    fit: pd.Series | None         # target, target_window, kind, scale, phi, tau2, n, method (None: no comparison)

    @property
    def mdef(self):
        return MEASURES[self.measure]

    @property
    def compared(self) -> pd.DataFrame:
        return self.forces[self.forces["vs_ew"].isin(["above", "below", "within"])]

    def limits(self, denominators, level: float = VERDICT_LEVEL, adjusted: bool = True):
        """(low, high) funnel limits at ``denominators``, in the value's unit."""
        f = self.fit
        _, centre, s = to_scale(f["kind"], np.nan, f["target"], denominators, f["scale"])
        spread = np.sqrt(s ** 2 + (f["tau2"] if adjusted else 0.0))
        return (from_scale(f["kind"], centre - z_of(level) * spread, f["scale"]),
                from_scale(f["kind"], centre + z_of(level) * spread, f["scale"]))

    def outside(self, level: float = VERDICT_LEVEL, adjusted: bool = True) -> pd.DataFrame:
        """The compared forces outside the limits at ``level`` (with or without the adjustment)."""
        rows = self.compared
        z = rows["z_adjusted"] if adjusted else rows["z"]
        return rows[z.abs() > z_of(level)]


def funnel(rows: pd.DataFrame) -> Funnel:
    """The :class:`Funnel` of results ``rows`` for one measure and period (force and aggregate rows)."""
    assessed, fits = assess(rows)
    keys = rows[KEY].drop_duplicates()
    if len(keys) != 1:
        raise ValueError(f"funnel() needs the rows of one measure and period, not {len(keys)}")
    measure_key, period = keys.iloc[0]
    ew = rows[(rows["area"] == "aggregate") & (rows["force"] == ENGLAND_AND_WALES) & rows["value"].notna()]
    return Funnel(measure_key, period, assessed.reset_index(drop=True), ew.iloc[0] if len(ew) else None,
                  fits.iloc[0] if len(fits) else None)
