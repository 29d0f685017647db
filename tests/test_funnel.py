"""The comparison with England and Wales: over-dispersed funnel limits and the ``vs_ew`` verdict.

The over-dispersion step is the one part no library supplies, so it is checked three ways:

* without winsorising and around the weighted mean, Spiegelhalter's ``tau²`` is the DerSimonian–Laird
  estimate: R's ``metafor::rma(method = "DL")`` gives it (kept here, and recomputed live when
  ``Rscript`` is installed, as ``.ci/run`` does);
* the 10% winsorising uses R's default quantiles (``quantile(type = 7)``, kept here);
* the verdicts of the results table are recomputed here with the standard library (``statistics``,
  ``math``) from each force's count and base, for two measures.
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
Z = [-3.2, -1.1, 0.4, 2.5, 0.9, -0.3, 5.0, 1.2, -0.8, 0.1, 1.7, -2.0]
R_QUANTILES = (-1.91, 2.42)                   # quantile(Z, c(0.1, 0.9)), R's default type 7


def _around_weighted_mean():
    y, s = np.array(Y), np.array(S)
    w = 1 / s ** 2
    return (y - (w * y).sum() / w.sum()) / s, s


def test_tau2_without_winsorising_is_dersimonian_laird_as_in_metafor():
    z, s = _around_weighted_mean()
    phi, tau2 = funnel.overdispersion(z, s, trim=0.0)
    assert tau2 == pytest.approx(R_DL_TAU2, abs=1e-9)
    assert phi == pytest.approx(float((z ** 2).mean()))


def test_winsorising_clips_at_rs_deciles():
    s = np.full(len(Z), 0.1)
    phi, tau2 = funnel.overdispersion(Z, s, trim=0.1)
    clipped = [min(max(z, R_QUANTILES[0]), R_QUANTILES[1]) for z in Z]
    assert phi == pytest.approx(sum(c * c for c in clipped) / len(Z), rel=1e-12)
    n, w = len(Z), 1 / 0.01
    assert tau2 == pytest.approx((n * phi - (n - 1)) / (n * w - n * w * w / (n * w)), rel=1e-12)
    assert phi < sum(z * z for z in Z) / n            # the outlier (z = 5) no longer sets the spread


def test_no_over_dispersion_gives_tau2_zero():
    phi, tau2 = funnel.overdispersion([0.5, -0.4, 0.2, -0.1, 0.3, -0.6, 0.1, 0.0, -0.2, 0.4], np.full(10, 0.2))
    assert phi < 1 and tau2 == 0.0


def test_live_r_metafor_and_quantiles():
    script = (f"suppressMessages(library(metafor)); y <- c({', '.join(map(str, Y))}); "
              f"s <- c({', '.join(map(str, S))}); z <- c({', '.join(map(str, Z))}); "
              'cat(sprintf("%.10f", rma(yi = y, vi = s^2, method = "DL")$tau2), "\\n"); '
              'cat(sprintf("%.10f", quantile(z, c(0.1, 0.9))), "\\n")')
    tau2, quantiles = run_r(script)
    assert tau2 == pytest.approx([R_DL_TAU2], abs=1e-10) and quantiles == pytest.approx(R_QUANTILES, abs=1e-10)
    assert funnel.overdispersion(*_around_weighted_mean(), trim=0.0)[1] == pytest.approx(tau2[0], abs=1e-9)


def test_scales_go_back_to_the_value():
    for kind, values in (("poisson", [0.0, 12.5, 80.0]), ("share", [0.0, 14.8, 100.0]), ("ratio", [-30.0, 0.0, 12.7])):
        y, _, _ = funnel.to_scale(kind, values, values[1], 1000.0, 1000.0 if kind == "poisson" else 100.0)
        back = funnel.from_scale(kind, y, 1000.0 if kind == "poisson" else 100.0)
        assert back == pytest.approx(values, abs=1e-9)


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


def _verdicts(rows: pd.DataFrame, target: float, transform, se) -> tuple[dict[str, str], float, float]:
    """Spiegelhalter's additive over-dispersion, written out with the standard library: the verdict
    of each force, tau² and phi."""
    units = [(r.force, transform(float(r.value)), se(float(r.denominator))) for r in rows.itertuples()]
    t = transform(target)
    z = [(y - t) / s for _, y, s in units]
    deciles = statistics.quantiles(z, n=10, method="inclusive")
    low, high = deciles[0], deciles[-1]
    n = len(z)
    phi = sum(min(max(v, low), high) ** 2 for v in z) / n
    w = [1 / s ** 2 for *_, s in units]
    tau2 = max(0.0, (n * phi - (n - 1)) / (sum(w) - sum(x * x for x in w) / sum(w)))
    limit = statistics.NormalDist().inv_cdf(0.999)
    out = {}
    for name, y, s in units:
        za = (y - t) / math.sqrt(s * s + tau2)
        out[name] = "above" if za > limit else "below" if za < -limit else "within"
    return out, tau2, phi


def _group(table, measure, period):
    rows = table[(table["measure"] == measure) & (table["period_end"] == period)]
    return rows[rows["area"] == "force"], rows[rows["force"] == "England and Wales"].iloc[0]


@pytest.mark.realdata
def test_action_taken_verdicts_match_an_independent_computation(table):
    forces, ew = _group(table, "action_taken", "2018-03-31")
    compared = forces[forces["vs_ew"] != "not_compared"]
    assert len(compared) == 43
    expected, tau2, phi = _verdicts(compared, float(ew["value"]), lambda v: math.asin(math.sqrt(v / 100)),
                               lambda n: 1 / (2 * math.sqrt(n)))
    assert dict(zip(compared["force"], compared["vs_ew"])) == expected
    assert {"above", "within"} <= set(expected.values())        # the check can tell the verdicts apart
    assert compared["vs_ew_method"].str.contains(f"tau² = {tau2:.3g} on the arcsine square-root scale").all()
    fit = funnel.funnel(table[(table["measure"] == "action_taken") & (table["period_end"] == "2018-03-31")]).fit
    assert fit["phi"] == pytest.approx(phi, rel=1e-9) and fit["tau2"] == pytest.approx(tau2, rel=1e-9)


@pytest.mark.realdata
def test_recorded_crime_verdicts_leave_out_the_city_of_london(table):
    forces, ew = _group(table, "recorded_crime_per_1000", "2018-03-31")
    city = forces[forces["force"] == "City of London"].iloc[0]
    assert city["vs_ew"] == "not_compared" and "A-CITY" in city["vs_ew_method"]
    compared = forces[forces["force"] != "City of London"]
    expected, tau2, phi = _verdicts(compared, float(ew["value"]), math.sqrt, lambda n: math.sqrt(1000 / n) / 2)
    assert dict(zip(compared["force"], compared["vs_ew"])) == expected
    assert compared["vs_ew_method"].str.contains(f"tau² = {tau2:.3g} on the square-root scale").all()
    assert compared["vs_ew_method"].str.contains("City of London's rate per head left out").all()


@pytest.mark.realdata
def test_change_on_the_previous_year_verdicts_match_an_independent_computation(table):
    forces, ew = _group(table, "recorded_crime_change_pct", "2018-03-31")
    ratio0 = 1 + float(ew["value"]) / 100
    share = lambda v: math.asin(math.sqrt((1 + v / 100) / (2 + v / 100)))  # noqa: E731  this year's share of both
    expected, tau2, phi = _verdicts(forces, float(ew["value"]), share, lambda n: 1 / (2 * math.sqrt(n * (1 + ratio0))))
    assert dict(zip(forces["force"], forces["vs_ew"])) == expected
    assert forces["vs_ew_method"].str.contains(f"tau² = {tau2:.3g} on the arcsine square-root scale").all()


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
    assert judged["vs_ew_method"].str.contains("tau²").all()
    assert table.loc[table["area"] == "aggregate", "vs_ew"].isna().all()


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

    chart = nb.funnel(params)
    assert isinstance(chart, FunnelChart) and chart.figure is not None
    forces, _ = _group(table, "action_taken", "2018-03-31")
    outside = forces[forces["vs_ew"].isin(["above", "below"])]
    assert len(outside)
    for r in outside.itertuples():
        assert f"{r.force} ({r.vs_ew})" in chart.alt
        assert any(t.get_text() == r.force for t in chart.figure.axes[0].texts)     # named on the chart
    assert "tau² = " in chart.alt and "Cambridgeshire: 15.5%" in chart.alt
    notes = " ".join(t.get_text() for t in chart.figure.texts)
    assert "tau² = " in notes and "DerSimonian" in notes
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


@pytest.mark.realdata
def test_funnel_table_lists_value_interval_and_verdict(table, params):
    from peel_helpers.reports import notebook as nb
    from peel_helpers.reports.tables import interval_text

    t = nb.funnel_table(params)
    assert t.columns == ["Force", "Investigations where action was taken", "95% interval",
                         "Against England and Wales (99.8% limits)"]
    forces, ew = _group(table, "action_taken", "2018-03-31")
    mine = forces[forces["force"] == "Cambridgeshire"].iloc[0]
    line = next(r for r in t.rows if r[0].text == "Cambridgeshire (this force)")
    assert line[2].text == interval_text(mine) and line[3].text == mine["vs_ew"]
    assert t.rows[-1][0].text == "England and Wales" and t.rows[-1][2].text == interval_text(ew)
    low, high = (float(v.rstrip("%")) for v in line[2].text.split(" to "))
    assert low < float(mine["value"]) < high


@pytest.mark.realdata
def test_force_in_numbers_shows_intervals_and_the_verdict(table, params):
    from peel_helpers.reports import notebook as nb

    t = nb.force_in_numbers(params)
    assert t.columns[3] == "95% interval" and t.columns[5] == "95% interval"
    assert t.columns[6] == "Against England and Wales (99.8% limits)"
    crime = next(r for r in t.rows if r[0].text.startswith("Recorded crime"))
    row = table[(table["force"] == "Cambridgeshire") & (table["measure"] == "recorded_crime_per_1000")
                & (table["period_end"] == "2018-03-31")].iloc[0]
    assert crime[3].text == f"{row['ci_low']:.1f} to {row['ci_high']:.1f}"
    assert crime[6].text == row["vs_ew"] and "tau²" in crime[6].notes[0]


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
