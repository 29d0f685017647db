"""Tables that render themselves in Jupyter and in the HTML export, and keep their data.

:class:`Table` holds display cells (strings), numbered notes and the basis markers it uses, plus
``.data``: the rows behind it as a DataFrame (for results tables, the tidy results rows, numbers
and all), so an analyst can keep, filter or pivot what a report shows.

Every value's basis shows where the value does: a one-letter marker after the number
(P published, S supplied, W part of the window), explained in a key under the table, and an
aggregate over fewer forces than the rules allow carries its "N of 43 forces" label in the cell.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from ..core.text import (BASES, DASH, ENGLAND_AND_WALES, basis_marker, basis_sentence, basis_words, flag_items,
                         format_value, lower_first)
from ..measures import verdicts
from ..measures.registry import MEASURES
from ..measures.table import aggregate_row

VERDICT_COLUMN = "Against the usual spread between forces (99.8% limits)"
CHANCE_COLUMN = "Against chance alone (99.8% limits)"


@dataclass
class Cell:
    """A table cell: its text, the basis marker after it, numbered notes, and ``window``: the months a
    value covers when they are not the table's window, written under the value."""

    text: str
    basis: str = ""
    notes: list[str] = field(default_factory=list)
    window: str = ""

    def plain(self) -> str:
        mark = basis_marker(self.basis)
        text = f"{self.text} [{mark}]" if mark else self.text
        return f"{text} ({self.window})" if self.window else text

    def markup(self) -> str:
        mark = basis_marker(self.basis)
        sup = (f'<sup class="basis basis-{self.basis}"><abbr title="{html.escape(basis_words(self.basis))}">'
               f"{mark}</abbr></sup>") if mark else ""
        under = (f'<span class="pw" style="display:block;font-size:11px;line-height:1.3;color:#3D3D3D;white-space:nowrap">'
                 f"{html.escape(self.window)}</span>") if self.window else ""
        return html.escape(self.text) + sup + under


@dataclass
class Table:
    """A rendered table: ``rows`` of :class:`Cell` under ``columns``, numbered ``notes``, and ``data``."""

    columns: list[str]
    rows: list[list[Cell]]
    data: pd.DataFrame
    caption: str = ""
    notes_column: bool = True
    shown: pd.DataFrame | None = None   # the rows the table shows, when ``data`` holds more
    kind: str = "results"               # "results": rows of the results table; "records": the table's own columns
    footnote: str = ""                  # said once under the table (a method, what has no row): a paragraph a line

    def shown_rows(self) -> pd.DataFrame:
        """The rows behind what the table shows (the data a "download the data" link gives)."""
        return self.shown if self.shown is not None else self.data

    def notes(self) -> list[str]:
        seen: list[str] = []
        for row in self.rows:
            for cell in row:
                for note in cell.notes:
                    if note not in seen:
                        seen.append(note)
        return seen

    def bases(self) -> list[str]:
        used = {c.basis for row in self.rows for c in row if basis_marker(c.basis)}
        return [b for b in BASES if b in used]

    def _note_marks(self, row: list[Cell], notes: list[str]) -> str:
        marks = sorted({notes.index(n) + 1 for c in row for n in c.notes})
        return ", ".join(str(m) for m in marks)

    def to_html(self) -> str:
        notes = self.notes()
        head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in self.columns)
        head += '<th scope="col">Note</th>' if self.notes_column and notes else ""
        body = []
        for row in self.rows:
            cells = "".join(f"<td>{c.markup()}</td>" for c in row)
            if self.notes_column and notes:
                cells += f"<td>{self._note_marks(row, notes)}</td>"
            body.append(f"<tr>{cells}</tr>")
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        key = "".join(f"<li><b>{basis_marker(b)}</b> {html.escape(basis_words(b))}: {html.escape(basis_sentence(b))}</li>"
                      for b in self.bases())
        out = f'<table class="peel-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        if key:
            out += f'<ul class="peel-key">{key}</ul>'
        for line in self.footnote.splitlines():
            out += f'<p class="peel-footnote" style="font-size:12px;color:#3D3D3D;margin:4px 0">{html.escape(line)}</p>'
        if notes:
            out += '<ol class="peel-notes">' + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ol>"
        return out

    def to_text(self) -> str:
        notes = self.notes()
        lines = [" | ".join(self.columns)]
        lines += [" | ".join(c.plain() for c in row) for row in self.rows]
        lines += [f"[{basis_marker(b)}] {basis_words(b)}: {basis_sentence(b)}" for b in self.bases()]
        lines += [self.footnote] if self.footnote else []
        lines += [f"{i + 1}. {n}" for i, n in enumerate(notes)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include=None, exclude=None):
        from .csvout import payload

        meta = {"peel": {"kind": "table", "caption": self.caption, "rows": payload(self.shown_rows(), self.kind)}}
        return {"text/html": self.to_html(), "text/plain": self.to_text()}, meta


# --------------------------------------------------------------------------- cells from results rows

def value_cell(row) -> Cell:
    """A results row as a cell: the formatted value with its basis marker, or a dash with the reason."""
    mdef = MEASURES[row["measure"]]
    notes = flag_items(row["flag"])
    if row["basis"] == "not_available" or pd.isna(row["value"]):
        reason = row["reason"] if isinstance(row["reason"], str) else "no value"
        return Cell(DASH, "not_available", [reason] + notes)
    text = format_value(row["value"], mdef.unit, mdef.decimals, mdef.signed)
    if row["area"] == "aggregate" and row["force"] != ENGLAND_AND_WALES:
        text += f" ({row['force']})"
        notes.append(str(row["reason"]))
    return Cell(text, str(row["basis"]), notes)


def text_cell(value) -> Cell:
    return Cell(DASH if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "" else str(value))


def records(rows: list[dict], columns: list[str], *, notes_column: str | None = "note", caption: str = "") -> Table:
    """A table of plain records (judgments, ledger rows, ...); a notes field becomes numbered notes."""
    out = []
    for rec in rows:
        cells = [text_cell(rec.get(c)) for c in columns]
        if notes_column and cells:
            cells[0].notes = [n for n in str(rec.get(notes_column) or "").split("; ") if n]
        out.append(cells)
    keep = list(columns) + ([notes_column] if notes_column and notes_column not in columns else [])
    shown = pd.DataFrame([{c: rec.get(c) for c in keep} for rec in rows], columns=keep)
    return Table(list(columns), out, pd.DataFrame(rows), caption, notes_column is not None, shown, "records")


def _pick(frame: pd.DataFrame, period: str, aggregate: bool) -> pd.Series | None:
    rows = frame[frame["period_end"] == period]
    if aggregate:
        return aggregate_row(rows)
    rows = rows[rows["area"] == "force"]
    return None if rows.empty else rows.iloc[0]


def comparison(frame: pd.DataFrame, focal: str, *, caption: str = "", periods: list[str] | None = None,
               measures: list[str] | None = None) -> Table:
    """Force against England and Wales, one line per measure and period in ``frame`` (results rows):
    measures, and each measure's periods, in the order given (default: as in ``frame``). A value over
    part of its window is the line of that window, its Period cell naming the months it covers: never a
    line of dashes for the 12 months above it."""
    order = pd.DataFrame({"m": frame["measure"].map({k: i for i, k in enumerate(measures or [])}).fillna(-1),
                          "p": frame["period_end"].map({k: i for i, k in enumerate(periods or [])}).fillna(-1)})
    frame = frame.iloc[order.sort_values(["m", "p"], kind="stable").index.map(frame.index.get_loc)]
    lines, shown = [], []
    for (key, period), group in frame.groupby(["measure", "period_end"], sort=False):
        mine, ew = _pick(group, period, False), _pick(group, period, True)
        if mine is None:
            continue
        shown += [r.to_frame().T for r in (mine, ew) if r is not None]
        part = next((r["window"] for r in (mine, ew) if r is not None and r["basis"] == "partial_window"
                     and isinstance(r["window"], str)), None)
        window = f"{part} (part of the {lower_first(_period_label(period))})" if part else \
            (mine["window"] if isinstance(mine["window"], str) else _period_label(period))
        lines.append([Cell(MEASURES[key].label), Cell(window), value_cell(mine),
                      value_cell(ew) if ew is not None else Cell(DASH, "not_available", ["no England and Wales value"])])
    shown_rows = pd.concat(shown, ignore_index=True)[list(frame.columns)] if shown else frame.iloc[0:0]
    return Table(["Measure", "Period", focal, ENGLAND_AND_WALES], lines, frame.reset_index(drop=True), caption,
                 shown=shown_rows)


def _period_label(iso: str) -> str:
    from ..core.periods import Period

    return Period.parse(iso).label


def by_force(frame: pd.DataFrame, forces: list[str], *, caption: str = "") -> Table:
    """One line per force in ``forces`` (in that order), then the aggregate rows, for one measure and period."""
    lines = []
    for name in forces:
        rows = frame[(frame["force"] == name) & (frame["area"] == "force")]
        if len(rows):
            row = rows.iloc[0]
            lines.append([Cell(name), value_cell(row), text_cell(row["window"])])
    for _, row in frame[frame["area"] == "aggregate"].iterrows():
        lines.append([Cell(str(row["force"])), value_cell(row), text_cell(row["window"])])
    label = MEASURES[frame["measure"].iloc[0]].label if len(frame) else "Value"
    return Table(["Force", label, "Window"], lines, frame.reset_index(drop=True), caption)


# --------------------------------------------------------------------------- intervals and the comparison

def interval_text(row) -> str:
    """"77.5 to 78.7" (the 95% interval in the value's unit, one more decimal if the ends would
    print alike), or a dash."""
    if row is None or pd.isna(row.get("ci_low")) or pd.isna(row.get("ci_high")):
        return DASH
    mdef = MEASURES[row["measure"]]
    decimals = mdef.decimals
    while decimals < mdef.decimals + 2 and f"{row['ci_low']:.{decimals}f}" == f"{row['ci_high']:.{decimals}f}":
        decimals += 1
    return (f"{format_value(row['ci_low'], mdef.unit, decimals, mdef.signed)} to "
            f"{format_value(row['ci_high'], mdef.unit, decimals, mdef.signed)}")


def interval_cell(row) -> Cell:
    """The 95% interval of a results row; a dash with the reason when a value has none."""
    if row is None or pd.isna(row["value"]):
        return Cell(DASH)
    text = interval_text(row)
    method = row.get("ci_method")
    return Cell(text, notes=[str(method)] if text == DASH and isinstance(method, str) else [])


def verdict_cell(row, chance: bool = False, method: bool = True) -> Cell:
    """The verdict against the usual spread between forces in a few words, with its 99.8% limits in the
    value's unit ("within usual spread (6.4% to 26.0%)"; with ``chance``, "; beyond chance alone" after
    it) and the method in a note (unless ``method`` is False: a table that says it once), or "not
    compared" with the reason ("not compared: no counts" for a value published or supplied without them)."""
    verdict = None if row is None or pd.isna(row["value"]) else row.get("vs_ew")
    if verdict is None or pd.isna(verdict):
        return Cell(DASH)
    how = str(row.get("vs_ew_method") or "")
    if verdict != "not_compared":
        text = f"{verdicts.short_verdict(row)} ({verdicts.limits_text(row)})"
        return Cell(text + (f"; {verdicts.chance_short(row)}" if chance else ""), notes=[how] if how and method else [])
    if how.startswith("no counts"):
        return Cell("not compared: no counts", notes=[how])
    return Cell("not compared", notes=[how] if how and how != "no value" else [])


def chance_cell(row) -> Cell:
    """The verdict against chance alone in a few words, with its 99.8% limits in the value's unit
    ("beyond chance alone (14.6% to 15.1%)"); a dash for a value not compared."""
    if row is None or pd.isna(row["value"]) or row.get("vs_ew_chance") not in verdicts.COMPARED:
        return Cell(DASH)
    return Cell(f"{verdicts.chance_short(row)} ({verdicts.limits_text(row, 'vs_ew_chance')})")


def funnel_table(forces: pd.DataFrame, aggregate: pd.Series | None, focal: str, *, caption: str = "") -> Table:
    """Every force's value, 95% interval and both verdicts against England and Wales with their 99.8%
    limits (highest value first), then the England and Wales row: the table beside a funnel plot."""
    order = forces.assign(_v=pd.to_numeric(forces["value"], errors="coerce").astype(float))
    order = order.sort_values(["_v", "force"], ascending=[False, True], na_position="last", kind="mergesort")
    lines = []
    for _, row in order.iterrows():
        name = f"{row['force']} (this force)" if row["force"] == focal else str(row["force"])
        lines.append([Cell(name), value_cell(row), interval_cell(row), verdict_cell(row), chance_cell(row)])
    if aggregate is not None:
        lines.append([Cell(str(aggregate["force"])), value_cell(aggregate), interval_cell(aggregate), Cell(DASH),
                      Cell(DASH)])
    label = MEASURES[forces["measure"].iloc[0]].label if len(forces) else "Value"
    data = order.drop(columns="_v").reset_index(drop=True)
    shown = pd.concat([data, aggregate.to_frame().T], ignore_index=True) if aggregate is not None else data
    return Table(["Force", label, "95% interval", VERDICT_COLUMN, CHANCE_COLUMN], lines, data, caption, shown=shown)
