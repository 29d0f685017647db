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
``assumptions()``
    Items of ``data/ASSUMPTIONS.md`` (id, title, RAG rating); which sections each applies to is
    declared in ``notebooks/sections.toml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from ..core.errors import DataFileError
from ..core.forces import FORCE_NAMES, resolve
from ..core.text import DASH, ENGLAND_AND_WALES, lower_first
from ..core.paths import ASSUMPTIONS_PATH, PUBLISHED_DIR

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

JUDGMENT_COLUMNS = ["force", "question", "year", "grade", "source_kind", "source_title", "source_url", "quote",
                    "year_basis", "year_source_kind", "year_source_title", "year_source_url", "year_quote", "note"]
OFFICIAL_KINDS = ("hmicfrs_page", "hmicfrs_report")
SOURCE_KINDS = OFFICIAL_KINDS + ("report_copy", "news")
OVERALL_LABELS = {2017: "Overall effectiveness 2017", 2016: "Overall effectiveness 2016"}
# how the year of a judgment is known (judgments.csv ``year_basis``), in words for the reader
YEAR_BASES = {
    "inspection_2017": "graded in the 2017 inspection",
    "inspection_2016": "the overall grade of the 2016 inspection",
    "not_reinspected_2017": "not re-inspected in 2017, so the 2016 judgment stands",
    "carried_from_2016": "a later HMICFRS page says the 2016 judgment was carried over",
    "carried_from_2017": "a 2018/19 HMICFRS page says the judgment from the 2017 inspection was carried over",
    "later_page_says_2017": ("dated 2017 only by a 2018/19 HMICFRS page (\"In 2017, we judged\"), which uses the same "
                             "words for grades carried over from 2016, so it may be a 2016 judgment"),
    "press_release_2017": ("listed in HMICFRS's 2017 press release for the force, which does not say whether the "
                           "question was re-inspected in 2017"),
    "areas_assessed": "the list of areas assessed in 2017",
    "older_file": "the year as an older gathering of the grades records it",
}
# the same, in a few words, for a year the display marks as less certain
SOFT_YEAR_BASES = {
    "later_page_says_2017": "dated only by a 2018/19 HMICFRS page",
    "press_release_2017": "listed in the 2017 press release",
    "older_file": "as an older gathering of the grades records it",
}
NO_SOURCE = "no source in the project's files states this grade"


@lru_cache(maxsize=1)
def _judgments() -> pd.DataFrame:
    frame = _read(JUDGMENTS_PATH, JUDGMENT_COLUMNS)
    frame["year"] = pd.to_numeric(frame["year"]).astype("Int64")
    return frame[JUDGMENT_COLUMNS]


def judgments(force: str | None = None) -> pd.DataFrame:
    """The rows of ``data/published/judgments.csv`` (or one force's): one per force, question and year
    of judgment. ``grade`` is NA where no source states it (``note`` says why)."""
    frame = _judgments().copy()
    if force is not None:
        frame = frame[frame["force"] == resolve(force).name].reset_index(drop=True)
    return frame


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def source_name(kind: str, title: str = "", url: str = "") -> str:
    """How the display names a source: HMICFRS's page or report by its title; anything else as what it
    is (a copy of the report on a document-sharing site, or a news report), with its site."""
    host = re.sub(r"^www\.", "", urlparse(url).netloc) if url else ""
    if kind == "report_copy":
        return f"copy of the HMICFRS report at {host}"
    if kind == "news":
        return f"news report at {host} (not HMICFRS)"
    return title or ("HMICFRS report" if kind == "hmicfrs_report" else "HMICFRS page")


def _row_source(row: pd.Series) -> str:
    return source_name(_text(row["source_kind"]), _text(row["source_title"]), _text(row["source_url"]))


def _year_source(row: pd.Series) -> str:
    """The name of the source of a row's year: its own (``year_source_*``), else the grade's."""
    url = _text(row["year_source_url"])
    if not url:
        return _row_source(row) if _text(row["source_kind"]) else ""
    return source_name(_text(row["year_source_kind"]), _text(row["year_source_title"]), url)


def _year_words(row: pd.Series) -> str:
    """How the year of a judgment is known, in words, naming its source where that is not the grade's."""
    basis = _text(row["year_basis"])
    if basis == "areas_assessed":
        done = "inspected in 2017" if row["year"] == 2017 else "not re-inspected in 2017, so the 2016 judgment stands"
        article = "a" if _text(row["year_source_kind"]) == "report_copy" else "the"
        return f"{done}, according to {article} {_year_source(row)}"
    words = YEAR_BASES.get(basis, "")
    return f"{words} ({_year_source(row)})" if words and _text(row["year_source_url"]) else words


def _plain_year(row: pd.Series) -> bool:
    """A plain 2017 or 2016 grade, dated by its own source: nothing to say about its year."""
    basis = _text(row["year_basis"])
    return not basis or (basis.startswith("inspection_") and not _text(row["year_source_url"]))


def _notes(row: pd.Series) -> list[str]:
    """The notes beside one grade. A dash: why, then what is known of the year and where that comes from.
    A grade: how its year is known (unless plainly a 2017 or 2016 grade from its own source), then the
    row's own notes."""
    own = [n.strip() for n in _text(row["note"]).split(" | ") if n.strip()]
    year = [] if _plain_year(row) or row["year_basis"] == "older_file" else [_year_words(row)]
    notes = (own or [NO_SOURCE])[:1] + year + own[1:] if pd.isna(row["grade"]) else year + own
    return [n.replace("; ", ", ") for n in notes]


def _standing(rows: pd.DataFrame, question: str, year: int | None = None) -> pd.Series | None:
    rows = rows[rows["question"] == question]
    if year is not None:
        rows = rows[rows["year"] == year]
    return None if rows.empty else rows.iloc[0]


def _labels() -> list[tuple[str, str, int | None]]:
    """(label, question, year) for the rows of a force's grades: overall 2017 and 2016, then each question."""
    return ([(OVERALL_LABELS[2017], "overall", 2017), (OVERALL_LABELS[2016], "overall", 2016)]
            + [(label, key, None) for key, label in QUESTIONS.items()])


def judgments_table(force: str) -> pd.DataFrame:
    """The Effectiveness overview table for ``force``: one row per question, strings only. ``Judged in``
    is the year of the judgment that stood after the 2017 inspection (2016 for a question not
    re-inspected); ``Source`` names HMICFRS's page or report, or says the source is a copy or a news
    report. A grade no source states is a dash, with the reason in ``Note``: never inferred."""
    rows = judgments(resolve(force).name)
    out = []
    for label, question, year in _labels():
        row = _standing(rows, question, year)
        if row is None:
            out.append({"Question": label, "Grade": DASH, "Judged in": DASH, "Source": DASH, "Note": NO_SOURCE})
            continue
        graded = pd.notna(row["grade"])
        out.append({"Question": label, "Grade": str(row["grade"]) if graded else DASH,
                    "Judged in": DASH if pd.isna(row["year"]) else str(int(row["year"])),
                    "Source": _row_source(row) if graded else DASH, "Note": "; ".join(_notes(row))})
    return pd.DataFrame(out).astype("string")


def overview_rows(force: str) -> list[dict]:
    """:func:`judgments_table` as a list of dicts (for ``peel_helpers.reports.notebook.table``)."""
    return judgments_table(force).to_dict("records")


def all_grades() -> pd.DataFrame:
    """Every force's grades as one tidy frame (for the national page): one row per force and question,
    43 x 7, in force order. ``question`` is ``overall`` (twice: ``year`` 2017 and 2016) or a key of
    :data:`QUESTIONS`; ``stands`` is True for the judgments that stood after the 2017 inspection (every
    row but the 2016 overall grade). ``grade`` is NA where no source states it; ``year`` is the year of
    the judgment (2016 for a question not re-inspected in 2017), NA where unknown; ``year_note`` says how
    the year is known unless it is a plain 2017 or 2016 grade, and ``year_certain`` is False where only a
    later page, a press release or an older gathering dates it. ``source`` is the URL of the grade's
    source, ``source_kind`` one of :data:`SOURCE_KINDS` and ``source_name`` the words the display uses
    (a copy of the report or a news report is named as one); ``note`` holds every note the force's
    table shows beside the grade, the reason for a missing grade among them."""
    frame = judgments()
    out = []
    for force in FORCE_NAMES:
        rows = frame[frame["force"] == force]
        for label, question, year in _labels():
            row = _standing(rows, question, year)
            rec = {"force": force, "question": question, "question_label": label, "stands": year != 2016,
                   "grade": pd.NA, "year": year if year is not None else pd.NA, "year_basis": pd.NA,
                   "year_note": pd.NA, "year_certain": pd.NA, "source": pd.NA, "source_kind": pd.NA,
                   "source_name": pd.NA, "quote": pd.NA, "note": NO_SOURCE}
            if row is not None:
                basis, graded = _text(row["year_basis"]), pd.notna(row["grade"])
                rec.update(grade=row["grade"], year=row["year"], year_basis=basis or pd.NA,
                           year_note=pd.NA if _plain_year(row) else _year_words(row),
                           year_certain=pd.NA if pd.isna(row["year"]) else basis not in SOFT_YEAR_BASES,
                           source=row["source_url"] if graded else pd.NA,
                           source_kind=row["source_kind"] if graded else pd.NA,
                           source_name=_row_source(row) if graded else pd.NA, quote=row["quote"] if graded else pd.NA,
                           note="; ".join(_notes(row)) or pd.NA)
            out.append(rec)
    tidy = pd.DataFrame(out)
    tidy["year"] = pd.to_numeric(tidy["year"]).astype("Int64")
    tidy["year_certain"] = tidy["year_certain"].astype("boolean")
    for col in tidy.columns.drop(["year", "stands", "year_certain"]):
        tidy[col] = tidy[col].astype("string")
    return tidy


def _quoted(text: str) -> str:
    return "\u201c" + re.sub(r"([\\`*_\[\]<>])", r"\\\1", text.strip()) + "\u201d"


def judgment_sources(force: str) -> str:
    """Markdown list of the sources behind ``force``'s grades and their years, each source once, with what
    it gives and the words quoted. A copy of the report or a news report is named as such."""
    items: dict[tuple[str, str], list[str]] = {}
    label = {q: lab for lab, q, _ in _labels()}
    for _, row in judgments(force).iterrows():
        what = OVERALL_LABELS[int(row["year"])] if row["question"] == "overall" else label[row["question"]]
        if pd.notna(row["grade"]):
            quote = f": {_quoted(str(row['quote']))}" if pd.notna(row["quote"]) else " (words not quoted)"
            key = (str(row["source_url"]), _row_source(row) + (" (address: HMICFRS's 2017 page for the force)"
                                                               if row["source_kind"] == "hmicfrs_report" else ""))
            items.setdefault(key, []).append(f"{what}, {row['grade']} ({int(row['year'])}){quote}")
        if _text(row["year_source_url"]):
            quote = f": {_quoted(str(row['year_quote']))}" if _text(row["year_quote"]) else " (words not quoted)"
            key = (str(row["year_source_url"]), _year_source(row))
            items.setdefault(key, []).append(f"{what}, judged in {int(row['year'])}{quote}")
    if not items:
        return "**Sources.** No published grade for this force is in `data/published/judgments.csv`."
    lines = []
    for (url, name), facts in items.items():
        if not name.startswith("HMIC"):
            name = name[:1].upper() + name[1:] + ", cited only because no HMICFRS page in the sources states this"
        lines.append(f"- {name}: <{url}>. " + "; ".join(facts) + ".")
    return "**Sources** (from `data/published/judgments.csv`):\n\n" + "\n".join(lines)


def overview_period_note(period) -> str:
    """How the judgments relate to the period a notebook was run for."""
    from ..core.periods import REPORT_PERIOD, Period

    period = Period.parse(period)
    if period == REPORT_PERIOD:
        return ("These are the judgments that stood after the 2017 effectiveness inspection, whose data cover the "
                f"{lower_first(REPORT_PERIOD.label)}. A question HMICFRS did not re-inspect in 2017 keeps its 2016 "
                "judgment, so the table gives the year each grade was judged.")
    return ("Judgments are made per inspection year, not per data period: the table shows the judgments that stood "
            f"after the 2017 effectiveness inspection whichever period is chosen ({lower_first(period.label)} here), "
            "with the year each grade was judged.")


def _grouped(items: list[tuple[str, str]]) -> str:
    """``"A; B (q1); C (q2)"`` from (label, qualifier) pairs: labels with the same qualifier together, each
    qualifier said once."""
    order = sorted(dict.fromkeys(q for _, q in items), key=bool)
    return "; ".join("; ".join(label for label, q in items if q == qual) + (f" ({qual})" if qual else "")
                     for qual in order)


def inspection_note(force: str) -> str:
    """Which questions HMICFRS re-inspected in 2017 for ``force``, which kept their 2016 judgment, which
    are dated less surely, and which are not known, as far as the sources say. A year that rests on a
    copy of the report says so."""
    name = resolve(force).name
    rows = judgments(name)
    groups: dict[str, list[tuple[str, str]]] = {"2017": [], "2016": [], "soft": [], "unknown": []}
    for key, label in QUESTIONS.items():
        row = _standing(rows, key)
        if row is None or pd.isna(row["year"]):
            groups["unknown"].append((label, ""))
            continue
        basis, year = _text(row["year_basis"]), int(row["year"])
        if basis in SOFT_YEAR_BASES:
            groups["soft"].append((f"{label}, {year}", SOFT_YEAR_BASES[basis]))
            continue
        copy = (_text(row["year_source_kind"]) or _text(row["source_kind"])) == "report_copy"
        groups[str(year)].append((label, f"according to a {_year_source(row)}" if copy else ""))
    if not any(groups[g] for g in ("2017", "2016", "soft")):
        return (f"The project's sources do not say which questions HMICFRS re-inspected in {name} in 2017. "
                "Under the 2017 risk-based approach, questions not re-inspected keep their 2016 judgment.")
    texts = {"2017": f"In 2017 HMICFRS inspected {name} on: ",
             "2016": "Not re-inspected in 2017, so the 2016 judgment stands: ",
             "soft": "Year less certain: ", "unknown": "Not known from the sources: "}
    return " ".join(texts[g] + _grouped(groups[g]) + "." for g in texts if groups[g])


# --------------------------------------------------------------------------- assumptions log

@dataclass(frozen=True)
class Assumption:
    """An item of ``data/ASSUMPTIONS.md``. Which sections it applies to is declared once, in
    ``notebooks/sections.toml`` (:mod:`peel_helpers.core.sections`)."""

    id: str
    title: str
    rag: str


_HEADING = re.compile(r"^###\s+(?P<id>A-[A-Z0-9-]+)\s*[·:\-–]\s*(?P<title>.+?)\s*$")
_RAG = re.compile(r"^\s*[-*]?\s*\*\*RAG\*\*\s*:\s*(?P<rag>Red|Amber|Green)\b", re.I)


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
            current = {"id": m["id"], "title": m["title"], "rag": ""}
            continue
        if current is not None and (m := _RAG.match(line)):
            current["rag"] = m["rag"].capitalize()
    if current:
        items.append(Assumption(**current))
    return tuple(items)


def clear_caches() -> None:
    for fn in (_report_values, _judgments, assumptions):
        fn.cache_clear()


__all__ = [
    "report_values", "published_value", "judgments", "judgments_table", "overview_rows", "all_grades",
    "judgment_sources", "inspection_note", "source_name", "assumptions", "Assumption", "QUESTIONS",
    "FORCE_NAMES",
]
