"""One national page per window (``<out>/<period>/national.html``) and the window's results as CSV
(``<out>/<period>/results.csv``): every force side by side.

Each table is one group of headline measures, every force a row, sorted by the group's first
measure (its rank beside it), then the England and Wales row with the number of forces summed.
Values keep their basis markers as in the reports; forces link to their combined report where one
has been built. No scripts.
"""

from __future__ import annotations

import html
import json
import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..core.files import atomic_write, sha256_file, sha256_text
from ..core.periods import Period
from ..core.text import BASES, DASH, ENGLAND_AND_WALES, lower_first
from ..measures.registry import MEASURES
from ..measures.table import aggregate_row
from .csvout import results_frame, write_csv

NATIONAL_HTML, NATIONAL_CSV, NATIONAL_STATE = "national.html", "results.csv", "national.build.json"
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
GRADE_COLUMNS = ("Overall effectiveness 2017", "Preventing crime and tackling anti-social behaviour",
                 "Investigating crime and reducing re-offending", "Protecting vulnerable people",
                 "Tackling serious and organised crime", "Specialist capabilities")
CSS = """
 body { font-family: Arial, Helvetica, sans-serif; color: #0b0c0c; margin: 20px auto; max-width: 1280px; padding: 0 14px; }
 a { color: #12436D; } h1 { font-size: 28px; } h2 { font-size: 21px; margin-top: 34px; }
 table { border-collapse: collapse; font-size: 13px; margin-bottom: 6px; }
 caption { text-align: left; font-weight: bold; font-size: 15px; padding-bottom: 6px; }
 th, td { border-bottom: 1px solid #BFBFBF; padding: 3px 7px; text-align: left; vertical-align: top; }
 td.num { text-align: right; white-space: nowrap; } thead th { border-bottom: 2px solid #3D3D3D; }
 tr.ew th, tr.ew td { border-top: 2px solid #3D3D3D; font-weight: bold; }
 sup.basis { font-weight: bold; color: #801650; } sup.basis abbr { text-decoration: none; }
 .n { display: block; font-weight: normal; font-size: 11px; color: #3D3D3D; }
 ol.notes, ul.key { font-size: 12px; color: #3D3D3D; } ul.key { list-style: none; padding-left: 0; }
 p.download a { font-weight: bold; }
"""


def _cell(row, notes: list[str], tid: str) -> str:
    """A value with its basis marker and note numbers for its caveats; a dash with a note saying why."""
    from .tables import value_cell

    cell = value_cell(row)
    text = cell.markup()
    marks = []
    for note in cell.notes or (["no value"] if cell.basis == "not_available" else []):
        if note not in notes:
            notes.append(note)
        marks.append(notes.index(note) + 1)
    if marks:   # one superscript, the note numbers in order and apart ("4,5,6", never "546")
        text += "<sup>" + ",".join(f'<a href="#{tid}-n{m}">{m}</a>' for m in sorted(set(marks))) + "</sup>"
    if row["area"] == "aggregate" and pd.notna(row["n_forces"]):
        text += f'<span class="n">{int(row["n_forces"])} forces</span>'
    return f'<td class="num">{text}</td>'


def _force_link(force: str, out_dir: Path, period: str) -> str:
    from ..core.forces import resolve

    slug = resolve(force).slug
    report = out_dir / period / slug / "report.html"
    name = html.escape(force)
    return f'<a href="{slug}/report.html">{name}</a>' if report.is_file() else name


def _ordered(rows: pd.DataFrame, lead: str) -> list[str]:
    lead_rows = rows[(rows["measure"] == lead) & (rows["area"] == "force")]
    have = lead_rows[lead_rows["value"].notna()].sort_values(["value", "force"], ascending=[False, True])
    rest = sorted(set(rows.loc[rows["area"] == "force", "force"]) - set(have["force"]))
    return list(have["force"]) + rest


def group_table(title: str, keys: tuple[str, ...], rows: pd.DataFrame, out_dir: Path, period: str, n: int) -> str:
    """One group of measures: every force a row (sorted by the first measure, with its rank), then the
    England and Wales row."""
    tid, notes = f"t{n}", []
    rows = rows[rows["measure"].isin(keys)]
    by = {(r.force, r.measure): r for r in rows.itertuples(index=False)}
    lead = keys[0]
    lines = []
    for rank, force in enumerate(_ordered(rows, lead), start=1):
        ranked = pd.notna(by[(force, lead)].value) if (force, lead) in by else False
        cells = "".join(_cell(by[(force, k)]._asdict(), notes, tid) if (force, k) in by else f"<td>{DASH}</td>"
                        for k in keys)
        lines.append(f'<tr><td class="num">{rank if ranked else DASH}</td><th scope="row">'
                     f'{_force_link(force, out_dir, period)}</th>{cells}</tr>')
    ew = {k: aggregate_row(rows[rows["measure"] == k]) for k in keys}
    ew_cells = "".join(_cell(ew[k], notes, tid) if ew[k] is not None else f"<td>{DASH}</td>" for k in keys)
    lines.append(f'<tr class="ew"><td></td><th scope="row">{ENGLAND_AND_WALES}</th>{ew_cells}</tr>')
    head = "".join(f'<th scope="col">{html.escape(MEASURES[k].label)}<span class="n">{html.escape(MEASURES[k].unit)}'
                   f"</span></th>" for k in keys)
    notes_html = "".join(f'<li id="{tid}-n{i + 1}">{html.escape(text)}</li>' for i, text in enumerate(notes))
    return (f'<h2 id="{tid}-h">{html.escape(title)}</h2><table id="{tid}"><caption>Table {n}: {html.escape(title)}, '
            f"sorted by {html.escape(lower_first(MEASURES[lead].label))}</caption><thead><tr><th scope=\"col\">Rank</th>"
            f'<th scope="col">Force</th>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>'
            f'<ol class="notes">{notes_html}</ol><p class="download"><a href="national-table-{n}.csv">Download the data for table {n} (CSV)</a></p>')


@lru_cache(maxsize=1)
def _grades() -> tuple[dict, ...]:
    from ..core.forces import FORCE_NAMES
    from ..data import published

    records = []
    for force in FORCE_NAMES:
        grades = {r["Question"]: r["Grade"] for r in published.overview_rows(force)}
        records.append({"force": force, **{c: grades.get(c, DASH) for c in GRADE_COLUMNS}})
    return tuple(records)


def grades_table(n: int, out_dir: Path, period: str) -> tuple[str, pd.DataFrame]:
    """The 2017 inspection's grades for every force (published facts; a dash where no source gives one)."""
    records = list(_grades())
    lines = "".join(f'<tr><th scope="row">{_force_link(r["force"], out_dir, period)}</th>'
                    + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in GRADE_COLUMNS) + "</tr>" for r in records)
    head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in GRADE_COLUMNS)
    markup = (f'<h2 id="t{n}-h">Effectiveness grades</h2><table id="t{n}"><caption>Table {n}: effectiveness grades '
              f'from the 2017 inspection (published)</caption><thead><tr><th scope="col">Force</th>{head}</tr></thead>'
              f'<tbody>{lines}</tbody></table><p class="download"><a href="national-table-{n}.csv">Download the data '
              f"for table {n} (CSV)</a></p>")
    return markup, pd.DataFrame(records)


def national_html(out_dir: Path, period: Period, rows: pd.DataFrame) -> tuple[str, list[pd.DataFrame]]:
    """The page, and the rows behind each of its tables (for their CSVs)."""
    parts, frames = [], []
    for n, (title, keys) in enumerate(GROUPS, start=1):
        parts.append(group_table(title, keys, rows, out_dir, period.iso, n))
        frames.append(results_frame(rows[rows["measure"].isin(keys)]))
    grades, frame = grades_table(len(GROUPS) + 1, out_dir, period.iso)
    parts.append(grades)
    frames.append(frame)
    key = "".join(f"<li><b>{m}</b> {html.escape(w)}: {html.escape(s)}</li>" for m, w, s in BASES.values() if m)
    index = os.path.relpath(out_dir / "index.html", out_dir / period.iso).replace(os.sep, "/")
    title = f"All forces, {lower_first(period.label)}"
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>PEEL police effectiveness: {html.escape(title)}'
            f'</title><style>{CSS}</style></head><body><header><p><a href="{index}">All reports</a></p>'
            f"<h1>Police effectiveness, every force: {html.escape(lower_first(period.label))}</h1></header><main>"
            f"<p>Every force's headline measures side by side, with England and Wales (summed over the forces the "
            f"Annex A rules allow; the number of forces is under each value). Each table is sorted by its first "
            f'measure. Each force links to its full report where it has been built. <a href="{NATIONAL_CSV}">'
            f"Download every force and measure for this window (CSV)</a>.</p><ul class=\"key\">{key}</ul>"
            f'{"".join(parts)}</main></body></html>\n')
    return page, frames


def fingerprint(out_dir: Path, period: Period) -> str:
    """What the window's national page depends on: the results table's key (data, rules, data-return
    file, code), the published grades, and which forces have a report to link."""
    from ..data.published import JUDGMENTS_PATH
    from ..measures.table import cache_key

    linked = sorted(p.parent.name for p in (Path(out_dir) / period.iso).glob("*/report.html"))
    return sha256_text("national-v1", cache_key(), sha256_file(JUDGMENTS_PATH), period.iso, *linked)


def _files(folder: Path) -> list[Path]:
    return [folder / NATIONAL_HTML, folder / NATIONAL_CSV,
            *(folder / f"national-table-{n}.csv" for n in range(1, len(GROUPS) + 2))]


def up_to_date(folder: Path, print_id: str) -> bool:
    """The page and its CSVs were written for this fingerprint and are unchanged since (each file's
    sha256 is checked against the one recorded when it was written)."""
    try:
        state = json.loads((folder / NATIONAL_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if state.get("fingerprint") != print_id:
        return False
    try:
        return all(state.get("sha256", {}).get(f.name) == sha256_file(f) for f in _files(folder))
    except OSError:
        return False


def write_national(out_dir: Path, period: Period) -> bool:
    """Write ``national.html``, its tables' CSVs and the window's ``results.csv``, unless those files
    are unchanged and their inputs too. Returns whether it wrote them."""
    from ..measures import results

    out_dir = Path(out_dir)
    folder = out_dir / period.iso
    print_id = fingerprint(out_dir, period)
    if up_to_date(folder, print_id):
        return False
    rows = results(periods=[period])
    page, frames = national_html(out_dir, period, rows)
    for n, frame in enumerate(frames, start=1):
        write_csv(folder / f"national-table-{n}.csv", frame)
    write_csv(folder / NATIONAL_CSV, results_frame(rows))
    atomic_write(folder / NATIONAL_HTML, page)
    state = {"fingerprint": print_id, "sha256": {f.name: sha256_file(f) for f in _files(folder)}}
    atomic_write(folder / NATIONAL_STATE, json.dumps(state, indent=1))
    return True
