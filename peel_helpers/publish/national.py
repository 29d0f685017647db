"""One national page per window (``<out>/<period>/national.html``) and the window's results as CSV
(``<out>/<period>/results.csv``): every force side by side.

Each table is one group of headline measures, every force a row, sorted by the group's first
measure (its rank beside it), then the England and Wales row with the number of forces summed.
Values keep their basis markers as in the reports; forces link to their combined report where one
has been built. Laid out by the ``peel/national.html.j2`` template; every file is written through
:mod:`peel_helpers.core.records`, made from the results table's key, the published grades and the
reports it links.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..core import records
from ..core.contract import ASSUMPTIONS_HTML, INDEX_HTML, NATIONAL_CSV, NATIONAL_HTML, REPORT_HTML, publisher_sha256
from ..core.periods import Period
from ..core.text import BASES, DASH, ENGLAND_AND_WALES, lower_first
from ..measures.registry import MEASURES
from ..measures.table import aggregate_row
from .render import escape, markup, render

GROUPS = (
    ("Recorded crime and anti-social behaviour", ("recorded_crime_per_1000", "recorded_crime_change_pct",
                                                  "asb_incidents_per_1000")),
    ("Crime outcomes: action taken and its parts", ("action_taken", "outcome_charge_summons", "outcome_tic",
                                                    "outcome_ooc_formal", "outcome_ooc_informal")),
    ("Crime outcomes: other outcomes", ("outcome_evidential_difficulties", "outcome_no_suspect",
                                        "outcome_not_yet_assigned")),
    ("From HMICFRS's data return", ("calls_for_assistance_per_1000", "da_calls_pct", "da_offences_pct",
                                    "da_arrests_per_100", "asb_powers_per_million", "ocg_per_million")),
)

NEGATIVE_ROWS = re.compile(r"the count includes negative rows in the source \(summing to ([-\d,]+); kept as "
                           r"published\); without them it would read ([-\d.]+)")
NEGATIVE_NOTE = ("The count includes negative adjustment rows from the source, kept as published (A-NEGATIVE-COUNTS); "
                 "without them the value would read:")


def _cell(row, notes: list[str], tid: str, adjusted: dict | None = None) -> dict:
    """A value with its basis marker and note numbers for its caveats; a dash with a note saying why."""
    from ..reports.tables import value_cell

    cell = value_cell(row)
    text = cell.markup()
    marks = []
    for note in cell.notes or (["no value"] if cell.basis == "not_available" else []):
        found = NEGATIVE_ROWS.match(note)
        if found:   # one note for every such value of the table, each force's figure in it
            note = NEGATIVE_NOTE
            (adjusted if adjusted is not None else {}).setdefault(row["force"], []).append(found.group(2))
        if note not in notes:
            notes.append(note)
        marks.append(notes.index(note) + 1)
    if marks:   # one superscript, the note numbers in order and apart ("4,5,6", never "546")
        text += "<sup>" + ",".join(f'<a href="#{tid}-n{m}">{m}</a>' for m in sorted(set(marks))) + "</sup>"
    if row["area"] == "aggregate" and pd.notna(row["n_forces"]):
        text += f'<span class="n">{int(row["n_forces"])} forces</span>'
    return {"num": True, "html": markup(text)}


def _dash() -> dict:
    return {"num": True, "html": DASH}


# forces whose rates per resident the rules call misleading: shown, never ranked (A-CITY)
NOT_RANKED_PER_HEAD = {"City of London": "not ranked: a rate per resident, and the City has under 10,000 residents "
                                         "against several hundred thousand who work in or visit it (A-CITY)"}


def _ordered(rows: pd.DataFrame, lead: str) -> tuple[list[str], dict[str, str]]:
    """Forces in ranking order (highest first), then those not ranked; and why each of those is not."""
    lead_rows = rows[(rows["measure"] == lead) & (rows["area"] == "force")]
    unranked = dict(NOT_RANKED_PER_HEAD) if MEASURES[lead].uses_population else {}
    have = lead_rows[lead_rows["value"].notna() & ~lead_rows["force"].isin(list(unranked))]
    have = have.sort_values(["value", "force"], ascending=[False, True])
    rest = sorted(set(rows.loc[rows["area"] == "force", "force"]) - set(have["force"]))
    return list(have["force"]) + rest, {f: unranked.get(f, "no value") for f in rest}


def _below_zero(rows: pd.DataFrame, keys: tuple[str, ...]) -> str:
    """A plain sentence for shares below zero in this table (the source's later adjustments), or ""."""
    shares = [k for k in keys if MEASURES[k].unit.startswith("%") and MEASURES[k].unit != "% change"]
    neg = rows[rows["measure"].isin(shares) & (rows["area"] == "force") & (pd.to_numeric(rows["value"]) < 0)]
    if neg.empty:
        return ""
    from ..core.text import format_value

    named = ", ".join(f"{r.force} {format_value(r.value, MEASURES[r.measure].unit, MEASURES[r.measure].decimals)}"
                      for r in neg.sort_values("value").itertuples())
    return (f"Some shares are below zero ({named}; a value shown as -0.0% is just below zero). The Home Office "
            "file records later adjustments to a force's offences as negative counts of offences not yet "
            "assigned an outcome; where they outweigh the offences still waiting, the net share is negative. "
            "The values are kept as the source gives them (A-NEGATIVE-COUNTS in the assumptions log).")


def group_table(title: str, keys: tuple[str, ...], rows: pd.DataFrame, linked: dict[str, str], n: int) -> dict:
    """One group of measures: every force a row (sorted by the first measure, with its rank), then the
    England and Wales row."""
    tid, notes, adjusted = f"t{n}", [], {}
    rows = rows[rows["measure"].isin(keys)]
    by = {(r.force, r.measure): r for r in rows.itertuples(index=False)}
    lead = keys[0]
    lines = []
    order, unranked = _ordered(rows, lead)
    for rank, force in enumerate(order, start=1):
        cells = [_cell(by[(force, k)]._asdict(), notes, tid, adjusted) if (force, k) in by else _dash() for k in keys]
        why = unranked.get(force)
        if why and why != "no value":
            if why not in notes:
                notes.append(why)
            mark = notes.index(why) + 1
            first = {"num": True, "html": markup(f'{DASH}<sup><a href="#{tid}-n{mark}">{mark}</a></sup>')}
        else:
            first = {"num": True, "html": DASH if why else rank}
        lines.append({"cells": [first, {"header": True, "text": force, "href": linked.get(force)}] + cells})
    ew = {k: aggregate_row(rows[rows["measure"] == k]) for k in keys}
    lines.append({"ew": True, "cells": [{"html": ""}, {"header": True, "text": ENGLAND_AND_WALES}]
                  + [_cell(ew[k], notes, tid, adjusted) if ew[k] is not None else _dash() for k in keys]})
    if NEGATIVE_NOTE in notes:
        notes[notes.index(NEGATIVE_NOTE)] += " " + "; ".join(f"{f} {', '.join(v)}" for f, v in adjusted.items()) + "."
    head = [{"text": "Rank"}, {"text": "Force"}] + [{"text": MEASURES[k].label, "unit": MEASURES[k].unit} for k in keys]
    ranked_by = f"sorted by {lower_first(MEASURES[lead].label)}"
    if any(v != "no value" for v in unranked.values()):
        ranked_by += f"; {', '.join(f for f, v in unranked.items() if v != 'no value')} shown but not ranked"
    return {"n": n, "title": title, "caption": f"{title}, {ranked_by}", "intro": _below_zero(rows, keys),
            "head": head, "rows": lines, "notes": notes, "csv": f"national-table-{n}.csv"}


def _grade_cell(row, notes: list[str], tid: str) -> dict:
    """A grade as it stands, with the year of the judgment when it is not 2017, and a note when the year
    is less certain or the source is not HMICFRS's own; a dash with its reason where no source gives one."""
    def mark(note: str) -> str:
        if note not in notes:
            notes.append(note)
        n = notes.index(note) + 1
        return f'<a href="#{tid}-n{n}">{n}</a>'

    if pd.isna(row["grade"]):
        why = row["note"] if isinstance(row["note"], str) and row["note"] else "no source gives this grade"
        return {"html": markup(f"{DASH}<sup>{mark(why)}</sup>")}
    text = escape(str(row["grade"])) + (f" ({int(row['year'])})" if pd.notna(row["year"]) and int(row["year"]) != 2017
                                        else "")
    marks = []
    if row["year_certain"] is False or (pd.notna(row["year_certain"]) and not bool(row["year_certain"])):
        marks.append(mark(str(row["year_note"])))
    if row["source_kind"] not in ("hmicfrs_page", "hmicfrs_report"):
        marks.append(mark(f"from a {row['source_name']}, not from HMICFRS's own pages"))
    return {"html": markup(text + (f"<sup>{','.join(marks)}</sup>" if marks else ""))}


def grades_table(n: int, linked: dict[str, str]) -> tuple[dict, pd.DataFrame]:
    """The effectiveness grades that stood after the 2017 inspection, for every force (published facts,
    each with the year it was judged; a dash where no source gives one)."""
    from ..data import published

    grades = published.all_grades()
    standing = grades[grades["stands"].astype(bool)]
    questions = list(dict.fromkeys(standing["question_label"]))
    tid, notes, lines = f"t{n}", [], []
    for force, rows in standing.groupby("force", sort=True):
        by = {r["question_label"]: r for _, r in rows.iterrows()}
        lines.append({"cells": [{"header": True, "text": force, "href": linked.get(force)}]
                      + [_grade_cell(by[q], notes, tid) if q in by else {"html": DASH} for q in questions]})
    table = {"n": n, "title": "Effectiveness grades",
             "caption": "effectiveness grades that stood after the 2017 inspection (published); a question HMICFRS "
                        "did not inspect again in 2017 keeps its earlier grade, marked with its year",
             "head": [{"text": "Force"}] + [{"text": q.replace(" 2017", "")} for q in questions], "rows": lines,
             "notes": notes, "csv": f"national-table-{n}.csv"}
    return table, standing.reset_index(drop=True)


def national_html(period: Period, rows: pd.DataFrame, linked: dict[str, str]) -> tuple[str, list[pd.DataFrame]]:
    """The page, and the rows behind each of its tables (for their CSVs)."""
    from ..reports.csvout import results_frame

    tables, frames = [], []
    for title, keys in GROUPS:
        mine = rows[rows["measure"].isin(keys)]
        if not mine.loc[mine["area"] == "force", "value"].notna().any():   # nothing to show: one sentence, no table
            reasons = sorted({r for r in mine["reason"].dropna().astype(str)}) or ["no value"]
            tables.append({"title": title, "empty": f"No force has a value for these measures in the "
                           f"{lower_first(period.label)} ({'; '.join(reasons)})."})
            continue
        tables.append(group_table(title, keys, rows, linked, len(frames) + 1))
        frames.append(results_frame(mine))
    grades, frame = grades_table(len(frames) + 1, linked)
    tables.append(grades)
    frames.append(frame)
    title = f"All forces, {lower_first(period.label)}"
    page = render("national.html.j2", title=f"PEEL police effectiveness: {title}",
                  heading=f"Police effectiveness, every force: {lower_first(period.label)}",
                  nav=[("All reports", f"../{INDEX_HTML}"), ("Assumptions and caveats", f"../{ASSUMPTIONS_HTML}")],
                  csv=NATIONAL_CSV, key=[v for v in BASES.values() if v[0]], tables=tables)
    return page, frames


def linked_reports(folder: Path) -> dict[str, str]:
    """Force name -> relative link, for every force of the window whose report can be trusted."""
    from ..core.forces import FORCES

    out = {}
    for force in FORCES:
        page = folder / force.slug / REPORT_HTML
        if records.read(page) is not None and records.intact(page):
            out[force.name] = f"{force.slug}/{REPORT_HTML}"
    return out


def write_national(out_dir: Path, period: Period) -> bool:
    """Write ``national.html``, its tables' CSVs and the window's ``results.csv``, unless they are up to
    date (made from the same results table, grades and linked reports, and their bytes unchanged).
    Returns whether it wrote them. The page is written last, after every CSV it links."""
    from ..data.published import JUDGMENTS_PATH
    from ..measures import results
    from ..measures.table import cache_key
    from ..reports.csvout import csv_text, results_frame

    folder = Path(out_dir) / period.iso
    linked = linked_reports(folder)
    made_from = records.fingerprint("national-v2", publisher_sha256(), cache_key(),
                                    records.fingerprint(JUDGMENTS_PATH.read_text(encoding="utf-8")), period.iso,
                                    *sorted(linked))
    page_path = folder / NATIONAL_HTML
    record = records.read(page_path) or {}
    if records.trusted(page_path, made_from) and all(records.sha256(folder / n) == s
                                                     for n, s in record.get("links", {}).items()):
        return False
    old = [folder / f"national-table-{n}.csv" for n in range(1, len(GROUPS) + 2)]
    records.withdraw(page_path, folder / NATIONAL_CSV, *old)
    rows = results(periods=[period])
    page, frames = national_html(period, rows, linked)
    csvs = [folder / NATIONAL_CSV] + [folder / f"national-table-{n}.csv" for n in range(1, len(frames) + 1)]
    links = {}
    for path, frame in zip(csvs, [results_frame(rows)] + frames):
        links[path.name] = records.write(path, "\ufeff" + csv_text(frame), made_from=made_from,
                                         kind="national data")["sha256"]
    records.write(page_path, page, made_from=made_from, kind="national page", links=links)
    return True
