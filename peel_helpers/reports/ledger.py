"""The reproduction ledger: every number the report publishes, beside what the project reproduces.

For a force and period, :func:`build` returns one row per published number: the published value,
the project's value (or why there is none and which input is missing), the difference, its cause,
and the source files with their sha256. A row's status follows from the **basis** of the value in
:func:`peel_helpers.results` and nothing else:

=================  =====================================================================
basis              ledger status
=================  =====================================================================
reproduced         ``reproduced`` (from open data), with the difference and its cause
supplied           ``reproduced`` (from the user's data-return file)
published          ``published only``: the project carries the report's value; it is not
                   reproduced, and the missing input is named; or ``read from a source``:
                   the number is found as printed in an official file (the count of areas
                   in the ONS lookup, a share in an ONS footnote), which confirms it but
                   is not a statistic the project computes
partial_window     ``partial window``: the part-window value is shown as a comparison,
                   never as the 12-month value
not_available      ``not reproducible`` (the input is not open) or ``not reproduced``
=================  =====================================================================

Only statistics of the report that the project computes (rows of :func:`peel_helpers.results`)
can be ``reproduced``. Numbers that are not statistics the project computes (file reviews, survey
samples, force figures) are ``not reproducible`` with the input named; standards and definitions are ``not
applicable``. Where a comparison mixes published and open inputs (a published count over an ONS
population) it says "partly published".

Causes: ``none``, ``release vintage``, ``outcomes assigned after the report's snapshot``,
``partial window``, ``population base``, ``missing input``, ``not applicable``.

Command line: ``peel-reports ledger --force Cambridgeshire --period 2017-06-30 [--csv PATH]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from ..core.errors import EXIT_CANNOT_WRITE, OutputError, PeelError
from ..core.files import check_writable, write_all
from ..core.forces import resolve
from ..core.periods import REPORT_PERIOD, Period
from ..core.text import DASH, ENGLAND_AND_WALES, format_value, lower_first, md_escape
from ..data import published

NOT_OPEN = "not reproducible from open data"
COLUMNS = [
    "id", "area", "measure", "label", "period", "unit", "published", "reproduced", "reproduced_value", "difference",
    "basis", "status", "cause", "missing_input", "comparison", "source_file", "sha256", "note",
]
STATUSES = ("reproduced", "published only", "read from a source", "partial window", "not reproducible",
            "not reproduced", "not applicable")
CAUSES = ("none", "release vintage", "outcomes assigned after the report's snapshot", "partial window",
          "population base", "missing input", "not applicable")

# What the inputs behind the non-open numbers are, by measure.
_MISSING = {
    "nfib_fraud_referrals": "the force's count of National Fraud Intelligence Bureau referrals (force figures supplied to the inspection)",
    "crime_investigated_by_telephone_pct": "the force's count of crimes resolved by telephone investigation (force figures)",
    "files_reviewed": "HMICFRS's case file review (inspection fieldwork)",
    "files_with_problems": "HMICFRS's case file review results (inspection fieldwork)",
    "files_with_serious_concerns": "HMICFRS's case file review results (inspection fieldwork)",
    "files_reviewed_total": "HMICFRS's case file review (inspection fieldwork)",
    "files_reviewed_per_force": "HMICFRS's case file review design (inspection fieldwork)",
    "da_arrest_rate_above_ew_years": "the force's manual audit of domestic abuse arrests in custody records",
    "prompt_da_attendance_hours_peterborough": "the force's own review of attendance times (force figures)",
    "crisis_care_concordat_signatories": "the concordat's list of signatories (not published as data)",
    "investigations_reallocated": "the force's workload records (force figures)",
    "detective_shortfall": "the force's establishment and training records (force figures)",
    "staff_survey_responses_min": "HMICFRS's police staff survey (inspection fieldwork)",
    "staff_survey_responses_max": "HMICFRS's police staff survey (inspection fieldwork)",
    "public_survey_sample_min": "HMICFRS's Ipsos MORI public survey (inspection fieldwork)",
    "public_survey_sample_max": "HMICFRS's Ipsos MORI public survey (inspection fieldwork)",
    "forces_outcomes_via_hodh": "Home Office information on how forces submit outcomes (not published as data)",
    "ocg_recorded": "HMICFRS data return: organised crime groups recorded",
    "ocg_in_force_area": "HMICFRS inspection finding on where the recorded OCGs operate",
    "ocg_nfib_remit": "HMICFRS inspection finding on where the recorded OCGs operate",
    "da_arrests_days_affected": "the force's own check of its arrest records (force figures)",
    "eaw_executed": "HMICFRS data return: European arrest warrants executed",
    "eaw_per_million": "HMICFRS data return: European arrest warrants executed",
    "da_arrests_per_100": "HMICFRS data return: domestic abuse arrests and domestic abuse-related offences",
}
# report measure -> (results measure, results column)
RESULTS_MEASURES = {
    "outcome_charge_summons_pct": ("outcome_charge_summons", "value"),
    "outcome_not_yet_assigned_pct": ("outcome_not_yet_assigned", "value"),
    "da_arrests_per_100": ("da_arrests_per_100", "value"),
    "eaw_per_million": ("eaw_per_million", "value"),
    "eaw_executed": ("eaw_per_million", "numerator"),
    "ocg_recorded": ("ocg_per_million", "numerator"),
}
CAUSE_IF_REPRODUCED = {"outcomes": "outcomes assigned after the report's snapshot; release vintage"}


# --------------------------------------------------------------------------- helpers

def _fmt(value, unit: str = "") -> str:
    return format_value(value, unit, decimals=None)


def split_source(text) -> tuple[str, str]:
    """'a.csv (sha256 X); b.xlsx (sha256 Y)' -> ('a.csv; b.xlsx', 'X; Y'); other text is kept as the file."""
    if not isinstance(text, str) or not text:
        return "", ""
    names, shas = [], []
    for part in text.split("; "):
        m = re.match(r"^(.*?) \(sha256 ([0-9a-f]{64})\)$", part.strip())
        names.append(m.group(1) if m else part.strip())
        shas.append(m.group(2) if m else "")
    return "; ".join(names), "; ".join(shas)


def _row(base: pd.Series, **kw) -> dict:
    out = {c: pd.NA for c in COLUMNS}
    out.update({"id": base["id"], "area": base["force"], "measure": base["measure"], "label": base["label"],
                "period": base["period"], "unit": base["unit"], "published": base["value"]})
    out.update({k: v for k, v in kw.items() if v is not None})
    pub, rep = out["published"], out["reproduced_value"]
    if pd.notna(pub) and pd.notna(rep):
        out["difference"] = round(float(rep) - float(pub), 6)
    if pd.isna(out["reproduced"]):
        out["reproduced"] = _fmt(rep, str(base["unit"]))
    return out


def _result(key: str, area: str, period: Period) -> pd.Series | None:
    from ..measures import results
    from ..measures.table import aggregate_row

    if area == ENGLAND_AND_WALES:
        return aggregate_row(results(measures=[key], periods=[period], forces=[ENGLAND_AND_WALES]))
    rows = results(forces=[area], measures=[key], periods=[period], aggregates=False)
    return None if rows.empty else rows.iloc[0]


# --------------------------------------------------------------------------- rows decided by basis

def _reproduced(base, res, column: str) -> dict:
    from ..measures.registry import MEASURES

    files, shas = split_source(res["source"])
    if res["area"] == "aggregate" and res["force"] != ENGLAND_AND_WALES:
        return _row(base, basis=res["basis"], reproduced=f"{NOT_OPEN}: the sum covers only {res['force']}",
                    status="not reproducible", cause="missing input", missing_input=str(res["reason"]),
                    comparison=f"sum over {res['force']} ({res['basis']}): {_fmt(res[column], str(base['unit']))}, "
                               "not all of England and Wales", source_file=files, sha256=shas)
    cause = CAUSE_IF_REPRODUCED.get(MEASURES[res["measure"]].family, "release vintage")
    note = "from the user's data-return file" if res["basis"] == "supplied" else res["note"]
    return _row(base, basis=res["basis"], reproduced_value=float(res[column]), status="reproduced", cause=cause,
                source_file=files, sha256=shas, note=note if isinstance(note, str) else None)


def _published_only(base, res, column: str, period: Period) -> dict:
    what = _MISSING.get(base["measure"], f"{base['reproducible_from']} (not open data)")
    return _row(base, basis="published", reproduced=f"{NOT_OPEN}: needs {what}", status="published only",
                cause="missing input", missing_input=what, comparison=_partly_published(base, res, period),
                source_file="data/published/data_return.csv (the report's own value)",
                note="the project carries the published value, marked as published; it is not recomputed")


def _partly_published(base, res, period: Period):
    """For a published count over a population: the rate with the ONS population, labelled partly published."""
    from ..measures import population
    from ..measures.rates import implied_denominator, rate

    if base["measure"] != "eaw_per_million" or res["area"] != "force" or pd.isna(res["numerator"]):
        return None
    pop = population.population(period).set_index("force").loc[res["force"]]
    ours = rate(res["numerator"], pop["population"], 1_000_000)
    implied = implied_denominator(res["numerator"], base["value"], 1_000_000)
    return (f"partly published: the report's count of {res['numerator']:,.0f} over the ONS mid-"
            f"{int(pop['population_year'])} population ({pop['population']:,.0f}) gives {ours:.1f} per million; the "
            f"published {base['value']:.1f} implies a population of {implied:,.0f} (cause: population base)")


def _partial(base, res, column: str, period: Period) -> dict:
    from ..measures import outcomes

    cov = outcomes.coverage(period)
    files, shas = split_source(res["source"])
    needed = "; ".join(f"{f['filename'] or 'no listed file'} for {f['financial_year']}"
                       + (f" (manifest key {f['key']})" if f.get("key") else "") for f in cov["files"])
    return _row(base, basis="partial_window", reproduced=f"not reproduced: partial window (missing "
                f"{', '.join(cov['missing'])})", status="partial window", cause="partial window",
                missing_input=f"outcomes for {', '.join(cov['missing'])}: {needed}",
                comparison=f"{res['window']}: {_fmt(res[column], '%')} - not the 12-month value and not comparable "
                           "with it", source_file=files, sha256=shas,
                note="with the missing files fetched (make data on a machine with internet) the 12-month share is "
                     "computed; it will still differ from the report, as outcomes keep being assigned")


def _count_basis(res: pd.Series | None, key: str) -> str | None:
    """The basis of a count from the data-return input (kept even where Annex A removes the rate)."""
    from ..measures import datareturn
    from ..measures.registry import MEASURES
    from ..measures.returned import BASIS

    if res is None or pd.isna(res["numerator"]):
        return None
    table = datareturn.load()
    hit = table[(table["force"] == res["force"]) & (table["period_end"] == res["period_end"])
                & (table["measure"] == MEASURES[key].base)]
    return BASIS[hit["origin"].iloc[0]] if len(hit) else None


def _from_results(base: pd.Series, period: Period) -> dict:
    key, column = RESULTS_MEASURES[base["measure"]]
    res = _result(key, base["force"], period)
    if column == "numerator" and _count_basis(res, key) is not None:
        res = res.copy()
        res["basis"] = _count_basis(res, key)
    if res is None or (res["basis"] == "not_available"):
        what = _MISSING.get(base["measure"], "the input behind this number")
        reason = "" if res is None else f" ({res['reason']})"
        return _row(base, basis="not_available", reproduced=f"{NOT_OPEN}: needs {what}{reason}",
                    status="not reproducible", cause="missing input", missing_input=what)
    if res["basis"] in ("reproduced", "supplied"):
        return _reproduced(base, res, column)
    if res["basis"] == "published":
        return _published_only(base, res, column, period)
    return _partial(base, res, column, period)


# --------------------------------------------------------------------------- other published numbers

def _not_open(base: pd.Series) -> dict:
    missing = _MISSING.get(base["measure"], f"{base['reproducible_from']} (not open data)")
    return _row(base, basis="not_available", reproduced=f"{NOT_OPEN}: needs {missing}", status="not reproducible",
                cause="missing input", missing_input=missing, source_file="report text only (no data file)")


def _forces_count(base: pd.Series, period: Period) -> dict:
    from .. import data

    n = int(data.load("pfa_lookup")["force"].nunique())
    files, shas = split_source("; ".join(f"{i['filename']} (sha256 {i['sha256']})" for i in data.provenance("pfa_lookup")))
    return _row(base, basis="published", reproduced_value=float(n), status="read from a source",
                cause="none" if n == int(base["value"]) else "release vintage", source_file=files, sha256=shas,
                note="territorial police force areas counted in the ONS lookup: a check of the number, not a "
                     "statistic the project computes")


def _footnote_share(base: pd.Series, period: Period) -> dict:
    """Warwickshire's estimated share of ASB incidents, read from ONS Table P7's own footnote text."""
    from .. import data
    from ..data import fetch, readers

    sf = data.provenance("asb")[0]
    table = readers.read_area_table(fetch.fetch(sf["key"]), "Table P7")
    row = table.rows[table.rows["force"] == base["force"]]
    marks = str(row["footnotes"].iloc[0]).split(",") if len(row) and pd.notna(row["footnotes"].iloc[0]) else []
    text = " ".join(n for n in table.notes if any(n.startswith(f"{m}.") for m in marks))
    year = pd.Timestamp(base["period_end"]).year
    m = re.search(rf"(\d+)% (?:of anti-social behaviour )?in (?:the )?year ending March {year}", text)
    if not m:
        return _row(base, basis="not_available", reproduced="not reproduced: no matching ONS footnote",
                    status="not reproduced", cause="missing input", missing_input="ONS Table P7 footnote")
    return _row(base, basis="published", reproduced_value=float(m.group(1)), status="read from a source",
                cause="none", source_file=f"{sf['filename']} (Table P7 footnote {','.join(marks)})",
                sha256=sf["sha256"], note=f"ONS's own footnote, as printed: {m.group(0)} (see A-WARWICKSHIRE); "
                                          "found in the source, not computed")


def _definition(base: pd.Series, period: Period) -> dict:
    return _row(base, basis="not_available",
                reproduced="not applicable: an operational standard or legal definition, not a statistic",
                status="not applicable", cause="not applicable", source_file="report text only (no data file)")


def _reproduce(base: pd.Series, period: Period) -> dict:
    if base["measure"] in RESULTS_MEASURES:
        return _from_results(base, period)
    if base["measure"] == "forces_in_data_collection":
        return _forces_count(base, period)
    if base["measure"] == "asb_incidents_estimated_pct":
        return _footnote_share(base, period)
    if base["kind"] in ("standard", "definition"):
        return _definition(base, period)
    return _not_open(base)


# --------------------------------------------------------------------------- public API

def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in COLUMNS:
        numeric = col in ("published", "reproduced_value", "difference")
        frame[col] = pd.to_numeric(frame[col]).astype("Float64") if numeric else frame[col].astype("string")
    return frame


def build(force="Cambridgeshire", period=REPORT_PERIOD) -> pd.DataFrame:
    """Every published number for ``force`` and England and Wales whose report covers ``period``
    (columns: :data:`COLUMNS`). Empty when the report publishes nothing for ``period``."""
    name = resolve(force).name
    period = Period.parse(period)
    # The report's own force sees every number in its report (Annex A includes facts about other
    # forces); any other force sees England and Wales numbers and those about itself.
    values = published.report_values() if name == published.REPORT_FORCE else published.report_values(name)
    values = values[values["report_period_end"] == pd.Timestamp(period.end)]
    return _frame([_reproduce(row, period) for _, row in values.iterrows()])


def notes(force="Cambridgeshire", period=REPORT_PERIOD) -> list[str]:
    """Sentences that qualify the ledger for ``force`` and ``period``."""
    name = resolve(force).name
    period = Period.parse(period)
    out = []
    report_forces = set(published.report_values()["force"]) - {ENGLAND_AND_WALES}
    if name != published.REPORT_FORCE:
        extra = " It also lists numbers the Cambridgeshire report's Annex A gives about this force." \
            if name in report_forces else ""
        out.append(f"{name}'s own 2017 report values are not in the project's published table "
                   "(data/published/report_values.csv holds the Cambridgeshire report); the ledger shows the "
                   f"England and Wales numbers that report publishes.{extra}")
    if period != REPORT_PERIOD:
        out.append(f"The report publishes numbers for the {lower_first(REPORT_PERIOD.label)} (and dates around it), not "
                   f"for the {lower_first(period.label)}: nothing to compare. Use period {REPORT_PERIOD.iso}.")
    try:
        from ..measures import datareturn

        user = datareturn.user_file()
        out.append("No HMICFRS data-return file is supplied: data-return numbers are carried as published and "
                   "cannot be reproduced." if user is None else
                   f"HMICFRS data-return file in use: {md_escape(user.name)} (sha256 {datareturn.files()[-1]['sha256']}).")
    except PeelError as err:
        out.append(f"The data-return file could not be read: {md_escape(err)}")
    return out


def display_rows(frame: pd.DataFrame) -> list[dict]:
    """Ledger rows as display strings (for ``peel_helpers.reports.tables.records``); the missing input, the
    labelled comparison and the note go into one ``note`` field."""
    out = []
    for row in frame.itertuples(index=False):
        extra = [x for x in (row.comparison, row.note) if isinstance(x, str) and x]
        if isinstance(row.missing_input, str) and row.missing_input and row.status != "not reproducible":
            extra.insert(0, f"missing: {row.missing_input}")
        out.append({
            "Id": row.id, "Area": row.area, "Measure": row.label, "Period": row.period,
            "Published": _fmt(row.published, str(row.unit)), "Unit": row.unit, "Reproduced": row.reproduced,
            "Basis": str(row.basis).replace("_", " "),
            "Difference": "" if pd.isna(row.difference) else f"{float(row.difference):+.1f}",
            "Cause": row.cause, "note": "; ".join(e.replace("; ", ", ") for e in extra),
        })
    return out


def source_rows(frame: pd.DataFrame) -> list[dict]:
    """Each source file the ledger cites, once, with its sha256."""
    seen: dict[str, str] = {}
    for files, shas in zip(frame["source_file"].fillna(""), frame["sha256"].fillna("")):
        names = [f.strip() for f in str(files).split(";") if f.strip()]
        hashes = [h.strip() for h in str(shas).split(";")]
        for i, name in enumerate(names):
            if name.startswith("report text"):
                continue
            seen.setdefault(name, hashes[i] if i < len(hashes) else "")
    return [{"File": name, "sha256": sha or DASH} for name, sha in seen.items()]


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts of ledger rows by status."""
    return frame.groupby("status").size().rename("numbers").reset_index()


def to_text(frame: pd.DataFrame, width: int = 60) -> str:
    """A plain-text rendering for the command line."""
    if frame.empty:
        return "(no published numbers for this force and period)"
    cols = ["id", "area", "measure", "published", "reproduced", "difference", "cause"]
    show = frame[cols].copy()
    show["published"] = [_fmt(v, u) for v, u in zip(frame["published"], frame["unit"])]
    show["difference"] = ["" if pd.isna(d) else f"{float(d):+.1f}" for d in frame["difference"]]
    show["reproduced"] = [s if len(s) <= width else s[: width - 1] + "…" for s in show["reproduced"].fillna("")]
    return show.to_string(index=False)


EXIT_HELP = ("Exit status: 0 done; 2 a bad argument (an unknown force, a period that is not a quarter end) or "
             "data that cannot be read; 3 the CSV could not be written (a folder, a device or a pipe given as the "
             "file, a read-only place, a path under a file, a full disk): then nothing is written.")


def main(argv: list[str] | None = None) -> int:
    """``ledger --force NAME --period YYYY-MM-DD [--csv PATH]``: print the ledger or write it as CSV (exit
    statuses: :data:`EXIT_HELP`)."""
    parser = argparse.ArgumentParser(prog="peel-reports ledger", epilog=EXIT_HELP,
                                     description="Published numbers beside reproduced ones, with causes and sources.")
    parser.add_argument("--force", default="Cambridgeshire", help="force name, slug or code (default Cambridgeshire)")
    parser.add_argument("--period", default=REPORT_PERIOD.iso, help="period end, e.g. 2017-06-30 (default)")
    parser.add_argument("--csv", metavar="PATH", help="write the full ledger to PATH as CSV instead of printing it")
    args = parser.parse_args(argv)
    try:
        path = check_writable(Path(args.csv), "--csv", example="ledger.csv") if args.csv else None
        frame = build(args.force, args.period)
        lines = notes(args.force, args.period)
        if path is not None:
            write_all({path: frame.to_csv(index=False)}, "--csv")
    except OutputError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CANNOT_WRITE
    except PeelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if path is not None:
        print(f"wrote {len(frame)} rows to {path}")
        return 0
    force = resolve(args.force).name
    print(f"Reproduction ledger: {force}, {Period.parse(args.period).label}")
    print(to_text(frame))
    for line in lines:
        print(f"- {line}")
    if not frame.empty:
        counts = ", ".join(f"{r.status}: {r.numbers}" for r in summary(frame).itertuples())
        print(f"{len(frame)} published numbers ({counts})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
