"""Is a force further from England and Wales than chance, or than forces usually are? Funnel limits
(Spiegelhalter 2005) with an additive between-force variance, and the two verdicts of the results
table: ``vs_ew`` (against the usual spread between forces) and ``vs_ew_chance`` (against chance alone).

Why two: recorded crime counts run to tens of thousands, so chance alone moves a force's rate very
little and almost every force is "different" from England and Wales by chance alone. Forces really
do differ by more than chance (population, geography, recording practice), so the second question,
"is the force unusual among forces?", widens the limits by the spread between forces that the data
themselves show. Both are given; neither says a force is better or worse.

1. Each force's value ``y`` is put on a scale where its chance variance depends only on its
   denominator ``n``: the square root for rates (variance ``scale / 4n``), the arcsine of the square
   root for shares (``1 / 4n``), and for the change on the previous 12 months the log of the ratio of
   the two years' counts (variance ``1/O1 + 1/O0``, the ratio-of-counts form of FunnelPlotR). The
   change's funnel is drawn against last year's count ``n = O0``, so its variance is evaluated at the
   England and Wales ratio ``R0`` (``O1 ≈ R0·n``): ``(1 + 1/R0) / n``. The limits are then a curve in
   ``n`` alone, and a force is outside them exactly when its verdict says so. FunnelPlotR uses each
   unit's own counts instead (``1/O1 + 1/O0``, with 0.5 added to each count); the two standard errors
   differ by up to 6% on these data, and give the same verdicts but one (``docs/statistics.md``).
2. The between-force variance is the DerSimonian–Laird estimate exactly as metafor's
   ``rma(yi, vi, method = "DL")`` computes it, with ``yi = Y`` and ``vi = s²``: ``Q`` is the weighted
   sum of squares around the forces' inverse-variance weighted mean (not around England and Wales),
   ``tau² = max(0, (Q - (k - 1)) / (Σw - Σw²/Σw))`` with ``w = 1/s²``. No winsorising: Spiegelhalter's
   10% winsorising of the z-scores (FunnelPlotR's default) shrinks ``tau²`` when there are no
   outliers, and limits called "99.8%" then flag about ten times as often as 0.2% (measured by
   ``bench/bench_funnel_calibration.py``; see ``docs/statistics.md``).
3. ``phi = mean(z²)``, ``z = (Y - Y0) / s`` against the centre ``Y0``: how many times its chance
   variance a force's squared distance from England and Wales is on average (reported, not used).
4. The limits are ``Y0 ± z_level · sqrt(s² + tau²)`` (spread between forces) and
   ``Y0 ± z_level · s`` (chance alone), turned back into the value's unit; a force is ``above`` or
   ``below`` when its value lies outside the 99.8% limits, ``within`` otherwise. Each compared row
   carries both 99.8% limits at its own denominator.

The centre is the England and Wales value. The City of London's rates per head rest on a resident
population of under 10,000 against the several hundred thousand who work in or visit it, so its rates
per head neither enter the estimate nor get a verdict (its shares do); for the same reason the centre
of a rate per head is England and Wales without the City of London (its count and population taken
out of England and Wales's), so that the centre and the spread describe the same forces.

An additive ``tau²`` rather than a multiplicative ``phi`` because the between-force spread does not
shrink as a force grows. After the adjustment the limits are nearly flat: the spread between forces is
hundreds to thousands of times each force's chance variance. Forces without counts (published
values) are not compared, nor a value over a different window from England and Wales's.
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
MIN_FORCES = 10
SCALES = {"poisson": "square-root", "share": "arcsine square-root", "ratio": "log ratio"}
ESTIMATOR = 'DerSimonian–Laird τ² (metafor rma, method "DL"), no winsorising'
PER_HEAD_LEFT_OUT = {
    "City of London": "rate per head on a resident population of under 10,000, against the several hundred "
                      "thousand who work in or visit the City (A-CITY), so it is left out of the comparison",
}
VERDICTS = ("above", "below", "within")
LIMIT_COLUMNS = ("vs_ew_low", "vs_ew_high", "vs_ew_chance_low", "vs_ew_chance_high")


def z_of(level: float) -> float:
    """The two-sided normal quantile for ``level`` (1.96 for 0.95, 3.09 for 0.998)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


# --------------------------------------------------------------------------- scales

def to_scale(k: str, y, target, n, scale: float):
    """(Y, Y0, s): values and the centre on the variance-stabilising scale of kind ``k``, and each
    value's chance standard error there (from its denominator ``n``)."""
    y, t, n = np.asarray(y, float), np.asarray(target, float), np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if k == "poisson":
            return np.sqrt(np.clip(y, 0, None)), np.sqrt(t), np.sqrt(scale / n) / 2
        if k == "share":
            return (np.arcsin(np.sqrt(np.clip(y / scale, 0, 1))), np.arcsin(np.sqrt(np.clip(t / scale, 0, 1))),
                    1 / (2 * np.sqrt(n)))
        ratio, ratio0 = np.clip(1 + y / scale, 1e-12, None), 1 + t / scale
        return np.log(ratio), np.log(ratio0), np.sqrt((1 + 1 / ratio0) / n)


def from_scale(k: str, values, scale: float):
    """Back from the scale of kind ``k`` to the value's unit."""
    v = np.asarray(values, float)
    if k == "poisson":
        return np.clip(v, 0, None) ** 2
    if k == "share":
        return scale * np.sin(np.clip(v, 0, np.pi / 2)) ** 2
    return scale * (np.exp(v) - 1)


# --------------------------------------------------------------------------- the spread between forces

def dersimonian_laird(y, s, use=None) -> tuple[np.ndarray, np.ndarray]:
    """(Q, tau²) per row of ``y`` and ``s`` (2-D: groups × units; 1-D: one group) from the units where
    ``use`` is true, as metafor's ``rma(yi = y, vi = s², method = "DL")``: ``Q`` around the
    inverse-variance weighted mean, ``tau² = max(0, (Q - (k - 1)) / (Σw - Σw²/Σw))``."""
    y2d, s2d = np.atleast_2d(np.asarray(y, float)), np.atleast_2d(np.asarray(s, float))
    use = np.isfinite(y2d) & np.isfinite(s2d) & (np.ones_like(y2d, bool) if use is None else np.atleast_2d(use))
    k = use.sum(axis=1)
    w = np.where(use, 1 / np.where(use, s2d, 1.0) ** 2, 0.0)
    sw, sw2 = w.sum(axis=1), (w ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (w * np.where(use, y2d, 0.0)).sum(axis=1) / sw
        q = (w * (np.where(use, y2d, 0.0) - mean[:, None]) ** 2).sum(axis=1)
        tau2 = np.maximum(0.0, (q - (k - 1)) / (sw - sw2 / sw))
    q, tau2 = np.where(k >= 2, q, np.nan), np.where(k >= 2, tau2, np.nan)
    return (q, tau2) if np.ndim(y) > 1 else (q[0], tau2[0])


# --------------------------------------------------------------------------- who is compared, around what

def _centres(table: pd.DataFrame) -> pd.DataFrame:
    """The England and Wales row of each group: its value, window and basis, and the centre the forces
    are compared with (for a rate per head, England and Wales without the forces left out of it)."""
    ew = table[(table["area"] == "aggregate") & (table["force"] == ENGLAND_AND_WALES) & table["value"].notna()]
    ew = ew.drop_duplicates(KEY)[KEY + ["value", "window", "basis", "numerator", "denominator"]]
    ew = ew.rename(columns={"value": "ew_value", "window": "target_window", "basis": "target_basis"})
    per_head = ew["measure"].map(lambda m: MEASURES[m].uses_population).astype(bool)
    out = table[(table["area"] == "force") & table["force"].isin(list(PER_HEAD_LEFT_OUT))
                & table["numerator"].notna() & table["denominator"].notna()]
    taken = out.groupby(KEY)[["numerator", "denominator"]].sum().rename(columns=lambda c: f"out_{c}")
    ew = ew.join(taken, on=KEY)
    scale = ew["measure"].map(lambda m: MEASURES[m].scale).astype(float)
    num = pd.to_numeric(ew["numerator"], errors="coerce").astype(float)
    den = pd.to_numeric(ew["denominator"], errors="coerce").astype(float)
    out_num, out_den = (ew[c].astype(float).to_numpy() for c in ("out_numerator", "out_denominator"))
    less = (per_head.to_numpy() & ~np.isnan(out_num) & num.notna().to_numpy()
            & (den.fillna(0).to_numpy() > np.nan_to_num(out_den)))
    with np.errstate(invalid="ignore", divide="ignore"):
        without = scale.to_numpy() * (num.to_numpy() - out_num) / (den.to_numpy() - out_den)
    ew["target"] = np.where(less, without, pd.to_numeric(ew["ew_value"], errors="coerce").astype(float).to_numpy())
    ew["target_less"] = less
    return ew[KEY + ["target", "ew_value", "target_less", "target_window", "target_basis"]]


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

    keys: pd.DataFrame            # measure, period_end, target, ew_value, target_less, target_window, ..., kind, scale
    rows: np.ndarray              # group index of each compared row
    cols: np.ndarray              # force index of each compared row
    Y: np.ndarray
    s: np.ndarray
    Y0: np.ndarray


def _lay_out(cand: pd.DataFrame) -> Groups:
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(cand[KEY]))
    keys = pd.DataFrame(list(uniques), columns=KEY)
    keys = keys.merge(cand.drop_duplicates(KEY)[KEY + ["target", "ew_value", "target_less", "target_window",
                                                       "target_basis"]], on=KEY)
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


def centre_words(row, mdef) -> str:
    """'England and Wales (14.8%)', or for a rate per head without the City of London
    'England and Wales without the City of London (81.9; 82.0 with it)'."""
    if row["target_less"]:
        left = " and ".join(PER_HEAD_LEFT_OUT)
        return (f"{ENGLAND_AND_WALES} without the {left} ({fmt(row['target'], mdef)}; "
                f"{fmt(row['ew_value'], mdef)} with it)")
    return f"{ENGLAND_AND_WALES} ({fmt(row['target'], mdef)})"


def _method_text(keys: pd.DataFrame, n: np.ndarray, city: set) -> list[str]:
    out = []
    for row, count in zip(keys.itertuples(), n):
        mdef = MEASURES[row.measure]
        where = f", both over {row.target_window}" if row.target_basis == "partial_window" else ""
        spread = (f"widened by the spread between forces, an additive τ² = {row.tau2:.4g} on the {SCALES[row.kind]} "
                  f"scale ({ESTIMATOR})" if row.tau2 > 0 else
                  f"no spread between forces beyond chance found (τ² = 0; {ESTIMATOR}), so the limits are those "
                  "of chance alone")
        left = "; the City of London's rate per head left out (A-CITY)" if (row.measure, row.period_end) in city else ""
        out.append(f"99.8% funnel limits around {centre_words(row._asdict(), mdef)}{where}, {spread}; "
                   f"{int(count)} forces{left}")
    return out


def _verdict(z: np.ndarray) -> np.ndarray:
    limit = z_of(VERDICT_LEVEL)
    return np.where(z > limit, "above", np.where(z < -limit, "below", "within"))


def _limits(g: Groups, tau2: np.ndarray) -> dict[str, np.ndarray]:
    """The 99.8% limits at each compared row's own denominator, in the value's unit."""
    keys, z = g.keys.iloc[g.rows], z_of(VERDICT_LEVEL)
    s = g.s[g.rows, g.cols]
    out = {c: np.full(len(g.rows), np.nan) for c in LIMIT_COLUMNS}
    for k in keys["kind"].unique():
        sel = (keys["kind"] == k).to_numpy()
        centre, scale = g.Y0[g.rows][sel], keys["scale"].to_numpy()[sel]
        for name, spread in (("vs_ew", np.sqrt(s[sel] ** 2 + np.nan_to_num(tau2)[g.rows][sel])),
                             ("vs_ew_chance", s[sel])):
            out[f"{name}_low"][sel] = from_scale(k, centre - z * spread, scale)
            out[f"{name}_high"][sel] = from_scale(k, centre + z * spread, scale)
    return out


def _fit(g: Groups, rows: pd.DataFrame, reason: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``g.keys`` with phi, Q, tau², n and the method text; returns (n, tau²) per group."""
    use = ~np.isnan(g.Y)
    n = use.sum(axis=1)
    q, tau2 = dersimonian_laird(g.Y, g.s, use)
    z = (g.Y - g.Y0[:, None]) / g.s
    with np.errstate(invalid="ignore"):
        g.keys["phi"] = np.nansum(np.where(use, z ** 2, 0.0), axis=1) / np.where(n > 0, n, np.nan)
    g.keys["q"], g.keys["tau2"], g.keys["n"] = q, tau2, n
    city = {tuple(k) for k in rows.loc[reason.fillna("").str.contains("A-CITY") & rows["value"].notna(), KEY].to_numpy()}
    g.keys["method"] = _method_text(g.keys, n, city)
    return n, tau2


def assess(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(force rows with vs_ew, vs_ew_chance, their 99.8% limits, vs_ew_centre, vs_ew_method, z and
    z_adjusted; one row per compared group with target, phi, q, tau2, n and method) for results rows
    carrying value, numerator, denominator, window and ci_method."""
    rows = table[table["area"] == "force"].merge(_centres(table), on=KEY, how="left")
    rows.index = table.index[table["area"] == "force"]
    reason = _reasons(rows)
    cand = rows[reason.isna()]
    for col in ("value", "denominator", "target"):
        cand = cand.assign(**{col: pd.to_numeric(cand[col], errors="coerce").astype(float)})
    g = _lay_out(cand)
    n, tau2 = _fit(g, rows, reason)
    enough = n >= MIN_FORCES
    dev, s = g.Y[g.rows, g.cols] - g.Y0[g.rows], g.s[g.rows, g.cols]
    z, z_adj = dev / s, dev / np.sqrt(s ** 2 + np.nan_to_num(tau2)[g.rows])
    few, idx = ~enough[g.rows], cand.index
    for col in ("z", "z_adjusted", "vs_ew_centre", *LIMIT_COLUMNS):
        rows[col] = np.nan
    rows.loc[idx, "z"], rows.loc[idx, "z_adjusted"] = z, z_adj
    rows.loc[idx[~few], "vs_ew_centre"] = g.keys["target"].to_numpy(float)[g.rows[~few]]
    for col, values in _limits(g, tau2).items():
        rows.loc[idx[~few], col] = values[~few]
    rows["vs_ew"], rows["vs_ew_chance"] = "not_compared", "not_compared"
    rows.loc[idx[~few], "vs_ew"] = _verdict(z_adj)[~few]
    rows.loc[idx[~few], "vs_ew_chance"] = _verdict(z)[~few]
    method = reason.copy()
    method[idx[~few]] = g.keys["method"].to_numpy()[g.rows[~few]]
    method[idx[few]] = [f"only {c} forces have counts to compare; at least {MIN_FORCES} are needed to "
                        "estimate the spread between forces" for c in n[g.rows[few]]]
    rows["vs_ew_method"] = method
    return rows, g.keys[enough].reset_index(drop=True)


RESULT_COLUMNS = ("vs_ew", "vs_ew_chance", "vs_ew_centre", *LIMIT_COLUMNS, "vs_ew_method")


def compare(table: pd.DataFrame) -> pd.DataFrame:
    """The verdicts (:data:`RESULT_COLUMNS`) for every force row of the results table; aggregate rows
    get none."""
    rows, _ = assess(table)
    out = table.copy()
    for col in RESULT_COLUMNS:
        out[col] = pd.NA
        out.loc[rows.index, col] = rows[col]
    return out


# --------------------------------------------------------------------------- one funnel, for a chart

@dataclass
class Funnel:
    """One measure and period: every force's value against its denominator, the centre, and the
    between-force variance; :meth:`limits` gives the funnel's curves."""

    measure: str
    period: str
    forces: pd.DataFrame          # one row per force: value, ci_low, ci_high, denominator, basis, window, vs_ew, ...
    aggregate: pd.Series | None   # the England and Wales row (None when there is none)
    fit: pd.Series | None         # target, ew_value, target_less, kind, scale, phi, q, tau2, n, method (None: none)

    @property
    def mdef(self):
        return MEASURES[self.measure]

    @property
    def compared(self) -> pd.DataFrame:
        return self.forces[self.forces["vs_ew"].isin(VERDICTS)]

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
