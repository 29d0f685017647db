"""Our values beside the official tables that publish the same measure: agreement is shown, and every
difference gets a cause that could have been false, rather than being assumed away.

* :func:`recorded_crime_agreement` compares our recorded crime (excluding fraud) for every force and
  England and Wales with ONS's own Tables P1 (counts) and P3 (rates per 1,000) for one window the ONS
  tables publish: the year ending June 2018 (ONS divided by mid-2017 populations) and the year ending
  March 2018 (ONS divided by mid-2016 populations, while the report's rule gives mid-2017). Rates are
  compared on both bases: ONS's, which tests the arithmetic, and the report's, which is what we show.
* A count difference is a *revision* only within :data:`REVISION_BOUND`; beyond it, it is unexplained
  unless ONS itself documents an addition of that size. A rate difference is explained only when the
  population ONS's rate implies matches ours to the rounding of the tables, so a wrong count, a wrong
  population or a wrong England and Wales sum each ends as "unexplained".
* :func:`asb_agreement` compares ONS Table P7's ASB rates with the incidents over the mid-year
  estimate two years before the year ends (the base ONS's rates match): a rate that differs must
  imply a base within :data:`ASB_BASE_BOUND` of that estimate.
* :func:`validate` runs all of them; ``peel-reports validate`` prints them and exits 1 on any
  unexplained difference.
"""

from __future__ import annotations

import re
import sys

import pandas as pd

from .. import data
from ..core.forces import FORCE_NAMES
from ..core.periods import Period
from ..core.text import ENGLAND_AND_WALES
from .rates import implied_denominator
from .table import results

ONS_CHECK_PERIOD = "2018-06-30"
# A count difference between ONS's table and the (later) Home Office file is a revision only if it is at
# most 1% of ONS's count or 500 offences, whichever is larger. Measured on both windows (see
# data/ASSUMPTIONS.md, A-VINTAGE): without a documented cause, the largest differences are 0.63%
# at forces above 40,000 offences (Norfolk +360, year ending June 2018; Thames Valley -846, March 2018)
# and a few hundred offences at smaller ones (Gloucestershire +360, 1.07%; City of London +478, 8.9%).
REVISION_SHARE = 0.01
REVISION_FLOOR = 500
# ONS's footnotes state additions as "approximately N%": that means within half a point of N.
DOCUMENTED_TOLERANCE = 0.5
# Tables round populations to 100, so the population ONS divided by is within 50 of each area's
# printed figure (and within 50 per force of a sum of printed figures).
ROUNDING = 50
# ASB (Table P7): where ONS's rate differs from incidents over the mid-year estimate two years before,
# the base it implies is within 0.92% of that estimate in every force-year; beyond 1% it is unexplained.
ASB_BASE_BOUND = 0.01


def _r1(values) -> pd.Series:
    return pd.to_numeric(pd.Series(values), errors="coerce").astype(float).round(1)


def revision_bound(ons_count) -> float:
    """The largest count difference accepted as a revision after ONS's release."""
    return max(REVISION_SHARE * float(ons_count), REVISION_FLOOR)


# --------------------------------------------------------------------------- ONS's tables (data layer)

def ons_windows() -> list[str]:
    """The period ends for which the loaded ONS tables publish recorded crime rates (Table P3)."""
    ons = data.load("ons_published")
    rates = ons[ons["measure"] == "recorded_crime_per_1000"]
    return sorted({d.date().isoformat() for d in pd.to_datetime(rates["period_end"])})


def _base_year(text) -> int | None:
    m = re.search(r"(\d{4})", str(text)) if isinstance(text, str) else None
    return int(m.group(1)) if m else None


def _ons(period: str) -> pd.DataFrame:
    """ONS's published counts and rates for ``period``: area -> ons_count, ons_rate, ons_note,
    ons_footnotes (of the count), ons_base_year (the mid-year Table P3 divided by)."""
    ons = data.load("ons_published")
    ons = ons[pd.to_datetime(ons["period_end"]) == pd.Timestamp(period)]
    wide = ons.pivot_table(index="area", columns="measure", values="value", aggfunc="first")
    wide = wide.rename(columns={"recorded_crime_count": "ons_count", "recorded_crime_per_1000": "ons_rate"})
    wide = wide.reindex(columns=["ons_count", "ons_rate"])
    notes = ons.groupby("area")["value_note"].agg(lambda s: "; ".join(sorted({str(x) for x in s.dropna()})))
    counts = ons[ons["measure"] == "recorded_crime_count"].set_index("area")["footnotes"]
    base = ons.loc[ons["measure"] == "recorded_crime_per_1000", "population_base"].dropna()
    out = wide.join(notes.rename("ons_note")).join(counts.rename("ons_footnotes"))
    out["ons_base_year"] = _base_year(base.iloc[0]) if len(base) else pd.NA
    return out


def documented_additions() -> dict[str, tuple[float, str]]:
    """area -> (share of offences in %, footnote) for the count footnotes in which ONS states that an
    area's figures include offences added later ("... approximately 2% of offences ...")."""
    ons = data.load("ons_published")
    counts = ons[(ons["measure"] == "recorded_crime_count") & ons["footnotes"].notna()]
    out = {}
    for area, text in zip(counts["area"], counts["footnotes"]):
        m = re.search(r"approximately\s+(\d+(?:\.\d+)?)\s*%\s+of offences", str(text))
        if m and re.search(r"additional crimes", str(text), flags=re.I):
            out[str(area)] = (float(m.group(1)), str(text))
    return out


def ons_published_rate(area: str, period) -> dict | None:
    """ONS's own published rate for ``area`` (a force or England and Wales) and the 12 months to
    ``period``, with the mid-year ONS divided by; None when the loaded ONS tables do not cover the
    window. ``value`` is None where ONS shows a symbol instead of a rate (``note`` says why)."""
    iso = Period.parse(period).iso
    if iso not in ons_windows():
        return None
    ons = _ons(iso)
    if area not in ons.index:
        return None
    row = ons.loc[area]
    value = None if pd.isna(row["ons_rate"]) else float(row["ons_rate"])
    year = None if pd.isna(row["ons_base_year"]) else int(row["ons_base_year"])
    return {"value": value, "population_year": year, "note": row["ons_note"] or None,
            "table": f"ONS Table P3, {_year_ending(iso)}"}


def _year_ending(iso: str) -> str:
    end = Period.parse(iso).end
    return f"year ending {end.strftime('%B')} {end.year}"


# --------------------------------------------------------------------------- recorded crime: ONS P1 and P3

def _btp_count(period: str) -> float:
    rc = data.load("recorded_crime")
    sel = rc[(rc["body"] == "british_transport_police") & (rc["period_end"] == pd.Timestamp(period))
             & (rc["offence"] != "Fraud offences")]
    return float(sel["count"].sum())


def _populations(year) -> pd.Series:
    """force -> population for mid-``year`` (the data layer's table, as every rate uses)."""
    pop = data.load("population")
    if pd.isna(year):
        return pd.Series(dtype=float)
    return pop[pop["mid_year"] == int(year)].set_index("force")["population"].astype(float)


def _ours(period: str) -> pd.DataFrame:
    """Our count, population (report's rule) and rate for the 43 forces and England and Wales."""
    ours = results(measures=["recorded_crime_per_1000"], periods=[period])
    ours = ours[ours["force"].isin(list(FORCE_NAMES) + [ENGLAND_AND_WALES])]
    frame = ours[["force", "numerator", "denominator", "value", "population_year", "n_forces"]].rename(
        columns={"force": "area", "numerator": "our_count", "denominator": "population", "value": "our_rate"})
    frame.insert(1, "period_end", period)
    frame["n_areas"] = frame["n_forces"].fillna(1).astype(int)
    return frame.drop(columns="n_forces").reset_index(drop=True)


def recorded_crime_agreement(period: str = ONS_CHECK_PERIOD) -> pd.DataFrame:
    """43 forces and England and Wales: our count and rate beside ONS's P1 count and P3 rate, on ONS's
    population base and on the report's, with each difference's cause and whether it is explained."""
    frame = _ours(period).join(_ons(period), on="area")
    is_ew = frame["area"] == ENGLAND_AND_WALES
    forces = frame[~is_ew]
    frame["ons_base_population"] = _ons_base_population(frame, is_ew)
    with_btp = is_ew & frame["ons_note"].fillna("").str.contains("British Transport Police")
    frame["btp_added"] = with_btp.map({True: _btp_count(period), False: 0.0})
    frame["sum_of_forces"] = (~is_ew) | (frame["our_count"] == forces["our_count"].sum())
    frame["comparable_count"] = frame["our_count"] + frame["btp_added"]
    frame["count_diff"] = frame["comparable_count"] - frame["ons_count"]
    frame["count_diff_pct"] = 100 * frame["count_diff"] / frame["ons_count"]
    frame["count_differs"] = (frame["count_diff"] != 0).fillna(True)
    frame["revision_bound"] = [revision_bound(c) if pd.notna(c) else pd.NA for c in frame["ons_count"]]
    frame["within_bound"] = (frame["count_diff"].abs() <= frame["revision_bound"]).fillna(False)
    shown = 1000 * frame["our_count"] / frame["population"]
    frame["rate_is_count_over_population"] = ((frame["our_rate"] - shown).abs() <= 1e-9 * shown).fillna(False)
    frame["rate_on_ons_base"] = 1000 * frame["comparable_count"] / frame["ons_base_population"]
    frame["rate_on_report_base"] = 1000 * frame["comparable_count"] / frame["population"]
    frame["agree"] = (_r1(frame["our_rate"]) == _r1(frame["ons_rate"])).to_numpy()
    frame["agree_ons_base"] = (_r1(frame["rate_on_ons_base"]) == _r1(frame["ons_rate"])).to_numpy()
    frame["implied_population"] = [implied_denominator(c, r, 1_000) for c, r in zip(frame["ons_count"],
                                                                                       frame["ons_rate"])]
    gap = (frame["implied_population"].astype(float) - frame["ons_base_population"].astype(float)).abs()
    frame["denominator_matches"] = (gap <= ROUNDING * frame["n_areas"]).to_numpy()
    frame["rate_on_ons_count"] = 1000 * frame["ons_count"] / frame["ons_base_population"]
    documented = documented_additions()
    explained = [_explain(r, documented) for _, r in frame.iterrows()]
    frame["explanation"], frame["explained"] = [e for e, _ in explained], [x for _, x in explained]
    return frame.reset_index(drop=True)


def _ons_base_population(frame: pd.DataFrame, is_ew: pd.Series) -> pd.Series:
    """The population on ONS's base for each area: the one the results use where ONS's mid-year is the
    report's, else the data layer's estimate for ONS's year (England and Wales: the forces' sum)."""
    year = frame["ons_base_year"].dropna()
    if year.empty:
        return pd.Series(pd.NA, index=frame.index, dtype="Float64")
    same = frame["population_year"].astype("Int64") == int(year.iloc[0])
    base = _populations(year.iloc[0])
    out = frame["area"].map(base).astype("Float64")
    out[is_ew] = base.reindex(frame.loc[~is_ew, "area"]).sum(min_count=int((~is_ew).sum()))
    return out.where(~same.fillna(False), frame["population"].astype("Float64"))


def _count_text(row) -> str:
    """'count 57,098 against ONS's 56,738: +360 (+0.63%)'."""
    if pd.isna(row["ons_count"]):
        return "ONS publishes no count"
    if not row["count_differs"]:
        return f"count {row['comparable_count']:,.0f}, as ONS's"
    return (f"count {row['comparable_count']:,.0f} against ONS's {row['ons_count']:,.0f}: "
            f"{row['count_diff']:+,.0f} ({row['count_diff_pct']:+.2f}%)")


def _count_cause(row, documented: dict) -> tuple[str, bool]:
    """Why the counts differ (or that they do not), and whether that is explained."""
    if not row["sum_of_forces"]:
        return "our England and Wales count is not the sum of the 43 forces' counts", False
    text = _count_text(row)
    if row["area"] == ENGLAND_AND_WALES and row["btp_added"]:
        text = (f"ONS's total includes British Transport Police, so the file's {row['btp_added']:,.0f} "
                f"British Transport Police offences are added to ours: {text}")
    if pd.isna(row["ons_count"]) or not row["count_differs"]:
        return text, pd.notna(row["ons_count"])
    if row["within_bound"]:
        return f"{text}, a revision after ONS's release (within the bound of {row['revision_bound']:,.0f})", True
    share, note = documented.get(row["area"], (None, ""))
    footnote_here = bool(note) and note == (row["ons_footnotes"] if isinstance(row["ons_footnotes"], str) else "")
    if share is not None and not footnote_here and abs(row["count_diff_pct"] - share) <= DOCUMENTED_TOLERANCE:
        return (f"{text}: ONS's later table adds offences it documents as about {share:g}% of the force's "
                f"count (\"{note.split('. ', 1)[-1][:110]}...\"), and the difference is within "
                f"{DOCUMENTED_TOLERANCE:g} points of that"), True
    return (f"{text}, beyond the revision bound ({row['revision_bound']:,.0f}) and not documented by ONS: "
            "unexplained"), False


def _explain(row, documented: dict) -> tuple[str, bool]:
    """The cause of any difference on ONS's base, and whether every part of it is explained."""
    if not row["rate_is_count_over_population"] and pd.notna(row["our_rate"]):
        return (f"unexplained: the rate shown, {row['our_rate']:.3f}, is not the count over the population "
                f"({1000 * row['our_count'] / row['population']:.3f})"), False
    count, ok = _count_cause(row, documented)
    if not ok:
        return f"unexplained: {count}", False
    if pd.isna(row["ons_rate"]):
        note = row["ons_note"] if isinstance(row["ons_note"], str) and row["ons_note"] else "symbol in the table"
        return f"{count}; ONS publishes no separate rate ({note})", True
    if row["agree_ons_base"]:
        return f"{count}; rates agree", True
    implied, ours = row["implied_population"], row["ons_base_population"]
    if not row["denominator_matches"]:
        return (f"unexplained: ONS's rate implies a population of {implied:,.0f}, ours for mid-"
                f"{int(row['ons_base_year'])} is {ours:,.0f} (more than rounding apart); {count}"), False
    causes = [count] if row["count_differs"] else []
    if _r1([row["rate_on_ons_count"]])[0] != _r1([row["ons_rate"]])[0]:
        causes.append(f"the rate sits on a rounding boundary: ONS divides by the unrounded estimate "
                      f"({implied:,.0f} implied by its rate), the table rounds it to {ours:,.0f}")
    return "; ".join(causes), True


# --------------------------------------------------------------------------- ASB: ONS P7

def asb_agreement() -> pd.DataFrame:
    """Every force and year ending March in Table P7: ONS's rate beside the incidents over the mid-year
    estimate two years before the year ends (the base ONS's rates match), with the base ONS's rate
    implies; a rate that differs is explained only if that base is within ASB_BASE_BOUND of the estimate."""
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
    out["agree"] = (_r1(out["rate_on_that_base"]) == _r1(out["ons_rate"])).to_numpy()
    out["matchable"] = (out["ons_rate"].notna() & out["population"].notna()).to_numpy()
    gap = out["implied_population"].astype(float) - pd.to_numeric(out["population"]).astype(float)
    out["base_gap_pct"] = 100 * gap / pd.to_numeric(out["population"]).astype(float)
    within = (out["base_gap_pct"].abs() <= 100 * ASB_BASE_BOUND).fillna(False).to_numpy()
    out["explained"] = out["agree"] | (out["matchable"] & within) | (~out["matchable"] & out["ons_note"].notna())
    out["explanation"] = [_asb_text(r) for r in out.itertuples()]
    return out


def _asb_text(r) -> str:
    if not r.matchable:
        return f"no ONS rate to compare ({r.ons_note})" if isinstance(r.ons_note, str) else "unexplained: no rate"
    if r.agree:
        return "agrees"
    verdict = "within" if r.explained else "beyond"
    return (f"ONS's rate implies a base of {r.implied_population:,.0f}, {r.base_gap_pct:+.2f}% from the mid-"
            f"{r.population_year} estimate ({r.population:,.0f}), {verdict} the {100 * ASB_BASE_BOUND:g}% bound"
            + ("" if r.explained else ": unexplained"))


# --------------------------------------------------------------------------- the summary and the command

def _window_lines(crime: pd.DataFrame) -> list[str]:
    """The headline for one window and every exception, as lines of text."""
    first = crime.iloc[0]
    n, ons_year, rule_year = len(crime), int(first["ons_base_year"]), int(first["population_year"])
    unexplained = int((~crime["explained"]).sum())
    title = f"ONS Table P3, recorded crime excluding fraud per 1,000, {_year_ending(first['period_end'])}"
    if ons_year == rule_year:
        lines = [f"{title}: ONS divided by mid-{ons_year} populations, the base the report's rule gives. "
                 f"{int(crime['agree'].sum())} of {n} rates agree to one decimal place; {unexplained} unexplained."]
    else:
        lines = [f"{title}: ONS divided by mid-{ons_year} populations; the report's rule gives mid-{rule_year}. "
                 f"On ONS's base (mid-{ons_year}) {int(crime['agree_ons_base'].sum())} of {n} rates agree to "
                 f"one decimal place; on the report's (mid-{rule_year}) {int(crime['agree'].sum())} of {n}; "
                 f"{unexplained} unexplained."]
    lines.append(f"  ONS Table P1 counts: {int((~crime['count_differs']).sum())} of {n} equal. A difference is a "
                 f"revision after ONS's release only within {100 * REVISION_SHARE:g}% of ONS's count or "
                 f"{REVISION_FLOOR} offences, whichever is larger.")
    for row in crime[~crime["agree_ons_base"] | crime["count_differs"] | ~crime["explained"]].itertuples():
        theirs = "no rate" if pd.isna(row.ons_rate) else f"{row.ons_rate:.1f}"
        lines.append(f"  {row.area}: ours {_ours_text(row, ons_year, rule_year)}, ONS {theirs}: {row.explanation}")
    return lines


def _ours_text(row, ons_year: int, rule_year: int) -> str:
    """'62.6 on mid-2016 (the reports show 62.3, on mid-2017)'; '84.7 with British Transport Police (...)'."""
    if pd.isna(row.rate_on_ons_base):
        return "no rate"
    text = f"{row.rate_on_ons_base:.1f}" + (" with British Transport Police" if row.btp_added else "")
    if ons_year != rule_year:
        text += f" on mid-{ons_year}"
    if row.btp_added or ons_year != rule_year:
        text += f" (the reports show {row.our_rate:.1f}" + (f", on mid-{rule_year})" if ons_year != rule_year else ")")
    return text


def _asb_lines(asb: pd.DataFrame) -> list[str]:
    matchable = asb[asb["matchable"]]
    by_year = matchable.groupby("year_ending")["agree"].agg(["sum", "size"])
    differ = matchable[~matchable["agree"]]
    lines = [f"ONS Table P7, ASB incidents per 1,000 on the mid-year two years before: {int(by_year['sum'].sum())} "
             f"of {int(by_year['size'].sum())} force-years agree to one decimal place "
             f"({', '.join(f'{y}: {s}/{t}' for y, (s, t) in by_year.iterrows())}). In the other {len(differ)}, "
             f"ONS's rate implies a base at most {differ['base_gap_pct'].abs().max():.2f}% from the estimate "
             f"(bound {100 * ASB_BASE_BOUND:g}%): a count or an estimate revised after ONS computed the rate, "
             f"which the table cannot tell apart; {int((~asb['explained']).sum())} unexplained."]
    lines += [f"  {r.force}, year ending March {r.year_ending}: {r.explanation}" for r in asb[~asb["explained"]]
              .itertuples()]
    no_rate = asb[~asb["matchable"]]
    if len(no_rate):
        lines.append(f"  no ONS rate to compare for {len(no_rate)} force-years "
                     f"({'; '.join(sorted({f'{r.force} ({r.ons_note})' for r in no_rate.itertuples()}))})")
    return lines


def summary_lines(crime: pd.DataFrame, asb: pd.DataFrame) -> list[str]:
    """The headline and every exception for each ONS window and for Table P7, as lines of text."""
    lines = []
    for _, window in crime.groupby("period_end", sort=True):
        lines += _window_lines(window.reset_index(drop=True))
    return lines + _asb_lines(asb)


def validate() -> tuple[pd.DataFrame, pd.DataFrame, list[str], bool]:
    """Every comparison (both ONS windows, Table P7), their summary, and whether every difference is explained."""
    crime = pd.concat([recorded_crime_agreement(p) for p in ons_windows()], ignore_index=True)
    asb = asb_agreement()
    return crime, asb, summary_lines(crime, asb), bool(crime["explained"].all() and asb["explained"].all())


EXIT_HELP = ("Exit status: 0 every difference from ONS's tables is explained; 1 a difference that no documented "
             "cause explains; 2 a bad argument, or data that cannot be read; 3 the CSV files could not be written "
             "(a file given for the folder, a read-only place, a full disk): then none is written.")


def main(argv: list[str] | None = None) -> int:
    """``peel-reports validate [--csv DIR]``: print the agreement with ONS; exit 1 on an unexplained
    difference, 3 when the CSV files cannot be written (see :data:`EXIT_HELP`)."""
    import argparse

    from ..core.errors import EXIT_CANNOT_WRITE, OutputError, PeelError
    from ..core.files import write_all

    parser = argparse.ArgumentParser(prog="peel-reports validate", epilog=EXIT_HELP,
                                     description="Agreement of the reproduced figures with ONS's own tables.")
    parser.add_argument("--csv", metavar="DIR", help="also write the comparisons as CSV files into DIR (created if "
                                                     f"missing): {', '.join(CSV_FILES)}")
    args = parser.parse_args(argv)
    try:
        targets = _csv_targets(args.csv) if args.csv else []   # checked before the work, not after it
        crime, asb, lines, ok = validate()
    except OutputError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CANNOT_WRITE
    except PeelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    if targets:
        try:
            write_all(dict(zip(targets, (crime.to_csv(index=False), asb.to_csv(index=False)))), "--csv")
        except OutputError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_CANNOT_WRITE
    if not ok:
        print("ERROR: an unexplained difference from ONS's published figures (see above).", file=sys.stderr)
    return 0 if ok else 1


CSV_FILES = ("ons_recorded_crime_agreement.csv", "ons_asb_agreement.csv")


def _csv_targets(folder: str) -> list:
    """The CSV files ``--csv DIR`` will write, once DIR and each file in it is known to be writable."""
    from pathlib import Path

    from ..core.errors import OutputError
    from ..core.files import check_writable

    folder = check_writable(Path(folder), "--csv", folder=True)
    for name in CSV_FILES:
        if (folder / name).is_dir():
            raise OutputError(f"--csv {folder}: {folder / name} is a folder, where this command writes a CSV file: "
                              "move it, or name another folder.")
    return [check_writable(folder / name, "--csv") for name in CSV_FILES]
