"""The comparison with England and Wales: funnel limits, the between-force variance and the two verdicts
(``vs_ew`` against the usual spread between forces, ``vs_ew_chance`` against chance alone).

The standard error and the between-force variance are what no library supplies here, so they are pinned
by independent computations written in this file, never by the package's own output:

* the DerSimonian–Laird ``tau²`` is R's ``metafor::rma(method = "DL")``: kept here for a small set of
  values, and recomputed live on the real data of three measures (a rate per head, a share and a change)
  when ``Rscript`` is installed (``.ci/run`` installs it; CI requires these tests to run);
* for the same three measures, every force's scale, standard error, both verdicts and both limits,
  ``phi`` and ``tau²`` are recomputed with the standard library (``math``, ``statistics``) from each
  force's count and base, and compared to a relative 1e-9;
* the number of forces outside the chance-alone limits, printed on every funnel chart, is counted
  independently for every window of recorded crime and of ASB.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from peel_helpers.measures import funnel
from test_intervals import run_r

Y = [0.12, 0.35, -0.2, 0.05, 0.5, 0.3, -0.1, 0.22, 0.15, 0.4, -0.05, 0.6]
S = [0.1, 0.15, 0.2, 0.08, 0.3, 0.12, 0.1, 0.25, 0.05, 0.2, 0.18, 0.4]
R_DL_TAU2 = 0.0106419966                      # metafor::rma(yi = Y, vi = S^2, method = "DL")$tau2
LIMIT = statistics.NormalDist().inv_cdf(0.999)  # 99.8%, two-sided


def test_tau2_is_dersimonian_laird_as_in_metafor():
    q, tau2 = funnel.dersimonian_laird(Y, S)
    assert tau2 == pytest.approx(R_DL_TAU2, abs=1e-9)
    w = [1 / s ** 2 for s in S]
    mean = sum(wi * y for wi, y in zip(w, Y)) / sum(w)                   # around the weighted mean, not a target
    assert q == pytest.approx(sum(wi * (y - mean) ** 2 for wi, y in zip(w, Y)), rel=1e-12)


def test_no_spread_beyond_chance_gives_tau2_zero():
    q, tau2 = funnel.dersimonian_laird([0.5, -0.4, 0.2, -0.1, 0.3, -0.6, 0.1, 0.0, -0.2, 0.4], np.full(10, 0.4))
    assert q < 9 and tau2 == 0.0


def test_live_r_metafor():
    script = (f"suppressMessages(library(metafor)); y <- c({', '.join(map(str, Y))}); "
              f"s <- c({', '.join(map(str, S))}); "
              'cat(sprintf("%.10f", rma(yi = y, vi = s^2, method = "DL")$tau2), "\\n")')
    (tau2,) = run_r(script)
    assert tau2 == pytest.approx([R_DL_TAU2], abs=1e-10)
    assert funnel.dersimonian_laird(Y, S)[1] == pytest.approx(tau2[0], abs=1e-9)


def test_scales_go_back_to_the_value():
    for kind, values in (("poisson", [0.0, 12.5, 80.0]), ("share", [0.0, 14.8, 100.0]), ("ratio", [-30.0, 0.0, 12.7])):
        y, _, _ = funnel.to_scale(kind, values, values[1], 1000.0, 1000.0 if kind == "poisson" else 100.0)
        back = funnel.from_scale(kind, y, 1000.0 if kind == "poisson" else 100.0)
        assert back == pytest.approx(values, abs=1e-9)


def test_the_change_is_a_log_rate_ratio_with_its_variance_at_the_england_and_wales_ratio():
    """FunnelPlotR's ratio of counts: log(O1 / O0), variance 1/O1 + 1/O0, here with O1 = R0 · O0."""
    y, y0, s = funnel.to_scale("ratio", [25.0], 10.0, [4000.0], 100.0)
    assert y[0] == pytest.approx(math.log(1.25), rel=1e-12) and y0 == pytest.approx(math.log(1.10), rel=1e-12)
    assert s[0] == pytest.approx(math.sqrt(1 / (1.10 * 4000) + 1 / 4000), rel=1e-12)


def _synthetic(n_forces: int) -> pd.DataFrame:
    """SYNTHETIC results rows: ``n_forces`` forces and England and Wales, one share measure."""
    from peel_helpers.core.forces import FORCE_NAMES

    names = list(FORCE_NAMES[:n_forces])
    num = [1000 + 37 * i for i in range(n_forces)]
    rows = pd.DataFrame({"force": names + ["England and Wales"], "area": ["force"] * n_forces + ["aggregate"],
                         "numerator": num + [sum(num)], "denominator": [10_000.0] * n_forces + [10_000.0 * n_forces]})
    rows["value"] = 100 * rows["numerator"] / rows["denominator"]
    rows = rows.assign(measure="action_taken", period_end="2018-03-31", window="12 months to 31 March 2018",
                       basis="reproduced", ci_method="Wilson score interval")
    return rows


def test_too_few_forces_to_estimate_the_spread_are_not_compared():
    few = funnel.compare(_synthetic(funnel.MIN_FORCES - 1))
    assert (few.loc[few["area"] == "force", "vs_ew"] == "not_compared").all()
    assert few["vs_ew_method"].dropna().str.startswith(f"only {funnel.MIN_FORCES - 1} forces have counts").all()
    enough = funnel.compare(_synthetic(funnel.MIN_FORCES))
    assert enough.loc[enough["area"] == "force", "vs_ew"].isin(["above", "below", "within"]).all()


def test_a_value_over_another_window_than_england_and_wales_is_not_compared():
    """SYNTHETIC: one force's value covers one quarter while England and Wales covers 12 months."""
    rows = _synthetic(funnel.MIN_FORCES + 3)
    rows.loc[0, ["window", "basis"]] = ["April–June 2017 only: 1 of 4 quarters", "partial_window"]
    out = funnel.compare(rows).iloc[0]
    assert out["vs_ew"] == "not_compared"
    assert out["vs_ew_method"] == ("this value covers April–June 2017 only: 1 of 4 quarters; the England and Wales "
                                   "value 12 months to 31 March 2018")


# --------------------------------------------------------------------------- the results table (real data)

@pytest.fixture(scope="module")
def table(real_data_dir, no_user_data_return_module):
    from peel_helpers import results
    from peel_helpers.measures import clear_caches

    clear_caches()
    yield results()
    clear_caches()


class Oracle:
    """The comparison of one measure and period written out with the standard library, from each force's
    value and base: the scale, the chance standard error, the DerSimonian–Laird tau² (Q around the
    inverse-variance weighted mean), phi (the mean squared z-score against the centre), both verdicts and
    both 99.8% limits in the value's unit."""

    def __init__(self, rows: pd.DataFrame, centre: float, transform, inverse, se):
        self.names = list(rows["force"])
        values, bases = [float(v) for v in rows["value"]], [float(n) for n in rows["denominator"]]
        self.y = [transform(v) for v in values]
        self.s = [se(n) for n in bases]
        self.centre, self.t, self.inverse = centre, transform(centre), inverse
        w = [1 / s ** 2 for s in self.s]
        mean = sum(wi * yi for wi, yi in zip(w, self.y)) / sum(w)
        self.q = sum(wi * (yi - mean) ** 2 for wi, yi in zip(w, self.y))
        k = len(self.y)
        self.tau2 = max(0.0, (self.q - (k - 1)) / (sum(w) - sum(x * x for x in w) / sum(w)))
        self.z = [(yi - self.t) / si for yi, si in zip(self.y, self.s)]
        self.phi = sum(z * z for z in self.z) / k

    def verdicts(self, adjusted: bool) -> dict[str, str]:
        out = {}
        for name, y, s in zip(self.names, self.y, self.s):
            z = (y - self.t) / math.sqrt(s * s + (self.tau2 if adjusted else 0.0))
            out[name] = "above" if z > LIMIT else "below" if z < -LIMIT else "within"
        return out

    def limits(self, adjusted: bool) -> dict[str, tuple[float, float]]:
        out = {}
        for name, s in zip(self.names, self.s):
            half = LIMIT * math.sqrt(s * s + (self.tau2 if adjusted else 0.0))
            out[name] = (self.inverse(self.t - half), self.inverse(self.t + half))
        return out

    def check(self, compared: pd.DataFrame, fit: pd.Series) -> None:
        """The package's verdicts, limits, centre, phi and tau² against this computation."""
        assert fit["phi"] == pytest.approx(self.phi, rel=1e-9) and fit["tau2"] == pytest.approx(self.tau2, rel=1e-9)
        assert fit["q"] == pytest.approx(self.q, rel=1e-9) and fit["target"] == pytest.approx(self.centre, rel=1e-12)
        assert dict(zip(compared["force"], compared["vs_ew"])) == self.verdicts(adjusted=True)
        assert dict(zip(compared["force"], compared["vs_ew_chance"])) == self.verdicts(adjusted=False)
        for which, adjusted in (("vs_ew", True), ("vs_ew_chance", False)):
            got = {r["force"]: (float(r[f"{which}_low"]), float(r[f"{which}_high"])) for _, r in compared.iterrows()}
            want = self.limits(adjusted)
            assert all(got[f] == pytest.approx(want[f], rel=1e-9, abs=1e-12) for f in self.names), which
        assert list(compared["vs_ew_centre"].astype(float)) == pytest.approx([self.centre] * len(compared), rel=1e-12)


def _group(table, measure, period):
    rows = table[(table["measure"] == measure) & (table["period_end"] == period)]
    return rows[rows["area"] == "force"], rows[rows["force"] == "England and Wales"].iloc[0]


def _fit(table, measure, period) -> pd.Series:
    return funnel.funnel(table[(table["measure"] == measure) & (table["period_end"] == period)]).fit


def _sqrt_rate_oracle(compared, ew, city) -> Oracle:
    """Rates per 1,000 on the square-root scale, chance variance 1,000 / 4n, around England and Wales
    without the City of London (its count and population taken out of England and Wales's)."""
    centre = 1000 * (float(ew["numerator"]) - float(city["numerator"])) / (float(ew["denominator"])
                                                                          - float(city["denominator"]))
    return Oracle(compared, centre, math.sqrt, lambda v: max(v, 0.0) ** 2, lambda n: math.sqrt(1000 / n) / 2)


@pytest.mark.realdata
def test_action_taken_verdicts_match_an_independent_computation(table):
    forces, ew = _group(table, "action_taken", "2018-03-31")
    compared = forces[forces["vs_ew"] != "not_compared"]
    assert len(compared) == 43
    oracle = Oracle(compared, float(ew["value"]), lambda v: math.asin(math.sqrt(v / 100)),
                    lambda a: 100 * math.sin(min(max(a, 0.0), math.pi / 2)) ** 2, lambda n: 1 / (2 * math.sqrt(n)))
    oracle.check(compared, _fit(table, "action_taken", "2018-03-31"))
    assert {"above", "below"} <= set(oracle.verdicts(adjusted=False).values())     # the check can tell them apart
    assert compared["vs_ew_method"].str.contains(f"τ² = {oracle.tau2:.4g} on the arcsine square-root scale").all()
    assert compared["vs_ew_method"].str.contains(funnel.ESTIMATOR, regex=False).all()


@pytest.mark.realdata
def test_recorded_crime_verdicts_leave_out_the_city_of_london(table):
    forces, ew = _group(table, "recorded_crime_per_1000", "2018-03-31")
    city = forces[forces["force"] == "City of London"].iloc[0]
    assert city["vs_ew"] == "not_compared" and city["vs_ew_chance"] == "not_compared" and "A-CITY" in city["vs_ew_method"]
    compared = forces[forces["force"] != "City of London"]
    oracle = _sqrt_rate_oracle(compared, ew, city)
    oracle.check(compared, _fit(table, "recorded_crime_per_1000", "2018-03-31"))
    assert oracle.centre < float(ew["value"])                       # without the City, the centre is lower
    assert compared["vs_ew_method"].str.contains(f"τ² = {oracle.tau2:.4g} on the square-root scale").all()
    assert compared["vs_ew_method"].str.contains("around England and Wales without the City of London").all()
    assert compared["vs_ew_method"].str.contains("City of London's rate per head left out").all()


@pytest.mark.realdata
def test_change_on_the_previous_year_verdicts_match_an_independent_computation(table):
    forces, ew = _group(table, "recorded_crime_change_pct", "2018-03-31")
    ratio0 = 1 + float(ew["value"]) / 100
    oracle = Oracle(forces, float(ew["value"]), lambda v: math.log(1 + v / 100), lambda r: 100 * (math.exp(r) - 1),
                    lambda n: math.sqrt(1 / (ratio0 * n) + 1 / n))
    oracle.check(forces, _fit(table, "recorded_crime_change_pct", "2018-03-31"))
    assert forces["vs_ew_method"].str.contains(f"τ² = {oracle.tau2:.4g} on the log ratio scale").all()


def _r_dl(y: list[float], v: list[float]) -> float:
    script = ("suppressMessages(library(metafor)); "
              f"y <- c({', '.join(repr(x) for x in y)}); v <- c({', '.join(repr(x) for x in v)}); "
              'cat(sprintf("%.17g", rma(yi = y, vi = v, method = "DL")$tau2), "\\n")')
    return run_r(script)[0][0]


@pytest.mark.realdata
def test_metafor_reproduces_the_tau2_the_method_names(table):
    """R's metafor, given each force's value on the scale and its chance variance (computed here), gives
    the tau² that ``vs_ew_method`` prints, for a rate per head, a share and a change."""
    cases = {"recorded_crime_per_1000": (lambda v: math.sqrt(v), lambda n, r0: 1000 / (4 * n)),
             "action_taken": (lambda v: math.asin(math.sqrt(v / 100)), lambda n, r0: 1 / (4 * n)),
             "recorded_crime_change_pct": (lambda v: math.log(1 + v / 100), lambda n, r0: 1 / (r0 * n) + 1 / n)}
    for measure, (transform, variance) in cases.items():
        forces, ew = _group(table, measure, "2018-03-31")
        compared = forces[forces["vs_ew"] != "not_compared"]
        r0 = 1 + float(ew["value"]) / 100
        tau2 = _r_dl([transform(float(v)) for v in compared["value"]],
                     [variance(float(n), r0) for n in compared["denominator"]])
        assert _fit(table, measure, "2018-03-31")["tau2"] == pytest.approx(tau2, rel=1e-9), measure
        assert compared["vs_ew_method"].str.contains(f"τ² = {tau2:.4g}").all(), measure


@pytest.mark.realdata
@pytest.mark.parametrize("measure", ["recorded_crime_per_1000", "asb_incidents_per_1000"])
def test_forces_outside_chance_alone_on_every_chart_are_counted_independently(table, measure):
    """The count every funnel chart prints ("Outside the 99.8% limits of chance alone: N of M forces"),
    for every window of the measure, against a count made here from each force's rate and population."""
    from peel_helpers.reports.figures import FunnelSpec, funnel_plot

    periods = sorted(set(table.loc[(table["measure"] == measure) & table["vs_ew"].isin(["above", "below", "within"]),
                                   "period_end"]))
    assert len(periods) >= 40
    for period in periods:
        forces, ew = _group(table, measure, period)
        city = forces[forces["force"] == "City of London"].iloc[0]
        compared = forces[forces["vs_ew"].isin(["above", "below", "within"])]
        oracle = _sqrt_rate_oracle(compared, ew, city)
        outside = sum(v != "within" for v in oracle.verdicts(adjusted=False).values())
        chart = funnel_plot(table[(table["measure"] == measure) & (table["period_end"] == period)],
                            FunnelSpec(measure, period, "Kent"))
        notes = " ".join(" ".join(t.get_text() for t in chart.figure.texts).split())
        assert f"Outside the 99.8% limits of chance alone: {outside} of {len(compared)} forces." in notes, period
        assert f"Outside the 99.8% limits of chance alone: {outside} forces." in chart.alt, period


@pytest.mark.realdata
def test_city_of_london_shares_are_compared(table):
    forces, _ = _group(table, "action_taken", "2018-03-31")
    assert forces.loc[forces["force"] == "City of London", "vs_ew"].iloc[0] in {"above", "below", "within"}


@pytest.mark.realdata
def test_every_force_with_counts_has_a_verdict_and_the_method_named(table):
    forces = table[table["area"] == "force"]
    with_counts = (forces["value"].notna() & forces["numerator"].notna() & forces["ci_low"].notna()
                   & forces["basis"].isin(["reproduced", "supplied"]) & (forces["period_end"] >= "2017-06-30"))
    per_head_city = (forces["force"] == "City of London") & forces["unit"].str.startswith("per ")
    judged = forces[with_counts & ~per_head_city]
    assert len(judged) > 500 and judged["vs_ew"].isin(["above", "below", "within"]).all()
    assert judged["vs_ew_method"].str.contains("99.8% funnel limits around England and Wales").all()
    assert judged["vs_ew_method"].str.contains("τ²").all()
    assert judged["vs_ew_chance"].isin(["above", "below", "within"]).all()
    limits = judged[["vs_ew_low", "vs_ew_chance_low", "vs_ew_centre", "vs_ew_chance_high", "vs_ew_high"]].astype(float)
    assert (limits.diff(axis=1).iloc[:, 1:] >= -1e-9).all().all()      # chance-alone limits inside the spread's
    assert table.loc[table["area"] == "aggregate", "vs_ew"].isna().all()
    assert table.loc[table["area"] == "aggregate", "vs_ew_chance"].isna().all()


@pytest.mark.realdata
def test_published_values_are_not_compared(table):
    published = table[(table["area"] == "force") & (table["basis"] == "published")]
    assert len(published) and (published["vs_ew"] == "not_compared").all()
    assert published["vs_ew_method"].str.startswith("no counts").all()


@pytest.mark.realdata
def test_part_window_values_are_compared_over_the_same_part(table):
    forces, ew = _group(table, "action_taken", "2017-06-30")
    assert ew["basis"] == "partial_window"
    part = forces[forces["basis"] == "partial_window"]
    assert len(part) > 10 and part["vs_ew"].isin(["above", "below", "within"]).all()
    assert part["vs_ew_method"].str.contains("both over April–June 2017 only").all()
    excluded = forces[forces["status"] == "excluded"]                 # Suffolk: Annex A
    assert len(excluded) and (excluded["vs_ew"] == "not_compared").all()


@pytest.mark.realdata
def test_funnel_object_limits_agree_with_the_verdicts(table):
    from peel_helpers import results

    f = funnel.funnel(results(measures="action_taken", periods="2018-03-31"))
    assert f.fit is not None and f.fit["tau2"] > 0 and int(f.fit["n"]) == 43
    low, high = f.limits(f.compared["denominator"].to_numpy(float))
    inside = (f.compared["value"].to_numpy(float) >= low) & (f.compared["value"].to_numpy(float) <= high)
    assert (inside == (f.compared["vs_ew"] == "within").to_numpy()).all()
    assert len(f.outside(adjusted=False)) > len(f.outside(adjusted=True))     # the adjustment matters
    low0, high0 = f.limits(f.compared["denominator"].to_numpy(float), adjusted=False)
    values = f.compared["value"].to_numpy(float)
    assert int(((values < low0) | (values > high0)).sum()) == len(f.outside(adjusted=False))
    wide95, wide998 = f.limits([100_000.0], level=0.95), f.limits([100_000.0])
    assert wide998[0][0] < wide95[0][0] < float(f.aggregate["value"]) < wide95[1][0] < wide998[1][0]


# --------------------------------------------------------------------------- what the reports show

@pytest.fixture(scope="module")
def params(table):
    from peel_helpers.reports import notebook as nb

    return nb.validate(force="Cambridgeshire", period_end="2018-03-31", measure="action_taken")


@pytest.mark.realdata
def test_funnel_chart_names_the_forces_outside_and_keeps_its_data(table, params, tmp_path):
    from peel_helpers.reports import notebook as nb
    from peel_helpers.reports.figures import FunnelChart

    chart = nb.funnel(params, "outcome_charge_summons")
    assert isinstance(chart, FunnelChart) and chart.figure is not None
    forces, _ = _group(table, "outcome_charge_summons", "2018-03-31")
    outside = forces[forces["vs_ew"].isin(["above", "below"])]
    assert len(outside)
    for r in outside.itertuples():
        assert f"{r.force} ({r.vs_ew})" in chart.alt
        assert any(t.get_text() == r.force for t in chart.figure.axes[0].texts)     # named on the chart
    mine = forces[forces["force"] == "Cambridgeshire"].iloc[0]
    assert "τ² = " in chart.alt and f"Cambridgeshire: {float(mine['value']):.1f}%, " in chart.alt
    notes = " ".join(" ".join(t.get_text() for t in chart.figure.texts).split())
    assert "τ² = " in notes and funnel.ESTIMATOR in notes
    assert f"(limits {float(mine['vs_ew_low']):.1f}% to {float(mine['vs_ew_high']):.1f}%)" in notes
    assert set(chart.data.forces["force"]) >= set(forces["force"])
    kent = chart.redraw(focal="Kent")
    assert kent.spec.focal == "Kent" and "Kent:" in kent.alt
    chart.save(tmp_path / "funnel.png")
    assert (tmp_path / "funnel.png").stat().st_size > 10_000


@pytest.mark.realdata
def test_funnel_with_nothing_to_compare_says_so_in_one_sentence(table):
    from peel_helpers.reports import notebook as nb

    p = nb.validate(force="Kent", period_end="2017-06-30", measure="da_arrests_per_100")
    note = nb.funnel(p)
    assert note.no_data and note.text.startswith("**No funnel plot:**") and note.text.count(". ") == 0
    assert "published value" in note.text
    table_ = nb.funnel_table(p)
    published = [row for row in table_.rows[:-1] if row[1].basis == "published"]      # the last row: England and Wales
    assert published and all(row[3].text == "not compared: no counts" for row in published)
    assert all(row[4].text == "–" for row in published)


@pytest.mark.realdata
def test_funnel_table_lists_value_interval_and_verdict(table, params):
    from peel_helpers.reports import notebook as nb
    from peel_helpers.reports.tables import interval_text

    t = nb.funnel_table(params)
    assert t.columns == ["Force", "Investigations where action was taken", "95% interval",
                         "Against the usual spread between forces (99.8% limits)", "Against chance alone (99.8% limits)"]
    forces, ew = _group(table, "action_taken", "2018-03-31")
    mine = forces[forces["force"] == "Cambridgeshire"].iloc[0]
    line = next(r for r in t.rows if r[0].text == "Cambridgeshire (this force)")
    assert line[2].text == interval_text(mine)
    assert line[3].text == (f"{mine['vs_ew']} usual spread ({float(mine['vs_ew_low']):.1f}% to "
                            f"{float(mine['vs_ew_high']):.1f}%)")
    chance = "within" if mine["vs_ew_chance"] == "within" else "beyond"
    assert line[4].text == (f"{chance} chance alone ({float(mine['vs_ew_chance_low']):.1f}% to "
                            f"{float(mine['vs_ew_chance_high']):.1f}%)")
    assert t.rows[-1][0].text == "England and Wales" and t.rows[-1][2].text == interval_text(ew)
    low, high = (float(v.rstrip("%")) for v in line[2].text.split(" to "))
    assert low < float(mine["value"]) < high


@pytest.mark.realdata
def test_force_in_numbers_shows_intervals_and_the_verdict(table, params):
    from peel_helpers.reports import notebook as nb

    t = nb.force_in_numbers(params)
    assert t.columns[2] == "95% interval" and t.columns[4] == "Against England and Wales (99.8% limits)"
    crime = next(r for r in t.rows if r[0].text.startswith("Recorded crime"))
    row = table[(table["force"] == "Cambridgeshire") & (table["measure"] == "recorded_crime_per_1000")
                & (table["period_end"] == "2018-03-31")].iloc[0]
    assert crime[2].text == f"{row['ci_low']:.1f} to {row['ci_high']:.1f}"
    chance = "within" if row["vs_ew_chance"] == "within" else "beyond"
    assert crime[4].text == (f"{row['vs_ew']} usual spread ({row['vs_ew_low']:.1f} to {row['vs_ew_high']:.1f}); "
                             f"{chance} chance alone")
    # the method is said once, under the table, not in a note on every line
    assert not [n for n in t.notes() if "τ²" in n or "funnel limits" in n]
    assert t.footnote.count("99.8% limits of the usual spread between forces") == 1


@pytest.mark.realdata
def test_figure1_error_bars_are_off_by_default_and_drawn_on_request(table, params):
    from peel_helpers.reports import notebook as nb
    from peel_helpers.reports.figures import INTERVAL_NOTE, ChartSpec

    assert ChartSpec("action_taken", "2018-03-31", "Kent").intervals is False     # as published unless asked
    plain = nb.chart(params, "action_taken")
    assert plain.spec.intervals is False
    with_bars = plain.redraw(intervals=True)
    ax_plain, ax_bars = plain.figure.axes[0], with_bars.figure.axes[0]
    assert len(ax_bars.collections) == len(ax_plain.collections) + 2        # the interval lines and their caps
    segments = ax_bars.collections[-2].get_segments()
    assert len(segments) == 43
    notes = " ".join(t.get_text() for t in with_bars.figure.texts)
    assert INTERVAL_NOTE.split(";")[0][:40] in notes and "95% interval" in with_bars.alt
    assert "95% interval" not in plain.alt
