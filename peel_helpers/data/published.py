"""Published facts the project carries as data: the report's numbers, HMICFRS judgments, and the
assumptions and caveats log.

``report_values()``
    Every number the 2017 Cambridgeshire effectiveness report text publishes, one row each
    (``data/published/report_values.csv``), with its period, unit, report section and the
    source it could be reproduced from.
``judgments(force=None)`` / ``judgments_table(force)`` / ``inspection_note(force)``
    Effectiveness grades by question with the year each question was last inspected
    (``data/published/judgments.csv``). Grades that no source gives stay absent: the
    display table shows a dash, never a guess.
``assumptions()`` / ``assumptions_for(notebook_or_section)``
    Items of ``data/ASSUMPTIONS.md`` (id, title, RAG rating, link) and the notebooks or
    sections each applies to.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from ..core.errors import DataFileError
from ..core.forces import FORCE_NAMES, resolve
from ..core.text import DASH, ENGLAND_AND_WALES, lower_first
from ..core.paths import ASSUMPTIONS_PATH, NOTEBOOKS_DIR, PROJECT_ROOT, PUBLISHED_DIR

REPORT_FORCE = "Cambridgeshire"  # the force whose report text data/published/report_values.csv captures
REPORT_VALUES_PATH = PUBLISHED_DIR / "report_values.csv"
JUDGMENTS_PATH = PUBLISHED_DIR / "judgments.csv"

REPORT_VALUE_COLUMNS = [
    "id", "force", "measure", "label", "period", "period_end", "value", "unit", "kind", "section",
    "report", "report_url", "isbn", "reproducible_from", "report_period_end", "note",
]
KINDS = ("statistic", "sample", "standard", "definition", "scope")

QUESTIONS = {
    "preventing": "Preventing crime and tackling anti-social behaviour",
    "investigating": "Investigating crime and reducing re-offending",
    "protecting": "Protecting vulnerable people",
    "serious_organised_crime": "Tackling serious and organised crime",
    "specialist_capabilities": "Specialist capabilities",
}
GRADES = ("Outstanding", "Good", "Requires improvement", "Inadequate", "Ungraded")


def _read(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    if not path.exists():
        raise DataFileError(f"{path.name} is missing from data/published/: restore it from the repository (git checkout).")
    frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataFileError(f"{path.name} lacks column(s) {', '.join(missing)}: see data/published/README.md for the layout.")
    return frame


# --------------------------------------------------------------------------- report values

@lru_cache(maxsize=1)
def _report_values() -> pd.DataFrame:
    frame = _read(REPORT_VALUES_PATH, REPORT_VALUE_COLUMNS)
    frame["value"] = pd.to_numeric(frame["value"]).astype("Float64")
    frame["period_end"] = pd.to_datetime(frame["period_end"], errors="coerce").astype("datetime64[ns]")
    frame["report_period_end"] = pd.to_datetime(frame["report_period_end"]).astype("datetime64[ns]")
    return frame[REPORT_VALUE_COLUMNS]


def report_values(force: str | None = None, *, include_england_and_wales: bool = True) -> pd.DataFrame:
    """The report's published numbers. ``force`` narrows to that force (plus England and Wales rows
    unless ``include_england_and_wales`` is False)."""
    frame = _report_values().copy()
    if force is None:
        return frame
    name = resolve(force).name
    keep = frame["force"].eq(name)
    if include_england_and_wales:
        keep |= frame["force"].eq(ENGLAND_AND_WALES)
    return frame[keep].reset_index(drop=True)


def published_value(measure: str, area: str, period=None) -> float | None:
    """A single published number (``area`` a force or "England and Wales"), or None if the report has none."""
    frame = _report_values()
    name = area if area == ENGLAND_AND_WALES else resolve(area).name
    rows = frame[(frame["measure"] == measure) & (frame["force"] == name)]
    if period is not None and len(rows):
        from ..core.periods import Period

        end = pd.Timestamp(Period.parse(period).end)
        rows = rows[rows["report_period_end"].eq(end) | rows["period_end"].eq(end)]
    if rows.empty:
        return None
    return float(rows["value"].iloc[0])


# --------------------------------------------------------------------------- judgments

@lru_cache(maxsize=1)
def _judgments() -> pd.DataFrame:
    cols = ["force", "question", "question_label", "grade", "peel_year", "last_inspected", "inspected_2017",
            "evidence", "source_url", "note"]
    frame = _read(JUDGMENTS_PATH, cols)
    for col in ("peel_year", "last_inspected"):
        frame[col] = pd.to_numeric(frame[col]).astype("Int64")
    return frame[cols]


def judgments(force: str | None = None) -> pd.DataFrame:
    """All published judgment rows (or one force's). ``grade`` is NA where the sources give none."""
    frame = _judgments().copy()
    if force is not None:
        frame = frame[frame["force"] == resolve(force).name].reset_index(drop=True)
    return frame


def _pick(rows: pd.DataFrame, year: int | None = None) -> pd.Series | None:
    if year is not None:
        rows = rows[rows["peel_year"] == year]
    if rows.empty:
        return None
    graded = rows[rows["grade"].notna()]
    return (graded if len(graded) else rows).iloc[0]


def judgments_table(force: str) -> pd.DataFrame:
    """The Effectiveness overview table for ``force``: one row per question, strings only, dashes where
    nothing is published. Never fills a grade from another year or question."""
    name = resolve(force).name
    rows = judgments(name)
    out = []

    def line(label: str, row: pd.Series | None) -> dict:
        if row is None:
            return {"Question": label, "Grade": DASH, "Last inspected": DASH, "Inspected in 2017": DASH,
                    "Source": DASH, "Note": "no published grade in the project's sources"}
        grade = DASH if pd.isna(row["grade"]) else str(row["grade"])
        last = DASH if pd.isna(row["last_inspected"]) else str(int(row["last_inspected"]))
        insp = {"yes": "yes", "no": "no"}.get(str(row["inspected_2017"]) if pd.notna(row["inspected_2017"]) else "", DASH)
        note = "" if pd.isna(row["note"]) else str(row["note"])
        if grade == DASH and not note:
            note = "grade not in the project's sources"
        return {"Question": label, "Grade": grade, "Last inspected": last, "Inspected in 2017": insp,
                "Source": str(row["source_url"]), "Note": note}

    overall = rows[rows["question"] == "overall"]
    out.append(line("Overall effectiveness 2017", _pick(overall, 2017)))
    out.append(line("Overall effectiveness 2016", _pick(overall, 2016)))
    for key, label in QUESTIONS.items():
        out.append(line(label, _pick(rows[rows["question"] == key])))
    return pd.DataFrame(out).astype("string")


def overview_rows(force: str) -> list[dict]:
    """:func:`judgments_table` as a list of dicts (for ``peel_helpers.reports.notebook.table``)."""
    return judgments_table(force).to_dict("records")


def judgment_sources(force: str) -> str:
    """Markdown list of the sources behind ``force``'s judgments, each URL once."""
    rows = judgments(force)
    seen: list[tuple[str, str]] = []
    for row in rows.itertuples():
        item = (str(row.source_url), str(row.evidence))
        if item[0] not in [s for s, _ in seen]:
            seen.append(item)
    if not seen:
        return "**Sources.** No published judgment for this force is in `data/published/judgments.csv`."
    lines = "\n".join(f"- {evidence}: <{url}>" for url, evidence in seen)
    return f"**Sources** (from `data/published/judgments.csv`):\n\n{lines}"


def overview_period_note(period) -> str:
    """How the judgments relate to the period a notebook was run for."""
    from ..core.periods import REPORT_PERIOD, Period

    period = Period.parse(period)
    if period == REPORT_PERIOD:
        return ("These are the judgments of the 2017 effectiveness inspection, whose data cover the "
                f"{lower_first(REPORT_PERIOD.label)}.")
    return (f"Judgments are made per inspection year, not per data period: the table shows the 2017 and 2016 "
            f"effectiveness judgments whichever period is chosen ({lower_first(period.label)} here).")


def inspection_note(force: str) -> str:
    """One or two sentences on which questions were inspected in 2017 for ``force``, where known."""
    name = resolve(force).name
    rows = judgments(name)
    rows = rows[rows["question"] != "overall"]
    yes = [QUESTIONS[q] for q in QUESTIONS if (rows[(rows["question"] == q)]["inspected_2017"] == "yes").any()]
    no = [QUESTIONS[q] for q in QUESTIONS if (rows[(rows["question"] == q)]["inspected_2017"] == "no").any()]
    if not yes and not no:
        return (f"The project's sources do not say which questions HMICFRS re-inspected in {name} in 2017. "
                "Under the 2017 risk-based approach, questions not re-inspected keep their 2016 judgment.")
    text = f"In 2017 HMICFRS inspected {name} on: {'; '.join(yes) if yes else 'no question the sources name'}."
    if no:
        text += f" Not re-inspected in 2017 (the earlier judgment stands): {'; '.join(no)}."
    unknown = [QUESTIONS[q] for q in QUESTIONS if QUESTIONS[q] not in yes + no]
    if unknown:
        text += f" Not known from the sources: {'; '.join(unknown)}."
    return text


# --------------------------------------------------------------------------- assumptions log

@dataclass(frozen=True)
class Assumption:
    id: str
    title: str
    rag: str
    applies_to: tuple[str, ...]

    def link(self, relative_to: Path | None = NOTEBOOKS_DIR) -> str:
        base = Path(os.path.relpath(ASSUMPTIONS_PATH, relative_to)) if relative_to else ASSUMPTIONS_PATH.relative_to(PROJECT_ROOT)
        return f"{base.as_posix()}#{self.id.lower()}"


class AssumptionLink(NamedTuple):
    """``(id, title, rag, link)``; ``link`` is a relative link to the item's anchor in ASSUMPTIONS.md."""

    id: str
    title: str
    rag: str
    link: str


_HEADING = re.compile(r"^###\s+(?P<id>A-[A-Z0-9-]+)\s*[·:\-–]\s*(?P<title>.+?)\s*$")
_RAG = re.compile(r"^\s*[-*]?\s*\*\*RAG\*\*\s*:\s*(?P<rag>Red|Amber|Green)\b", re.I)
_APPLIES = re.compile(r"^\s*[-*]?\s*\*\*Applies to\*\*\s*:\s*(?P<list>.+)$", re.I)


@lru_cache(maxsize=1)
def assumptions() -> tuple[Assumption, ...]:
    """Items of ``data/ASSUMPTIONS.md`` in file order."""
    if not ASSUMPTIONS_PATH.exists():
        raise DataFileError("data/ASSUMPTIONS.md is missing: restore it from the repository (git checkout).")
    items: list[Assumption] = []
    current: dict | None = None
    for line in ASSUMPTIONS_PATH.read_text(encoding="utf-8").splitlines():
        m = _HEADING.match(line)
        if m:
            if current:
                items.append(Assumption(**current))
            current = {"id": m["id"], "title": m["title"], "rag": "", "applies_to": ()}
            continue
        if current is None:
            continue
        if (m := _RAG.match(line)):
            current["rag"] = m["rag"].capitalize()
        elif (m := _APPLIES.match(line)):
            current["applies_to"] = tuple(s.strip().strip("`") for s in m["list"].split(",") if s.strip())
    if current:
        items.append(Assumption(**current))
    return tuple(items)


def _name_keys(name: str) -> set[str]:
    stem = Path(str(name)).name.removesuffix(".ipynb").lower().strip()
    keys = {stem}
    m = re.match(r"^(\d{2})_(.+)$", stem)
    if m:
        keys |= {m.group(1), m.group(2), m.group(2).rsplit("_", 1)[-1]}
    return keys


def assumptions_for(notebook_or_section: str, relative_to: Path | None = NOTEBOOKS_DIR) -> list[AssumptionLink]:
    """``(id, title, rag, link)`` for each assumptions item that applies to a notebook (file name or
    stem, e.g. ``"06_reproduction_ledger"``, its number ``"06"``) or a section key (``"ledger"``,
    ``"force_in_numbers"``, ...). Items marked ``all`` apply everywhere, so a name no item lists gets
    only those. ``link`` is relative to
    ``relative_to`` (the notebooks folder by default; ``None`` gives a path from the project root)."""
    keys = _name_keys(notebook_or_section)
    out = []
    for item in assumptions():
        targets = set().union(*(_name_keys(t) for t in item.applies_to)) if item.applies_to else set()
        if "all" in targets or keys & targets:
            out.append(AssumptionLink(item.id, item.title, item.rag, item.link(relative_to)))
    return out


def clear_caches() -> None:
    for fn in (_report_values, _judgments, assumptions):
        fn.cache_clear()


__all__ = [
    "report_values", "published_value", "judgments", "judgments_table", "inspection_note", "assumptions",
    "assumptions_for", "Assumption", "AssumptionLink", "QUESTIONS", "FORCE_NAMES",
]
