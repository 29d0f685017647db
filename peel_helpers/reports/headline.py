"""Force in numbers: the headline figures of a force's report on one page.

* :func:`panel`: each headline figure as a large number, with England and Wales beside it and the
  verdict against England and Wales in two or three words (:func:`~peel_helpers.measures.verdicts.short_verdict`),
  as the published one-page graphic sets them out. HTML with inline ``style`` attributes only (no
  style sheet, no script), so it looks the same in JupyterLab, on a section page and in the report.
* :func:`force_in_numbers`: the table beneath, one line per measure: the force's value (a value over
  part of the window, or over another window, names its months in the cell), its 95% interval, England
  and Wales, and both verdicts with the limits of the usual spread between forces. The period is
  given once, in the caption; how the limits are set is said once, under the table; sources go by
  short title (About the data lists every file with its release).

Measures with no value for the force or England and Wales get no line: one sentence under the
table names them, with the reason and what would fill them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

from ..core.periods import Period
from ..core.text import DASH, ENGLAND_AND_WALES, lower_first
from ..measures import verdicts
from ..measures.registry import FORCE_IN_NUMBERS, MEASURES, fmt
from ..measures.table import aggregate_row
from . import tables
from .common import Note, results_rows
from .params import Params

COLUMNS = ["Measure", "95% interval", ENGLAND_AND_WALES, "Against England and Wales (99.8% limits)"]
FOCUS, TEXT, PANEL, MARK = "#12436D", "#3D3D3D", "#f3f2f1", "#801650"
# Printed, the section holding the panel (a report's Force in numbers) starts a page, as the published one-page
# graphic does, and is set smaller, so that the panel and the table fit that one A4 page; on screen and in
# JupyterLab the inline styles alone apply. Only the panel's own elements and its own section are touched.
_SECTION = "section.peel-section:has(.peel-panel)"
PRINT_CSS = ("@media print{"
             ".peel-panel ul{grid-template-columns:repeat(6,1fr)!important;gap:4px!important;margin:4px 0 8px!important}"
             ".peel-panel li{padding:2px 5px 3px!important;border-top-width:3px!important}"
             ".peel-panel li p{font-size:9px!important;line-height:1.25!important}.peel-panel li p.pl{font-size:10px!important}"
             ".peel-panel li p.pn{font-size:17px!important}.peel-panel>p{font-size:10.5px!important}"
             f"{_SECTION} table.peel-table{{font-size:10px;line-height:1.25}}{_SECTION} table.peel-table th,"
             f"{_SECTION} table.peel-table td{{padding:1px 4px}}{_SECTION} table.peel-table caption{{font-size:12px}}"
             f"{_SECTION} table.peel-table .pw{{font-size:9px!important}}"
             f"{_SECTION} ul.peel-key,{_SECTION} ol.peel-notes,{_SECTION} p.peel-footnote"
             "{font-size:9px!important;line-height:1.25;margin:2px 0!important}"
             f"{_SECTION} .peel-download{{font-size:10px;margin:2px 0 4px}}"
             "}")


def _rows(p: Params) -> pd.DataFrame:
    return results_rows(forces=[p.name], measures=list(FORCE_IN_NUMBERS), periods=[p.period])


def _pair(rows: pd.DataFrame, key: str, name: str) -> tuple[pd.Series | None, pd.Series | None]:
    """The force's row and the England and Wales row of one measure."""
    part = rows[rows["measure"] == key]
    mine = part[(part["area"] == "force") & (part["force"] == name)]
    return (mine.iloc[0] if len(mine) else None), aggregate_row(part)


def _has(row) -> bool:
    return row is not None and pd.notna(row["value"])


def other_window(row, period: Period) -> str:
    """The months a value covers when they are not the window's 12 months ('April–June 2017 only: 1 of 4
    quarters', 'year ending 31 March 2017', 'as at 1 July 2017'); "" for a value over the window itself
    or a change on the previous 12 months."""
    window = row["window"] if isinstance(row["window"], str) else ""
    if row["basis"] == "partial_window" or (window and not window.startswith(period.label)):
        return window
    return ""


# --------------------------------------------------------------------------- the panel

@dataclass
class Panel:
    """The headline figures as cards (``cards``: one dict per figure), with the rows behind them (``data``)."""

    cards: list[dict]
    data: pd.DataFrame
    caption: str

    def to_html(self) -> str:
        items = "".join(_card_html(c) for c in self.cards)
        grid = ("list-style:none;margin:8px 0 14px;padding:0;display:grid;gap:8px;"
                "grid-template-columns:repeat(auto-fill,minmax(150px,1fr))")
        return (f'<div class="peel-panel"><style>{PRINT_CSS}</style><p style="margin:0 0 4px;font-size:14px;'
                f'color:{TEXT}">{html.escape(self.caption)}</p><ul style="{grid}">{items}</ul></div>')

    def to_text(self) -> str:
        return "\n".join([self.caption] + [f"{c['label']}: {c['value']}{' (' + c['window'] + ')' if c['window'] else ''}"
                                           f"; {c['ew']}; {c['verdict']}" for c in self.cards])

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.to_html(), "text/plain": self.to_text()}, {"peel": {"kind": "panel"}}


def _card_html(card: dict) -> str:
    edge = MARK if card["unusual"] else FOCUS
    box = (f"border-top:4px solid {edge};background:{PANEL};padding:6px 10px 8px;break-inside:avoid;"
           "page-break-inside:avoid")
    small = f"margin:0;font-size:12px;line-height:1.3;color:{TEXT}"
    window = f'<p style="{small}">{html.escape(card["window"])}</p>' if card["window"] else ""
    verdict = f"font-weight:bold;color:{MARK}" if card["unusual"] else f"color:{TEXT}"
    return (f'<li style="{box}"><p class="pl" style="margin:0;font-size:13px;line-height:1.25;font-weight:bold">'
            f'{html.escape(card["label"])}</p><p style="{small}">{html.escape(card["unit"])}</p>'
            f'<p class="pn" style="margin:2px 0 0;font-size:24px;line-height:1.15;font-weight:bold;color:{FOCUS}">'
            f'{card["markup"]}</p>{window}<p style="{small}">{html.escape(card["ew"])}</p>'
            f'<p style="margin:2px 0 0;font-size:12px;line-height:1.3;{verdict}">{html.escape(card["verdict"])}</p></li>')


def _card(mine: pd.Series, ew: pd.Series | None, period: Period) -> dict:
    mdef = MEASURES[mine["measure"]]
    cell = tables.value_cell(mine)
    ew_text = f"{ENGLAND_AND_WALES} {fmt(ew['value'], mdef)}" if _has(ew) else f"No {ENGLAND_AND_WALES} value"
    if _has(ew) and ew["basis"] == "published":
        ew_text += " (published)"
    return {"measure": mine["measure"], "label": mdef.short[:1].upper() + mdef.short[1:], "unit": mdef.unit,
            "value": cell.plain(), "markup": cell.markup(), "window": other_window(mine, period), "ew": ew_text,
            "verdict": verdicts.short_verdict(mine), "unusual": mine.get("vs_ew") in ("above", "below")}


def panel(p: Params):
    """The headline figures of ``p``'s force and window as a panel of large numbers, each with England
    and Wales and the verdict in a few words (a Panel), or one sentence when the force has none."""
    rows = _rows(p)
    cards, shown = [], []
    for key in FORCE_IN_NUMBERS:
        mine, ew = _pair(rows, key, p.name)
        if _has(mine):
            cards.append(_card(mine, ew, p.period))
            shown += [r.to_frame().T for r in (mine, ew) if r is not None]
    if not cards:
        return Note(f"No headline figure has a value for {p.name} in the {lower_first(p.period.label)}; the table "
                    "below says why.", no_data=True)
    caption = f"{p.name}, {lower_first(p.period.label)}, each figure beside England and Wales.{_shared_windows(cards)}"
    return Panel(cards, pd.concat(shown, ignore_index=True), caption)


def _shared_windows(cards: list[dict]) -> str:
    """Months shared by several figures, named once in the caption and taken off their cards: ' Crime
    outcomes: April–June 2017 only: 1 of 4 quarters.'"""
    out = []
    for window in dict.fromkeys(c["window"] for c in cards if c["window"]):
        mine = [c for c in cards if c["window"] == window]
        if len(mine) < 2:
            continue
        families = {MEASURES[c["measure"]].family for c in mine}
        who = "Crime outcomes" if families == {"outcomes"} else ", ".join(c["label"] for c in mine)
        out.append(f" {who}: {window}.")
        for c in mine:
            c["window"] = ""
    return "".join(out)


# --------------------------------------------------------------------------- the table

def short_sources(row) -> str:
    """The sources of a row by short title ('Police recorded crime, Police Force Area data tables'): the
    title of each file in the manifest up to its first colon or comma; a value copied from a report is
    'HMICFRS PEEL 2017 report'; an England and Wales sum names the files its forces' values come from."""
    from ..data import manifest

    titles = {sf.filename: sf.title for sf in manifest.load_manifest().values()}
    text = row["source"] if isinstance(row["source"], str) else ""
    out = []
    for part in (t.strip() for t in text.split("; ") if t.strip()):
        name = part.split(" (sha256")[0].strip()
        if name in titles:
            out.append(titles[name].split(":")[0].split(",")[0].strip())
        elif row["basis"] == "published" or part.startswith("HMICFRS"):
            out.append("HMICFRS PEEL 2017 report")
        else:
            out.append(name.split(" (")[0])
    if not out:      # an England and Wales row: the files its forces' values come from
        from .. import data

        tables_used = {"recorded_crime": ["recorded_crime", "population"], "outcomes": ["outcomes"],
                       "asb_incidents": ["asb", "population"]}.get(MEASURES[row["measure"]].computes, [])
        out = [i["title"].split(":")[0].split(",")[0].strip() for t in tables_used for i in data.provenance(t)]
    return ", ".join(dict.fromkeys(out)) or DASH


def _value_cell(row, period: Period) -> tables.Cell:
    cell = tables.value_cell(row)
    cell.window = other_window(row, period) if _has(row) else ""
    return cell


def _line(mine, ew, period: Period) -> list[tables.Cell]:
    ew_cell = _value_cell(ew, period) if ew is not None else tables.Cell(DASH)
    if ew is not None and _has(mine) and other_window(ew, period) == other_window(mine, period) and \
            other_window(ew, period):
        ew_cell = tables.value_cell(ew)        # the same months as the force's value, named there once
    return [tables.Cell(MEASURES[mine["measure"]].label), _value_cell(mine, period), tables.interval_cell(mine),
            ew_cell, tables.verdict_cell(mine, chance=True, method=False)]


def _sources_text(shown: list[tuple[str, pd.Series]]) -> str:
    """'Police recorded crime (recorded crime, change in recorded crime); ...': each source by its short
    title, with the measures it gives."""
    by_source: dict[str, list[str]] = {}
    for key, row in shown:
        what = "crime outcomes" if MEASURES[key].family == "outcomes" else MEASURES[key].short
        for title in short_sources(row).split(", "):
            if title != DASH and what not in by_source.setdefault(title, []):
                by_source[title].append(what)
    return "; ".join(f"{title} ({', '.join(shorts)})" for title, shorts in by_source.items())


def _coverage_text(period: Period) -> str:
    """' Crime outcomes cover April–June 2017 only: 1 of 4 quarters; 2016/17 Q2, ... are not loaded, and the
    Home Office file x.xlsx (for 2016/17) would complete the window (make data fetches it, with internet).'
    ("" when the outcome files cover the whole window)."""
    from ..measures import outcomes

    cov = outcomes.coverage(period)
    if cov["complete"]:
        return ""
    files = ", ".join(f"{f['filename']} (for {f['financial_year']})" if f["filename"] else
                      f"no file in the manifest (for {f['financial_year']})" for f in cov["files"])
    held = f"cover {cov['window']}" if cov["available"] else "have no quarter of this window"
    return (f" Crime outcomes {held}; {', '.join(cov['missing'])} are not loaded, and the Home Office file {files} "
            "would complete the window (make data fetches it, with internet).")


def _footnote(name: str, period: Period, shown: list[tuple[str, pd.Series]], missing: list[tuple[str, str]]) -> str:
    """What the table says once, a paragraph a line: the verdict's method, the sources by short title, the
    months the crime outcomes cover, and the measures with no value for the force or England and Wales."""
    lines = ["Against England and Wales: within, above or below the 99.8% limits of the usual spread between forces, "
             "in the value's unit at the force's own base, and whether the gap is beyond what chance alone gives; for "
             "rates per resident the centre is England and Wales without the City of London (A-CITY). The funnel "
             "section shows how the limits are set."]
    sources = _sources_text(shown)
    if sources:
        lines.append(f"Sources (About the data gives each file with its release): {sources}."
                     + (_coverage_text(period) if any(MEASURES[k].family == "outcomes" for k, _ in shown) else ""))
    by_reason: dict[str, list[str]] = {}
    for key, reason in missing:
        by_reason.setdefault(reason, []).append(lower_first(MEASURES[key].label))
    lines += [f"No value for {name} or {ENGLAND_AND_WALES} in this window for {', '.join(labels)}; the reason: "
              f"{reason}." for reason, labels in by_reason.items()]
    return "\n".join(lines)


def force_in_numbers(p: Params) -> tables.Table:
    """Force in numbers: one line per measure with a value for the force or England and Wales, the
    period once in the caption, the method once under the table (``.data``: the results rows)."""
    rows = _rows(p)
    lines, shown, missing, sourced = [], [], [], []
    for key in FORCE_IN_NUMBERS:
        mine, ew = _pair(rows, key, p.name)
        if mine is None:
            continue
        if not (_has(mine) or _has(ew)):
            reason = mine["reason"] if isinstance(mine["reason"], str) else "no value"
            missing.append((key, reason))
            continue
        lines.append(_line(mine, ew, p.period))
        shown += [r.to_frame().T for r in (mine, ew) if r is not None]
        sourced.append((key, mine if _has(mine) else ew))
    caption = f"Force in numbers: {p.name} and England and Wales, {lower_first(p.period.label)}"
    columns = COLUMNS[:1] + [p.name] + COLUMNS[1:]
    shown_rows = pd.concat(shown, ignore_index=True)[list(rows.columns)] if shown else rows.iloc[0:0]
    table = tables.Table(columns, lines, rows.reset_index(drop=True), caption, shown=shown_rows,
                         footnote=_footnote(p.name, p.period, sourced, missing))
    _add_ons_rate_notes(table, p, rows)
    return table


def ons_rate_note(area: str, period: Period, population_year) -> str | None:
    """"ONS's published rate for this window, on mid-2016 populations: 76.7 (...)", when ONS's own tables
    publish the recorded crime rate for the window (read through the data layer), else None."""
    from ..measures import compare

    ons = compare.ons_published_rate(area, period)
    if ons is None:
        return None
    if ons["value"] is None:
        return f"ONS publishes no rate of its own for this window ({ons['table']}: {ons['note'] or 'a symbol'})"
    base = f"mid-{ons['population_year']}"
    text = f"ONS's published rate for this window, on {base} populations: {ons['value']:.1f} ({ons['table']}"
    if area == ENGLAND_AND_WALES:
        text += ", including British Transport Police"
    if pd.notna(population_year) and int(population_year) != ons["population_year"]:
        text += f"); this report divides by mid-{int(population_year)}, the report's rule"
    else:
        text += ")"
    return text + " (see A-POPULATION-YEAR)"


def _add_ons_rate_notes(table: tables.Table, p: Params, rows: pd.DataFrame) -> None:
    """The recorded crime rate line gets ONS's own rate for the window, for the force and England and Wales."""
    label = MEASURES["recorded_crime_per_1000"].label
    data = rows[rows["measure"] == "recorded_crime_per_1000"]
    years = {r["force"]: r["population_year"] for _, r in data.iterrows()}
    for line in table.rows:
        if line[0].text != label:
            continue
        for cell, area in ((line[1], p.name), (line[table.columns.index(ENGLAND_AND_WALES)], ENGLAND_AND_WALES)):
            note = ons_rate_note(area, p.period, years.get(area))
            if note and cell.text != DASH:
                cell.notes.append(note)
