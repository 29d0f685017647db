"""The reproduction ledger: every number the report publishes, beside what the project reproduces.

For a force and period, :func:`build` returns one row per published number with the published
value, the reproduced value (or why there is none and which input is missing), the difference,
its cause, and the source file with its sha256. Causes come from a fixed list:

* ``release vintage``: the open data are a later release than the one the report used;
* ``outcomes assigned after the report's snapshot``: outcome shares move as crimes get outcomes;
* ``partial window``: the loaded files do not cover every quarter of the window;
* ``population base``: the report's population differs from ONS's published estimate;
* ``missing input``: the number needs data that are not open (HMICFRS's data return, the force's
  own figures, inspection fieldwork);
* ``none``: reproduced exactly; ``not applicable``: a standard or definition, not a statistic.

The ledger never picks the reproduction that happens to match: where two bases are plausible
(European arrest warrants), it shows both and names the difference.

Command line: ``python -m peel_helpers.reports.ledger --force Cambridgeshire --period 2017-06-30
[--csv PATH]`` (also ``peel-reports ledger``).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pandas as pd

from ..data import published
from ..core.errors import PeelError
from ..core.forces import FORCE_NAMES, resolve
from ..core.text import DASH
from ..core.periods import REPORT_PERIOD, Period

ENGLAND_AND_WALES = "England and Wales"
NOT_OPEN = "not reproducible from open data"
COLUMNS = [
    "id", "area", "measure", "label", "period", "unit", "published", "reproduced", "reproduced_value", "difference",
    "status", "cause", "missing_input", "comparison", "source_file", "sha256", "note",
]
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
}
_OUTCOME_KEYS = {"outcome_charge_summons_pct": "outcome_charge_summons",
                 "outcome_not_yet_assigned_pct": "outcome_not_yet_assigned"}


# --------------------------------------------------------------------------- helpers

def _fmt(value, unit: str = "") -> str:
    if value is None or pd.isna(value):
        return DASH
    value = float(value)
    text = f"{value:,.0f}" if value == int(value) and abs(value) >= 1 and "%" not in unit and "per" not in unit \
        else f"{value:,.1f}"
    if unit.startswith("%"):
        text += "%"
    return text


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _provenance(table: str) -> list[dict]:
    """Source files behind a tidy table (data layer), or the manifest entries if the cache is unavailable."""
    try:
        from .. import data

        items = data.provenance(table)
        if items:
            return items
    except Exception:  # noqa: BLE001 - the ledger must still list what it can
        pass
    try:
        from ..data import manifest

        return [{"key": sf.key, "filename": sf.filename, "sha256": sf.sha256, "release": sf.release}
                for sf in manifest.for_table(table) if sf.required]
    except Exception:  # noqa: BLE001
        return []


def _files_text(items: list[dict]) -> tuple[str, str]:
    return "; ".join(i["filename"] for i in items), "; ".join(i["sha256"] for i in items)


def _data_return_file() -> tuple[str, str]:
    from ..measures import datareturn

    items = datareturn.files()
    return "; ".join(Path(i["path"]).name if i["origin"] == "user" else "data/published/data_return.csv" for i in items), \
        "; ".join(i["sha256"] for i in items)


def _row(base: pd.Series, **kw) -> dict:
    out = {c: pd.NA for c in COLUMNS}
    out.update({"id": base["id"], "area": base["force"], "measure": base["measure"], "label": base["label"],
                "period": base["period"], "unit": base["unit"], "published": base["value"]})
    out.update({k: v for k, v in kw.items() if v is not None})
    pub, rep = out["published"], out["reproduced_value"]
    if pd.notna(pub) and rep is not None and pd.notna(rep):
        out["difference"] = round(float(rep) - float(pub), 6)
    if pd.isna(out["reproduced"]):
        out["reproduced"] = _fmt(rep, str(base["unit"]))
    return out


# --------------------------------------------------------------------------- reproducers

def _not_open(base: pd.Series, what: str | None = None, note: str | None = None) -> dict:
    missing = what or _MISSING.get(base["measure"], f"{base['reproducible_from']} (not open data)")
    return _row(base, reproduced=f"{NOT_OPEN}: needs {missing}", status="not reproducible", cause="missing input",
                missing_input=missing, source_file="report text only (no data file)", note=note)


def _outcome(base: pd.Series, period: Period) -> dict:
    from .. import measures

    key = _OUTCOME_KEYS[base["measure"]]
    force = base["force"]
    try:
        cov = measures.outcome_coverage(period)
    except Exception as err:  # noqa: BLE001
        return _row(base, reproduced=f"not reproduced: outcomes data unavailable ({err})", status="not reproduced",
                    cause="missing input", missing_input="Home Office crime outcomes open data (run make data)")
    files, shas = _files_text(_provenance("outcomes"))
    if cov["complete"]:
        result = measures.force_value(key, force, period)
        return _row(base, reproduced_value=result.value, status="reproduced" if result.value is not None else "not reproduced",
                    cause="outcomes assigned after the report's snapshot; release vintage",
                    source_file=files, sha256=shas,
                    note="the report used the Home Office October 2017 release; later releases assign outcomes to "
                         "more of the same offences, so the not-yet-assigned share falls and others rise")
    needed = []
    for item in cov["files"]:
        needed.append(f"{item['filename'] or 'no listed file'} for {item['financial_year']}"
                      + (f" (manifest key {item['key']})" if item.get("key") else ""))
    missing_text = f"outcomes for {', '.join(cov['missing'])}: {'; '.join(needed)}"
    comparison = pd.NA
    have = [q for q in period.quarters if q.label in cov["available"]]
    if have:
        try:
            share = measures.outcome_share_over(key, have).set_index("force").loc[force, "value"]
            labels = ", ".join(q.label for q in have)
            comparison = (f"{labels} only ({len(have)} of the window's 4 quarters): {_fmt(share, '%')} "
                          "- not the 12-month value and not comparable with it")
        except Exception:  # noqa: BLE001
            comparison = pd.NA
    return _row(base, reproduced=f"not reproduced: partial window (missing {', '.join(cov['missing'])})",
                status="partial window", cause="partial window", missing_input=missing_text, comparison=comparison,
                source_file=files, sha256=shas,
                note="with the missing file(s) fetched (make data with optional files), the 12-month share is computed "
                     "and will still differ from the report: outcomes assigned after the report's snapshot")


def _data_return_rate(base: pd.Series, period: Period, key: str, what: str) -> dict:
    from ..measures import datareturn

    files, shas = _data_return_file()
    if base["force"] == ENGLAND_AND_WALES:
        agg = datareturn.england_and_wales(key, period)
        if agg.status == "ok":
            excl = ", ".join(agg.excluded["force"]) if len(agg.excluded) else "none"
            return _row(base, reproduced_value=agg.value, status="reproduced", cause="release vintage",
                        source_file=files, sha256=shas,
                        note=f"aggregate of the supplied data return over {len(agg.included)} forces; Annex A leaves out: {excl}")
        partial = ""
        if agg.computed is not None and agg.computed.value is not None:
            partial = (f"aggregate over the {len(agg.computed.included)} forces supplied: {agg.computed.value:.1f} "
                       "(not all of England and Wales)")
        return _row(base, reproduced=f"{NOT_OPEN}: needs {what} for every force", status="not reproducible",
                    cause="missing input", missing_input=f"{what} for every force Annex A leaves in",
                    comparison=partial or pd.NA, source_file=files, sha256=shas)
    frame = datareturn.by_force(key, period).set_index("force")
    row = frame.loc[base["force"]]
    computed = row["status"] == "ok" and "computed" in str(row["note"]) or (
        row["status"] == "ok" and "denominator:" in str(row["note"]))
    if computed:
        return _row(base, reproduced_value=float(row["value"]), status="reproduced", cause="release vintage",
                    source_file=files, sha256=shas, note=f"from the supplied data return: {row['note']}")
    return _row(base, reproduced=f"{NOT_OPEN}: needs {what}", status="not reproducible", cause="missing input",
                missing_input=what, source_file=files, sha256=shas,
                note="the project carries the published value, shown as published, not recomputed")


def _eaw_count(base: pd.Series, period: Period) -> dict:
    from ..measures import datareturn

    table = datareturn.load()
    rows = table[(table["force"] == base["force"]) & (table["measure"] == "eaw")
                 & (table["period_end"] == pd.Timestamp(period.end)) & (table["origin"] == "user")]
    if len(rows) and pd.notna(rows["numerator"].iloc[0]):
        files, shas = _data_return_file()
        return _row(base, reproduced_value=float(rows["numerator"].iloc[0]), status="reproduced",
                    cause="release vintage", source_file=files, sha256=shas, note="from the supplied data return")
    return _not_open(base)


def _eaw_rate(base: pd.Series, period: Period) -> dict:
    if base["force"] == ENGLAND_AND_WALES:
        return _data_return_rate(base, period, "eaw_per_million", "HMICFRS data return: European arrest warrants executed")
    from ..measures import datareturn
    from ..measures import rates

    table = datareturn.load()
    rows = table[(table["force"] == base["force"]) & (table["measure"] == "eaw")
                 & (table["period_end"] == pd.Timestamp(period.end))]
    count = None if rows.empty or pd.isna(rows["numerator"].iloc[0]) else float(rows["numerator"].iloc[0])
    if count is None:
        return _not_open(base, "HMICFRS data return: European arrest warrants executed")
    implied = rates.implied_denominator(count, float(base["value"]), 1_000_000)
    try:
        from .. import measures

        pop = measures.population(period).set_index("force")
        population = float(pop.loc[base["force"], "population"])
        year = int(pop.loc[base["force"], "population_year"])
    except Exception as err:  # noqa: BLE001
        return _row(base, reproduced=f"not reproduced: population unavailable ({err})", status="not reproduced",
                    cause="missing input", missing_input="ONS mid-year population (run make data)",
                    comparison=f"the published rate implies a population of {implied:,.0f}")
    value = rates.per_million(count, population)
    files, shas = _files_text(_provenance("population"))
    dfiles, dshas = _data_return_file()
    return _row(
        base, reproduced_value=value, status="reproduced, differs", cause="population base",
        comparison=(f"published: {count:,.0f} warrants at {float(base['value']):.1f} per million implies a population of "
                    f"{implied:,.0f}; ONS mid-{year} estimate {population:,.0f} gives {value:.1f} per million"),
        source_file=f"{files}; {dfiles}", sha256=f"{shas}; {dshas}",
        note="both bases are shown; the report does not publish the population it used (see A-EAW-POPULATION)")


def _forces_count(base: pd.Series, period: Period) -> dict:
    try:
        from .. import data

        lookup = data.load("pfa_lookup")
        n = int(lookup["force"].dropna().nunique())
        files, shas = _files_text(_provenance("pfa_lookup"))
    except Exception:  # noqa: BLE001
        n, files, shas = len(FORCE_NAMES), "peel_helpers/core/forces.csv", ""
    return _row(base, reproduced_value=float(n), status="reproduced" if n == int(base["value"]) else "reproduced, differs",
                cause="none" if n == int(base["value"]) else "release vintage", source_file=files, sha256=shas,
                note="territorial police force areas in the ONS lookup")


def _warwickshire(base: pd.Series, period: Period) -> dict:
    files, shas = _files_text(_provenance("asb"))
    return _row(base, reproduced_value=2.0, reproduced="2% (ONS Table P7 footnote 9, year ending March 2016)",
                status="confirmed by source note", cause="none", source_file=files, sha256=shas,
                note="ONS's footnote gives 1%, 2%, 2% and 4% for the years ending March 2015 to 2018 (see A-WARWICKSHIRE)")


def _definition(base: pd.Series, period: Period) -> dict:
    return _row(base, reproduced="not applicable: an operational standard or legal definition, not a statistic",
                status="not applicable", cause="not applicable", source_file="report text only (no data file)")


def _reproduce(base: pd.Series, period: Period) -> dict:
    measure = base["measure"]
    if measure in _OUTCOME_KEYS:
        return _outcome(base, period)
    if measure == "da_arrests_per_100":
        return _data_return_rate(base, period, "da_arrests_per_100",
                                 "HMICFRS data return: domestic abuse arrests and domestic abuse-related offences")
    if measure == "eaw_executed":
        return _eaw_count(base, period)
    if measure == "eaw_per_million":
        return _eaw_rate(base, period)
    if measure == "forces_in_data_collection":
        return _forces_count(base, period)
    if measure == "asb_incidents_estimated_pct":
        return _warwickshire(base, period)
    if base["kind"] in ("standard", "definition"):
        return _definition(base, period)
    return _not_open(base)


# --------------------------------------------------------------------------- public API

def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("published", "reproduced_value", "difference"):
        frame[col] = pd.to_numeric(frame[col]).astype("Float64")
    for col in COLUMNS:
        if col not in ("published", "reproduced_value", "difference"):
            frame[col] = frame[col].astype("string")
    return frame


def build(force="Cambridgeshire", period=REPORT_PERIOD) -> pd.DataFrame:
    """Every published number for ``force`` and England and Wales whose report covers ``period``.

    Columns: id, area, measure, label, period, unit, published, reproduced (the value as text, or
    why there is none), reproduced_value, difference (reproduced - published), status, cause,
    missing_input, comparison (a labelled like-for-like or alternative figure), source_file,
    sha256, note. Empty when the report publishes nothing for ``period`` (see :func:`notes`)."""
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
        out.append(f"The report publishes numbers for the {REPORT_PERIOD.label.lower()} (and dates around it), not "
                   f"for the {period.label.lower()}: nothing to compare. Use period {REPORT_PERIOD.iso}.")
    try:
        from ..measures import datareturn

        user = datareturn.user_file()
        out.append("No HMICFRS data-return file is supplied: data-return numbers are carried as published and "
                   "cannot be reproduced." if user is None else
                   f"HMICFRS data-return file in use: {user.name} (sha256 {_sha256(user)[:12]}…).")
    except PeelError as err:
        out.append(f"The data-return file could not be read: {err}")
    return out


def display_rows(frame: pd.DataFrame) -> list[dict]:
    """Ledger rows as display strings (for ``peel_helpers.reports.notebook.table``); the missing input, the
    labelled comparison and the note go into one ``note`` field."""
    out = []
    for row in frame.itertuples(index=False):
        extra = [x for x in (row.comparison, row.note) if isinstance(x, str) and x]
        if isinstance(row.missing_input, str) and row.missing_input and row.status != "not reproducible":
            extra.insert(0, f"missing: {row.missing_input}")
        out.append({
            "Id": row.id, "Area": row.area, "Measure": row.label, "Period": row.period,
            "Published": _fmt(row.published, str(row.unit)), "Unit": row.unit, "Reproduced": row.reproduced,
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


def main(argv: list[str] | None = None) -> int:
    """``ledger --force NAME --period YYYY-MM-DD [--csv PATH]``: print the ledger or write it as CSV."""
    parser = argparse.ArgumentParser(prog="peel-reports ledger",
                                     description="Published numbers beside reproduced ones, with causes and sources.")
    parser.add_argument("--force", default="Cambridgeshire", help="force name, slug or code (default Cambridgeshire)")
    parser.add_argument("--period", default=REPORT_PERIOD.iso, help="period end, e.g. 2017-06-30 (default)")
    parser.add_argument("--csv", metavar="PATH", help="write the full ledger to PATH as CSV instead of printing it")
    args = parser.parse_args(argv)
    try:
        frame = build(args.force, args.period)
        lines = notes(args.force, args.period)
    except PeelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.csv:
        path = Path(args.csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
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
