"""95% intervals checked against references that do not share code with the package (which uses scipy):

* Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3
  (Wilson's score interval without continuity correction), printed to four decimals;
* the Public Health England technical guidance on confidence intervals: Byar's approximation is
  "within 0.2% of the exact value for numerators of 10 or more" at 95%;
* R: ``poisson.test`` (exact Poisson limits, and the exact conditional limits of the ratio of two
  Poisson counts) and ``epitools::binom.wilson``. The values are kept here
  (as R printed them) and, where ``Rscript`` is installed (``.ci/run`` installs it), recomputed live.

Then the results table: every row with counts has its interval and method, a value without counts says
why it has none, and a negative net count gets no interval and a reason.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from peel_helpers.measures import intervals

# Newcombe 1998, Table I, method 3 (x, n, lower, upper); 20/20 and 0/1 from R's epitools::binom.wilson
NEWCOMBE = [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0000, 0.1611), (1, 29, 0.0061, 0.1718)]
R_WILSON = [(81, 263, 0.2552885199, 0.3662095770), (15, 148, 0.0623863995, 0.1604872417),
            (0, 20, 0.0, 0.1611251581), (1, 29, 0.0061132143, 0.1717552188), (20, 20, 0.8388748419, 1.0),
            (0, 1, 0.0, 0.7934506856)]
# R: poisson.test(x)$conf.int (exact limits of a Poisson count)
R_POISSON_EXACT = {0: (0.0, 3.6888794541), 1: (0.0253178080, 5.5716433909), 5: (1.6234863901, 11.6683320793),
                   9: (4.1153730974, 17.0848034514), 10: (4.7953886961, 18.3903560420),
                   65: (50.1656277292, 82.8478358159), 1045: (982.5937094111, 1110.3307766119)}
# R: poisson.test(c(current, previous), c(1, 1))$conf.int (ratio of two Poisson counts, exact conditional)
R_RATIO = [(66194, 57899, 1.1305699961, 1.1561084231), (0, 7, 0.0, 0.6938139801), (3, 8, 0.0640762615, 1.5624111072)]


# --------------------------------------------------------------------------- published and R reference values

def test_wilson_matches_newcombe_table():
    x, n, low, high = (np.array(c) for c in zip(*NEWCOMBE))
    got_low, got_high = intervals.wilson_limits(x, n)
    assert np.round(got_low, 4).tolist() == low.tolist()
    assert np.round(got_high, 4).tolist() == high.tolist()


def test_wilson_matches_r_including_shares_of_0_and_100_percent():
    x, n, low, high = (np.array(c) for c in zip(*R_WILSON))
    got_low, got_high = intervals.wilson_limits(x, n)
    assert got_low == pytest.approx(low, abs=1e-9)
    assert got_high == pytest.approx(high, abs=1e-9)
    assert got_low[x == 0].tolist() == [0.0, 0.0] and got_high[x == n].tolist() == [1.0]


def test_poisson_below_ten_is_exact_and_matches_r():
    counts = [0, 1, 5, 9]
    low, high = intervals.poisson_limits(counts)
    assert low == pytest.approx([R_POISSON_EXACT[c][0] for c in counts], abs=1e-8)
    assert high == pytest.approx([R_POISSON_EXACT[c][1] for c in counts], abs=1e-8)
    assert low[0] == 0.0                     # a zero count: no events, lower limit zero


def test_poisson_from_ten_is_byar_within_the_guidance_accuracy_of_exact():
    counts = [10, 65, 1045]
    low, high = intervals.poisson_limits(counts)
    z = NormalDist().inv_cdf(0.975)
    for c, lo, hi in zip(counts, low, high):
        exact_lo, exact_hi = R_POISSON_EXACT[c]
        assert abs(lo / exact_lo - 1) < 0.002 and abs(hi / exact_hi - 1) < 0.002
        # Byar's formulas as printed in the guidance, written out with the math module
        assert lo == pytest.approx(c * (1 - 1 / (9 * c) - z / (3 * math.sqrt(c))) ** 3, rel=1e-12)
        assert hi == pytest.approx((c + 1) * (1 - 1 / (9 * (c + 1)) + z / (3 * math.sqrt(c + 1))) ** 3, rel=1e-12)
        assert lo != pytest.approx(exact_lo, rel=1e-8)          # Byar's, not the exact limits, from 10 events


def test_ratio_of_two_counts_matches_r_poisson_test():
    c, p, low, high = (np.array(v) for v in zip(*R_RATIO))
    got_low, got_high = intervals.ratio_limits(c, p)
    assert got_low == pytest.approx(low, abs=1e-8)
    assert got_high == pytest.approx(high, abs=1e-8)


def test_other_levels_widen_the_interval():
    narrow, wide = intervals.wilson_limits(30, 100), intervals.wilson_limits(30, 100, level=0.998)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


# --------------------------------------------------------------------------- live R (installed by .ci/run)

R_SCRIPT = """
suppressMessages(library(epitools))
f <- function(x) cat(sprintf("%.10f", x), "\\n")
w <- binom.wilson(c(81, 15, 0, 1, 20, 0), c(263, 148, 20, 29, 20, 1)); f(w$lower); f(w$upper)
for (x in c(0, 1, 5, 9, 10, 65, 1045)) f(poisson.test(x)$conf.int[1:2])
for (pair in list(c(66194, 57899), c(0, 7), c(3, 8))) f(poisson.test(pair, c(1, 1))$conf.int[1:2])
"""


def rscript() -> str:
    """Path of Rscript; a skip without it, a failure when CI or PEEL_REQUIRE_REAL_DATA is set."""
    found = shutil.which("Rscript")
    if found is None:
        msg = "Rscript not installed (Debian: r-base-core r-cran-epitools r-cran-metafor; .ci/run installs them)"
        if any(os.environ.get(v, "") not in ("", "0", "false", "False") for v in ("CI", "PEEL_REQUIRE_REAL_DATA")):
            pytest.fail(msg)
        pytest.skip(msg)
    return found


def run_r(script: str) -> list[list[float]]:
    out = subprocess.run([rscript(), "-e", script], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    return [[float(v) for v in line.split()] for line in out.stdout.splitlines() if line.strip()]


def test_live_r_agrees_with_the_kept_values_and_the_package():
    lines = run_r(R_SCRIPT)
    x, n, low, high = (np.array(c) for c in zip(*R_WILSON))
    assert lines[0] == pytest.approx(low, abs=1e-9) and lines[1] == pytest.approx(high, abs=1e-9)
    ours = intervals.wilson_limits(x, n)
    assert ours[0] == pytest.approx(lines[0], abs=1e-9) and ours[1] == pytest.approx(lines[1], abs=1e-9)
    for count, line in zip([0, 1, 5, 9, 10, 65, 1045], lines[2:9]):
        assert line == pytest.approx(R_POISSON_EXACT[count], abs=1e-9)
        if count < intervals.BYAR_FROM:
            assert list(intervals.poisson_limits(count)) == pytest.approx(line, abs=1e-8)
    for (c, p, lo, hi), line in zip(R_RATIO, lines[9:12]):
        assert line == pytest.approx([lo, hi], abs=1e-9)
        assert list(intervals.ratio_limits(c, p)) == pytest.approx(line, abs=1e-8)


# --------------------------------------------------------------------------- rows of the table (synthetic)

def _rows(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    frame = pd.DataFrame({"basis": ["reproduced"] * n, **cols})
    return frame.astype({"value": "Float64", "numerator": "Float64", "denominator": "Float64"})


def test_every_kind_of_row_gets_its_method_in_the_value_unit():
    rows = _rows(measure=["recorded_crime_per_1000", "recorded_crime_per_1000", "action_taken",
                          "recorded_crime_change_pct", "action_taken", "action_taken"],
                 value=[1000 * 5 / 2000, 0.0, 0.0, 100 * (66194 / 57899 - 1), 100.0, 50.0],
                 numerator=[5, 0, 0, 66194 - 57899, 20, 10], denominator=[2000, 1500, 20, 57899, 20, 20])
    out = intervals.add(rows)
    assert out["ci_method"].tolist() == [intervals.METHODS[k] for k in ("exact", "exact", "wilson", "ratio",
                                                                         "wilson", "wilson")]
    assert out["ci_low"].iloc[0] == pytest.approx(1000 * R_POISSON_EXACT[5][0] / 2000)
    assert out["ci_high"].iloc[1] == pytest.approx(1000 * R_POISSON_EXACT[0][1] / 1500)   # zero count
    assert (out["ci_low"].iloc[2], out["ci_high"].iloc[2]) == pytest.approx((0.0, 100 * 0.1611251581))  # 0%
    assert out["ci_low"].iloc[3] == pytest.approx(100 * (R_RATIO[0][2] - 1))                # as a % change
    assert (out["ci_low"].iloc[4], out["ci_high"].iloc[4]) == pytest.approx((100 * 0.8388748419, 100.0))  # 100%
    assert (out["ci_low"] <= out["value"]).all() and (out["value"] <= out["ci_high"]).all()


def test_values_without_counts_and_negative_counts_get_no_interval_and_a_reason():
    rows = _rows(measure=["da_arrests_per_100", "calls_for_assistance_per_1000", "outcome_not_yet_assigned",
                          "action_taken", "recorded_crime_per_1000"],
                 basis=["published", "supplied", "reproduced", "reproduced", "not_available"],
                 value=[52.8, 400.0, -0.062, 120.0, None], numerator=[None, None, -70, 120, None],
                 denominator=[None, None, 112826, 100, None])
    out = intervals.add(rows)
    assert out["ci_low"].isna().all() and out["ci_high"].isna().all()
    assert out["ci_method"].iloc[0] == "no counts: published value"
    assert out["ci_method"].iloc[1] == "no counts: supplied value"
    assert out["ci_method"].iloc[2].startswith("no interval: the net count is negative (-70)")
    assert out["ci_method"].iloc[3] == "no interval: the count (120) exceeds its base (100)"
    assert pd.isna(out["ci_method"].iloc[4])                     # no value at all: nothing to say here


def test_a_falling_count_is_not_a_negative_count():
    rows = _rows(measure=["recorded_crime_change_pct"], value=[-10.0], numerator=[-100], denominator=[1000])
    out = intervals.add(rows)
    assert out["ci_method"].iloc[0] == intervals.METHODS["ratio"]
    assert out["ci_low"].iloc[0] < -10.0 < out["ci_high"].iloc[0]


def test_a_change_whose_count_this_year_is_negative_says_so():
    """SYNTHETIC: a change row whose numerator (this year minus last) and base (last year) make a negative
    net count this year."""
    rows = _rows(measure=["recorded_crime_change_pct"], value=[-150.0], numerator=[-150], denominator=[100])
    out = intervals.add(rows)
    assert out["ci_low"].isna().all()
    assert out["ci_method"].iloc[0].startswith("no interval: the net count is negative (-50 this year)")


# --------------------------------------------------------------------------- the results table (real data)

@pytest.fixture(scope="module")
def table(real_data_dir, no_user_data_return_module):
    from peel_helpers import results
    from peel_helpers.measures import clear_caches

    clear_caches()
    yield results()
    clear_caches()


@pytest.mark.realdata
def test_cambridgeshire_recorded_crime_has_a_byar_interval(table):
    row = table[(table["force"] == "Cambridgeshire") & (table["measure"] == "recorded_crime_per_1000")
                & (table["period_end"] == "2018-03-31")].iloc[0]
    assert row["ci_low"] < row["value"] < row["ci_high"]
    assert row["ci_method"] == intervals.METHODS["byar"]
    o, z = float(row["numerator"]), NormalDist().inv_cdf(0.975)
    assert row["ci_low"] == pytest.approx(1000 * o * (1 - 1 / (9 * o) - z / (3 * math.sqrt(o))) ** 3
                                          / float(row["denominator"]), rel=1e-10)


@pytest.mark.realdata
def test_every_row_with_counts_has_an_interval_around_its_value(table):
    has = table["value"].notna() & table["numerator"].notna() & table["denominator"].notna()
    shares = has & table["unit"].str.startswith("% of")
    assert shares.sum() > 1000 and (table.loc[shares & (table["numerator"] >= 0), "ci_method"]
                                    == intervals.METHODS["wilson"]).all()
    ok = has & table["ci_low"].notna()
    assert ((table.loc[ok, "ci_low"] <= table.loc[ok, "value"] + 1e-9)
            & (table.loc[ok, "value"] <= table.loc[ok, "ci_high"] + 1e-9)).all()
    without = has & table["ci_low"].isna()
    assert table.loc[without, "ci_method"].str.startswith("no interval").all()
    assert (table.loc[without, "numerator"] < 0).all()            # only negative net counts go without
    published = table["value"].notna() & table["numerator"].isna()
    assert (table.loc[published, "ci_method"] == "no counts: " + table.loc[published, "basis"].str.replace(
        "_", " ") + " value").all()


@pytest.mark.realdata
def test_sussex_negative_not_yet_assigned_share_has_no_interval(table):
    row = table[(table["force"] == "Sussex") & (table["measure"] == "outcome_not_yet_assigned")
                & (table["period_end"] == "2018-03-31")].iloc[0]
    assert row["numerator"] < 0 and pd.isna(row["ci_low"]) and pd.isna(row["ci_high"])
    assert "net count is negative" in row["ci_method"]
    assert row["vs_ew"] == "not_compared" and "negative" in row["vs_ew_method"]
