"""Our values beside the official tables that publish the same measure: agreement is shown, and every
difference gets its cause, rather than being assumed away.

* :func:`recorded_crime_agreement` compares our recorded crime (excluding fraud) for every force and
  England and Wales with ONS's own Tables P1 (counts) and P3 (rates per 1,000 on mid-2017
  populations), year ending June 2018, to one decimal place.
* :func:`asb_agreement` compares ONS Table P7's ASB rates with the incidents over the population year
  ONS used (mid-year two years before the year ends), wherever that base can be matched.
* :func:`validate` runs both; ``peel-reports validate`` prints them and fails on an unexplained
  difference.
"""

from __future__ import annotations

import sys

import pandas as pd

from .. import data
from ..core.forces import FORCE_NAMES
from ..core.text import ENGLAND_AND_WALES
from .rates import implied_denominator
from .table import results

ONS_CHECK_PERIOD = "2018-06-30"


# --------------------------------------------------------------------------- recorded crime: ONS P1 and P3

def _ons(period: str) -> pd.DataFrame:
    """ONS's published counts and rates for ``period``: area -> count, rate, notes."""
    ons = data.load("ons_published")
    ons = ons[pd.to_datetime(ons["period_end"]) == pd.Timestamp(period)]
    wide = ons.pivot_table(index="area", columns="measure", values="value", aggfunc="first")
    notes = ons.groupby("area")["value_note"].agg(lambda s: "; ".join(sorted({str(x) for x in s.dropna()})))
    return wide.rename(columns={"recorded_crime_count": "ons_count", "recorded_crime_per_1000": "ons_rate"}) \
        .join(notes.rename("ons_note"))


def _explain(row) -> tuple[str, bool]:
    """Why our figure and ONS's differ, and whether that is explained."""
    revised = (f"the count was revised between ONS's release (P1: {row['ons_count']:,.0f}) and the Home Office file "
               f"used here ({row['our_count']:,.0f})") if row["count_differs"] and pd.notna(row["ons_count"]) else ""
    if row["agree"]:
        return ("agrees; " + revised if revised else "agrees"), True
    if pd.isna(row["ons_rate"]):
        return f"ONS publishes no separate rate ({row['ons_note'] or 'symbol in the table'})", True
    if row["area"] == ENGLAND_AND_WALES and row["btp_rate_agrees"]:
        return ("ONS's England and Wales includes British Transport Police; on that definition ours is "
                f"{row['ours_with_btp']:.1f}, which agrees"), True
    if revised and row["rate_on_ons_count_agrees"]:
        return f"{revised}; on ONS's count our rate agrees", True
    if row["implied_rounds_to_ours"]:
        why = (f"ONS divides by the unrounded mid-2017 estimate ({row['implied_population']:,.0f} implied by its "
               f"rate), the table rounds it to {row['population']:,.0f}, and the rate sits on a rounding boundary")
        return (f"{revised}; and {why}" if revised else why), True
    return "unexplained difference", False


def recorded_crime_agreement(period: str = ONS_CHECK_PERIOD) -> pd.DataFrame:
    """43 forces and England and Wales: our count and rate beside ONS's P1 count and P3 rate."""
    ours = results(measures=["recorded_crime_per_1000"], periods=[period])
    ours = ours[ours["force"].isin(list(FORCE_NAMES) + [ENGLAND_AND_WALES])]
    frame = ours[["force", "numerator", "denominator", "value", "population_year"]].rename(
        columns={"force": "area", "numerator": "our_count", "denominator": "population", "value": "our_rate"})
    frame = frame.join(_ons(period), on="area")
    btp = _btp_count(period)
    frame["ours_with_btp"] = (frame["our_count"] + btp) * 1000 / frame["population"]
    frame["count_differs"] = (frame["our_count"] != frame["ons_count"]).fillna(True)
    rounded = lambda s: s.astype(float).round(1)  # noqa: E731
    frame["agree"] = (rounded(frame["our_rate"]) == rounded(frame["ons_rate"])).fillna(False)
    frame["btp_rate_agrees"] = (rounded(frame["ours_with_btp"]) == rounded(frame["ons_rate"])).fillna(False)
    # our rate moved onto ONS's count, and onto the unrounded population ONS's rate implies
    on_ons_count = frame["our_rate"] * frame["ons_count"] / frame["our_count"]
    frame["implied_population"] = frame["ons_count"] * 1000 / frame["ons_rate"]
    on_unrounded = on_ons_count * frame["population"] / frame["implied_population"]
    frame["rate_on_ons_count_agrees"] = (rounded(on_ons_count) == rounded(frame["ons_rate"])).fillna(False)
    frame["implied_rounds_to_ours"] = ((frame["implied_population"].astype(float).round(-2)
                                        == frame["population"].astype(float))
                                       & (rounded(on_unrounded) == rounded(frame["ons_rate"]))).fillna(False)
    explained = [_explain(r) for _, r in frame.iterrows()]
    frame["explanation"], frame["explained"] = [e for e, _ in explained], [x for _, x in explained]
    return frame.reset_index(drop=True)


def _btp_count(period: str) -> float:
    rc = data.load("recorded_crime")
    sel = rc[(rc["body"] == "british_transport_police") & (rc["period_end"] == pd.Timestamp(period))
             & (rc["offence"] != "Fraud offences")]
    return float(sel["count"].sum())


# --------------------------------------------------------------------------- ASB: ONS P7

def asb_agreement() -> pd.DataFrame:
    """Every force and year ending March in Table P7: ONS's rate beside the incidents over the mid-year
    estimate two years before the year ends (the base ONS's rates match), with the implied population."""
    asb = data.load("asb")
    pop = data.load("population").set_index(["force", "mid_year"])["population"]
    rows = []
    for rec in asb.itertuples(index=False):
        year = rec.year_ending.year
        base = pop.get((rec.force, year - 2), pd.NA)
        ours = 1000 * rec.incidents / base if pd.notna(base) and pd.notna(rec.incidents) else pd.NA
        rows.append({"force": rec.force, "year_ending": year, "incidents": rec.incidents,
                     "ons_rate": rec.ons_rate_per_1000, "ons_note": rec.ons_rate_note, "population_year": year - 2,
                     "population": base, "rate_on_that_base": ours,
                     "implied_population": implied_denominator(rec.incidents, rec.ons_rate_per_1000, 1_000)})
    out = pd.DataFrame(rows)
    r = lambda s: pd.to_numeric(s, errors="coerce").round(1)  # noqa: E731
    out["agree"] = (r(out["rate_on_that_base"]) == r(out["ons_rate"])).fillna(False)
    out["matchable"] = out["ons_rate"].notna() & out["population"].notna()
    return out


def summary_lines(crime: pd.DataFrame, asb: pd.DataFrame) -> list[str]:
    """The headline and every exception, as lines of text (for the command line and the ledger)."""
    n, agree = len(crime), int(crime["agree"].sum())
    counts_equal = int((~crime["count_differs"]).sum())
    unexplained = crime[~crime["explained"]]
    lines = [f"ONS Table P3, recorded crime excluding fraud per 1,000, year ending June 2018: {agree} of {n} rates "
             f"agree to one decimal place; {n - agree - len(unexplained)} differ, each with its cause below; "
             f"{len(unexplained)} unexplained.",
             f"ONS Table P1 counts: {counts_equal} of {n} equal; the others were revised after ONS's release."]
    for row in crime[~crime["agree"] | ~crime["explained"]].itertuples():
        ours = "no rate" if pd.isna(row.our_rate) else f"{row.our_rate:.1f}"
        theirs = "no rate" if pd.isna(row.ons_rate) else f"{row.ons_rate:.1f}"
        lines.append(f"  {row.area}: ours {ours}, ONS {theirs}: {row.explanation}")
    matchable = asb[asb["matchable"]]
    by_year = matchable.groupby("year_ending")["agree"].agg(["sum", "size"])
    gap = (matchable["implied_population"].astype(float) - matchable["population"].astype(float)).abs()
    lines.append(f"ONS Table P7, ASB incidents per 1,000 on the mid-year two years before: {int(by_year['sum'].sum())} "
                 f"of {int(by_year['size'].sum())} force-years agree to one decimal place "
                 f"({', '.join(f'{y}: {s}/{t}' for y, (s, t) in by_year.iterrows())}). The others imply populations a "
                 f"median {gap[~matchable['agree']].median():,.0f} people from the current estimate (against "
                 f"{gap[matchable['agree']].median():,.0f} where they agree): ONS's rates rest on estimates since "
                 "revised, so that base cannot be matched exactly.")
    no_rate = asb[asb["ons_rate"].isna()]
    if len(no_rate):
        lines.append(f"  no ONS rate to compare for {len(no_rate)} force-years "
                     f"({'; '.join(sorted({f'{r.force} ({r.ons_note})' for r in no_rate.itertuples()}))})")
    return lines


def validate() -> tuple[pd.DataFrame, pd.DataFrame, list[str], bool]:
    """Both comparisons, their summary, and whether every difference is explained."""
    crime, asb = recorded_crime_agreement(), asb_agreement()
    return crime, asb, summary_lines(crime, asb), bool(crime["explained"].all())


def main(argv: list[str] | None = None) -> int:
    """``peel-reports validate [--csv DIR]``: print the agreement with ONS; exit 1 on an unexplained difference."""
    import argparse

    from ..core.errors import PeelError
    from ..core.files import atomic_write

    parser = argparse.ArgumentParser(prog="peel-reports validate",
                                     description="Agreement of the reproduced figures with ONS's own tables.")
    parser.add_argument("--csv", metavar="DIR", help="also write the two comparisons as CSV files into DIR")
    args = parser.parse_args(argv)
    try:
        crime, asb, lines, ok = validate()
    except PeelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    if args.csv:
        from pathlib import Path

        atomic_write(Path(args.csv) / "ons_recorded_crime_agreement.csv", crime.to_csv(index=False))
        atomic_write(Path(args.csv) / "ons_asb_agreement.csv", asb.to_csv(index=False))
    if not ok:
        print("ERROR: an unexplained difference from ONS's published figures (see above).", file=sys.stderr)
    return 0 if ok else 1
