"""Do the funnel limits flag as often as their level says? A seeded simulation (a script, not a test).

For each measure with a funnel in the chosen window, sets of 43 (or 42) forces are drawn from the model
the limits assume, with no outliers: each force's true value, on the measure's variance-stabilising
scale, is England and Wales's plus a normal between-force effect with variance tau² (the real data's
REML estimate by default, ``--tau2 dl`` for DerSimonian–Laird), and its count is then drawn by chance at
the force's real base (Poisson for rates per head; binomial for shares; for the change on the previous
year, last year's and this year's counts both Poisson, at last year's real count). England and Wales
is the pooled value of each simulated set, as in the report. Every set is then judged two ways:

* **before**: the procedure the project used until this version (Spiegelhalter 2005 as FunnelPlotR's
  default): z-scores around England and Wales winsorised at 10% at each end, ``phi = mean(z²)``,
  ``tau² = (k·phi - (k - 1)) / (Σw - Σw²/Σw)``; the change on the arcsine of this year's share of both
  years' counts; the centre of a rate per head England and Wales with the City of London;
* **after**: the package's own code (``peel_helpers.measures.funnel``): metafor's DerSimonian–Laird tau²
  without winsorising, the change on the log rate ratio.

It prints, per measure and at 95% and 99.8%, the mean number of forces flagged per set and the share of
sets with at least one flag, beside the nominal rates (``k·(1 - level)`` and ``1 - level^k``). A second
table gives the flags on the real data, before and after, and how often the arcsine and the log-ratio
forms of the change agree.

With ``--period all`` every window of every measure is simulated and each measure's line is the mean
over its windows (tau²: the median of its windows').

Usage: PEEL_DATA_MIRROR=<folder with the source files> python bench/bench_funnel_calibration.py
       [--sets 4000] [--period 2018-03-31 | all] [--tau2 reml | dl] [--seed 2017]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

from peel_helpers import results
from peel_helpers.measures import funnel

LEVELS = (0.95, 0.998)
TRIM = 0.10


# --------------------------------------------------------------------------- the two procedures

def old_scale(k: str, value, centre, n, scale):
    """The scales of the procedure before: as now, except the change, on the arcsine of the square root
    of this year's share of both years' counts, with variance 1 / 4n(1 + R0)."""
    if k != "ratio":
        return funnel.to_scale(k, value, centre, n, scale)
    ratio, ratio0 = np.clip(1 + np.asarray(value, float) / scale, 0, None), 1 + np.asarray(centre, float) / scale
    return (np.arcsin(np.sqrt(ratio / (1 + ratio))), np.arcsin(np.sqrt(ratio0 / (1 + ratio0))),
            1 / (2 * np.sqrt(np.asarray(n, float) * (1 + ratio0))))


def old_flags(k: str, value, centre, n, scale, level: float) -> np.ndarray:
    """Flags of the procedure before, for sets × forces arrays (``centre``: one value per set)."""
    y, y0, s = old_scale(k, value, np.asarray(centre)[:, None], n, scale)
    z = (y - y0) / s
    low, high = np.quantile(z, TRIM, axis=1)[:, None], np.quantile(z, 1 - TRIM, axis=1)[:, None]
    forces = z.shape[1]
    phi = (np.clip(z, low, high) ** 2).mean(axis=1)
    w = 1 / s ** 2
    w = np.broadcast_to(w, z.shape)
    tau2 = np.maximum(0.0, (forces * phi - (forces - 1)) / (w.sum(axis=1) - (w ** 2).sum(axis=1) / w.sum(axis=1)))
    return np.abs(y - y0) / np.sqrt(s ** 2 + tau2[:, None]) > funnel.z_of(level)


def new_flags(k: str, value, centre, n, scale, level: float) -> np.ndarray:
    """Flags of the package's procedure, for sets × forces arrays."""
    y, y0, s = funnel.to_scale(k, value, np.asarray(centre)[:, None], n, scale)
    s = np.broadcast_to(s, y.shape)
    _, tau2 = funnel.dersimonian_laird(y, s)
    return np.abs(y - y0) / np.sqrt(s ** 2 + tau2[:, None]) > funnel.z_of(level)


def reml(y: np.ndarray, v: np.ndarray) -> float:
    """The REML between-force variance (metafor's ``method = "REML"``), by the fixed-point iteration
    tau² = Σw²((y - μ)² - v) / Σw² + 1/Σw with w = 1/(v + tau²)."""
    tau2 = float(funnel.dersimonian_laird(y, np.sqrt(v))[1])
    for _ in range(1000):
        w = 1 / (v + tau2)
        mu = (w * y).sum() / w.sum()
        new = max(0.0, float((w ** 2 * ((y - mu) ** 2 - v)).sum() / (w ** 2).sum() + 1 / w.sum()))
        if abs(new - tau2) <= 1e-13 * max(tau2, 1e-12):
            return new
        tau2 = new
    return tau2


# --------------------------------------------------------------------------- drawing sets

def draw(k: str, centre: float, scale: float, n: np.ndarray, tau2: float, sets: int, rng) -> tuple:
    """(values, bases, pooled centre) of ``sets`` simulated sets at the real bases ``n``."""
    _, y0, _ = funnel.to_scale(k, np.nan, centre, n, scale)
    theta = y0 + math.sqrt(tau2) * rng.standard_normal((sets, len(n)))
    if k == "poisson":
        counts = rng.poisson(n * np.clip(theta, 0, None) ** 2 / scale)
        return scale * counts / n, np.broadcast_to(n, counts.shape), scale * counts.sum(axis=1) / n.sum()
    if k == "share":
        counts = rng.binomial(n.astype(np.int64), np.sin(np.clip(theta, 0, np.pi / 2)) ** 2)
        return scale * counts / n, np.broadcast_to(n, counts.shape), scale * counts.sum(axis=1) / n.sum()
    before = np.maximum(rng.poisson(np.broadcast_to(n, theta.shape)), 1)
    after = rng.poisson(n * np.exp(theta))
    return (scale * (after / before - 1), before.astype(float),
            scale * (after.sum(axis=1) / before.sum(axis=1) - 1))


def simulate(fit: pd.Series, bases: np.ndarray, tau2: float, sets: int, rng) -> dict:
    """Mean flags per set and the share of sets with a flag, before and after, at each level."""
    values, n, centre = draw(fit["kind"], float(fit["target"]), float(fit["scale"]), bases, tau2, sets, rng)
    out = {}
    for level in LEVELS:
        for name, judge in (("before", old_flags), ("after", new_flags)):
            flags = judge(fit["kind"], values, centre, n, float(fit["scale"]), level)
            out[(name, level)] = (flags.sum(axis=1).mean(), (flags.sum(axis=1) > 0).mean())
    return out


# --------------------------------------------------------------------------- the real data

def groups(table: pd.DataFrame, period: str | None):
    """(measure, period, fit, compared rows, England and Wales row) of every funnel in the table."""
    rows, fits = funnel.assess(table)
    for fit in fits.itertuples(index=False):
        if period is not None and fit.period_end != period:
            continue
        mine = rows[(rows["measure"] == fit.measure) & (rows["period_end"] == fit.period_end)]
        compared = mine[mine["vs_ew"].isin(funnel.VERDICTS)]
        ew = table[(table["measure"] == fit.measure) & (table["period_end"] == fit.period_end)
                   & (table["force"] == "England and Wales")].iloc[0]
        yield pd.Series(fit._asdict()), compared, ew


def real_flags(fit: pd.Series, compared: pd.DataFrame, ew: pd.Series) -> dict:
    """Flags at 99.8% on the real data: before (winsorised, around England and Wales with the City of
    London, the change on the arcsine scale), after (the results table), and the change's verdicts on
    the arcsine and log-ratio scales under each procedure."""
    value = compared["value"].to_numpy(float)[None, :]
    n = compared["denominator"].to_numpy(float)[None, :]
    k, scale = fit["kind"], float(fit["scale"])
    before = old_flags(k, value, [float(ew["value"])], n, scale, 0.998)[0]
    out = {"before": int(before.sum()), "after": int(compared["vs_ew"].isin(["above", "below"]).sum()),
           "forces": len(compared)}
    if k == "ratio":
        arcsine_new = _arcsine_dl_flags(value, float(fit["target"]), n, scale)
        log_old = _log_winsorised_flags(value, float(ew["value"]), n, scale)
        out["agree_winsorised"] = int(((_signed(before, value, ew) == _signed(log_old, value, ew))).sum())
        after = compared["vs_ew"].to_numpy()
        out["agree_dl"] = int((np.where(arcsine_new, np.where(value[0] > float(fit["target"]), "above", "below"),
                                        "within") == after).sum())
    return out


def _signed(flags, value, ew) -> np.ndarray:
    return np.where(flags, np.where(value[0] > float(ew["value"]), "above", "below"), "within")


def _arcsine_dl_flags(value, centre, n, scale) -> np.ndarray:
    y, y0, s = old_scale("ratio", value, np.array([centre])[:, None], n, scale)
    _, tau2 = funnel.dersimonian_laird(y, np.broadcast_to(s, y.shape))
    return (np.abs(y - y0) / np.sqrt(s ** 2 + tau2[:, None]) > funnel.z_of(0.998))[0]


def _log_winsorised_flags(value, centre, n, scale) -> np.ndarray:
    y, y0, s = funnel.to_scale("ratio", value, np.array([centre])[:, None], n, scale)
    z = (y - y0) / s
    low, high = np.quantile(z, TRIM, axis=1)[:, None], np.quantile(z, 1 - TRIM, axis=1)[:, None]
    k = z.shape[1]
    phi = (np.clip(z, low, high) ** 2).mean(axis=1)
    w = np.broadcast_to(1 / s ** 2, z.shape)
    tau2 = np.maximum(0.0, (k * phi - (k - 1)) / (w.sum(axis=1) - (w ** 2).sum(axis=1) / w.sum(axis=1)))
    return (np.abs(y - y0) / np.sqrt(s ** 2 + tau2[:, None]) > funnel.z_of(0.998))[0]


# --------------------------------------------------------------------------- the command

def _simulation_table(table, period, args, rng) -> list[str]:
    """One block per measure (over every window with ``--period all``: the mean over its windows)."""
    per_measure: dict[str, list] = {}
    for fit, compared, _ in groups(table, period):
        bases = compared["denominator"].to_numpy(float)
        y, _, s = funnel.to_scale(fit["kind"], compared["value"].to_numpy(float), float(fit["target"]), bases,
                                  float(fit["scale"]))
        tau2 = reml(y, s ** 2) if args.tau2 == "reml" else float(fit["tau2"])
        k = len(bases)
        got = simulate(fit, bases, tau2, args.sets, rng)
        got.update({("nominal", level): (k * (1 - level), 1 - level ** k) for level in LEVELS})
        per_measure.setdefault(fit["measure"], []).append((k, tau2, got))
    lines = [f"{'measure':34} {'k':>3} {'tau²':>9} | {'level':>5} {'nominal':>15} | {'before':>15} | {'after':>15}",
             f"{'':34} {'':>3} {'':>9} | {'':>5} {'mean  ≥1 share':>15} | {'mean  ≥1 share':>15} | "
             f"{'mean  ≥1 share':>15}"]
    for measure, runs in per_measure.items():
        k, tau2 = np.mean([r[0] for r in runs]), np.median([r[1] for r in runs])
        for level in LEVELS:
            cells = [np.mean([r[2][(name, level)] for r in runs], axis=0) for name in ("nominal", "before", "after")]
            text = " | ".join(f"{m:5.2f} {share:8.1%}" for m, share in cells)
            label = f"{measure[:34]:34} {k:3.0f} {tau2:9.3g}" if level == LEVELS[0] else " " * 48
            lines.append(f"{label} | {level:5.1%} {text}")
    return lines


def _real_table(table, period) -> list[str]:
    lines, totals = [f"{'measure':34} {'groups':>6} {'verdicts':>8} {'flags before':>12} {'flags after':>11}"], {}
    agree = {"winsorised": [0, 0], "dl": [0, 0]}
    for fit, compared, ew in groups(table, period):
        got = real_flags(fit, compared, ew)
        t = totals.setdefault(fit["measure"], [0, 0, 0, 0])
        t[0], t[1], t[2], t[3] = t[0] + 1, t[1] + got["forces"], t[2] + got["before"], t[3] + got["after"]
        if "agree_dl" in got:
            for key in agree:
                agree[key][0] += got[f"agree_{key}"]
                agree[key][1] += got["forces"]
    for measure, (g, v, b, a) in totals.items():
        lines.append(f"{measure[:34]:34} {g:6d} {v:8d} {b:12d} {a:11d}")
    lines.append(f"{'all':34} {sum(t[0] for t in totals.values()):6d} {sum(t[1] for t in totals.values()):8d} "
                 f"{sum(t[2] for t in totals.values()):12d} {sum(t[3] for t in totals.values()):11d}")
    lines.append(f"The change on the previous year, arcsine against log ratio: the same verdict in "
                 f"{agree['winsorised'][0]} of {agree['winsorised'][1]} (procedure before) and "
                 f"{agree['dl'][0]} of {agree['dl'][1]} (procedure after).")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="False-flag rates of the funnel limits under the no-outlier model.")
    parser.add_argument("--sets", type=int, default=4000, help="simulated sets per measure (default 4000)")
    parser.add_argument("--period", default="2018-03-31", help="a period end, or 'all' for every window")
    parser.add_argument("--tau2", choices=("reml", "dl"), default="reml", help="the between-force variance drawn")
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args(argv)
    table = results()
    period = None if args.period == "all" else args.period
    rng = np.random.default_rng(args.seed)
    print(f"Simulated: {args.sets} sets per measure, {args.tau2.upper()} tau² of the real data, seed {args.seed}, "
          f"{'every window' if period is None else period}. Mean forces flagged per set, and the share of sets "
          "with at least one flag.")
    print("\n".join(_simulation_table(table, period, args, rng)))
    print("\nReal data, 99.8%:" + ("" if period is None else f" {period}"))
    print("\n".join(_real_table(table, period)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
