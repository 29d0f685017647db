"""Regenerate ``judgments.csv`` from the shared HMICFRS grade files (standard library only).

    python data/published/build_judgments.py HMICFRS_DIR REPORT_TEXT > data/published/judgments.csv

``HMICFRS_DIR`` is the folder holding the shared grade files (``shared/data/hmicfrs`` beside the
project) and ``REPORT_TEXT`` the text of the Cambridgeshire 2017 report (``shared/reference``).
The layout and every rule are described in ``data/published/README.md``. In short, for each force:

* the overall effectiveness grade of 2017 and of 2016, and for each question the grade that stood
  after the 2017 inspection, with the year that judgment was made (a question not re-inspected in
  2017 keeps its 2016 grade, marked 2016);
* every grade from HMICFRS's own pages, with the words quoted, wherever the shared files hold one;
  the older files' news and document-copy sources only where no HMICFRS page states that grade;
* a grade no source states stays empty, with the reason in ``note``.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

COLUMNS = ["force", "question", "year", "grade", "source_kind", "source_title", "source_url", "quote",
           "year_basis", "year_source_kind", "year_source_title", "year_source_url", "year_quote", "note"]
# question key, field in the evidence file, column in the question files, label in the report
QUESTIONS = (
    ("preventing", "q1", "preventing_crime_asb", "Preventing crime and tackling anti-social behaviour"),
    ("investigating", "q2", "investigating_crime", "Investigating crime and reducing re-offending"),
    ("protecting", "q3", "protecting_vulnerable", "Protecting vulnerable people"),
    ("serious_organised_crime", "q4", "serious_organised_crime", "Tackling serious and organised crime"),
)
SPECIALIST = ("specialist_capabilities", "Specialist capabilities")
COPY_HOSTS = ("docslib.org", "fdocuments", "vdocuments", "pdfslide")
REPORT_FORCE = "Cambridgeshire"
REPORT_TITLE = "HMICFRS report PEEL: Police effectiveness 2017, Cambridgeshire, judgments table"
# what each kind of evidence row is (the evidence file's ``kind`` column)
TITLES = {
    "hmicfrs_landing2017": "HMICFRS, PEEL 2017 page for the force",
    "hmicfrs_landing2017_hmi": "HMICFRS, PEEL 2017 page for the force (HMI's observations)",
    "hmicfrs_eff2017": "HMICFRS, PEEL 2017 effectiveness page",
    "hmicfrs_eff2017_summary": "HMICFRS, PEEL 2017 effectiveness page (summary)",
    "hmicfrs_eff2018_backref": "HMICFRS, PEEL 2018/19 effectiveness page",
    "hmicfrs_press2017": "HMICFRS, PEEL effectiveness 2017 force press releases",
    "hmicfrs_pub": "HMICFRS publication",
    "hmic_landing2016": "HMIC (now HMICFRS), PEEL 2016 page for the force",
    "hmic_landing2016_hmi": "HMIC (now HMICFRS), PEEL 2016 page for the force (HMI's observations)",
    "hmic_eff2016": "HMIC (now HMICFRS), PEEL 2016 effectiveness page",
    "hmic_eff2016_summary": "HMIC (now HMICFRS), PEEL 2016 effectiveness page (summary)",
    "hmic_press2016": "HMIC (now HMICFRS), PEEL effectiveness 2016 force press releases",
}
NOT_INSPECTED, CARRY_2016 = "NOT_INSPECTED_2017", "CARRY_FROM_2016"
NO_GRADE = "no source in the project's files states this grade"
NO_OFFICIAL = "no HMICFRS page in the project's files states this grade"
STANDS_2016 = "the 2016 grade stands, but no HMICFRS page in the project's files states it"
# Question grades that only the older file grades_2017_peel.csv records, in its note column:
# (force, question) -> (grade, year, the words of that note). The script checks the words are there.
OLDER_NOTES = {
    ("Merseyside", "protecting"): ("Good", "2017", "2017: protecting Good"),
    ("Northumbria", "investigating"): ("Good", "2017", "investigating=Good"),
    ("Northumbria", "protecting"): ("Requires improvement", "2017", "protecting vulnerable=Requires improvement"),
    ("Northumbria", "preventing"): ("Good", "2016", "preventing & SOC Good carried from earlier inspection"),
    ("Northumbria", "serious_organised_crime"): ("Good", "2016",
                                                 "preventing & SOC Good carried from earlier inspection"),
}


def source_kind(url: str) -> str:
    host = urlparse(url).netloc.lower()
    if host.endswith("justiceinspectorates.gov.uk"):
        return "hmicfrs_page"
    if any(h in host for h in COPY_HOSTS):
        return "report_copy"
    return "news"


def page_title(url: str) -> str:
    """A title for an HMICFRS page no evidence row describes (from its address)."""
    path = urlparse(url).path
    year = re.search(r"/peel-(\d{4})/", path)
    if not year:
        return "HMICFRS page"
    what = "effectiveness page" if "/effectiveness" in path else "page for the force"
    body = "HMICFRS" if year[1] >= "2017" else "HMIC (now HMICFRS)"
    return f"{body}, PEEL {year[1]}{'/19' if year[1] == '2018' else ''} {what}"


def grade_text(value: str) -> str:
    value = value.strip()
    return value[:1].upper() + value[1:].lower() if value else ""


def read_csv(path: Path, delimiter: str = ",") -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


# --------------------------------------------------------------------------- areas assessed in 2017

_AREA_WORDS = (("preventing", "preventing"), ("investigating", "investigating"), ("protecting", "protecting"),
               ("vulnerable", "protecting"), ("soc", "serious_organised_crime"),
               ("organised", "serious_organised_crime"), ("specialist", "specialist_capabilities"))


def _named(text: str) -> list[str]:
    words = re.findall(r"[a-z]+", text.lower())
    return list(dict.fromkeys(q for w, q in _AREA_WORDS if w in words))


def areas(text: str, complete: bool) -> dict[str, str]:
    """Which questions a list of areas says were (``yes``) or were not (``no``) inspected in 2017.
    Items saying "not inspected" name questions that were not; the others name questions that were.
    When ``complete``, a question the list does not name was not inspected either."""
    out: dict[str, str] = {}
    for item in re.split(r";|\(|\)", text):
        if "further sections not visible" in item.lower():
            continue
        if "not inspected" in item.lower():
            out.update({q: "no" for q in _named(item.lower().split("not inspected")[0])})
        else:
            out.update({q: "yes" for q in _named(item) if q not in out})
    if complete:
        for q in [k for k, *_ in QUESTIONS] + [SPECIALIST[0]]:
            out.setdefault(q, "no")
    return out


# --------------------------------------------------------------------------- the report's table

def report_table(text: str) -> dict[str, tuple[str, str, str]]:
    """Question key -> (grade, year last inspected, the table row) from the report's judgments table."""
    block = text.split("Judgments", 1)[1].split("Summary", 1)[0]
    flat = re.sub(r"-\s+", "-", re.sub(r"\s+", " ", block))
    out = {}
    for key, label in [(k, lab) for k, _, _, lab in QUESTIONS] + [SPECIALIST]:
        m = re.search(re.escape(label) + r" (Outstanding|Good|Requires improvement|Inadequate|Ungraded) (\d{4})", flat)
        if not m:
            raise SystemExit(f"the report's judgments table has no row for {label!r}")
        out[key] = (m[1], m[2], f"{label} | {m[1]} | last inspected {m[2]}")
    overall = re.search(r"Overall effectiveness 2017 (Outstanding|Good|Requires improvement|Inadequate)", flat)
    out["overall"] = (overall[1], "2017", f"Overall effectiveness 2017 | {overall[1]}")
    return out


# --------------------------------------------------------------------------- building the rows

class Sources:
    def __init__(self, folder: Path, report: Path):
        self.q17 = {r["force"]: r for r in read_csv(folder / "grades_2017_effectiveness_questions.csv")}
        self.q16 = {r["force"]: r for r in read_csv(folder / "grades_2016_effectiveness_questions.csv")}
        self.peel17 = {r["force"]: r for r in read_csv(folder / "grades_2017_peel.csv")}
        self.news16 = {r["force"]: r for r in read_csv(folder / "grades_2016_effectiveness.csv")}
        self.evidence = read_csv(folder / "grades_questions_evidence.tsv", "\t")
        self.assessed = {r["force"]: r for r in read_csv(folder / "areas_assessed_2017.csv")}
        self.report = report_table(report.read_text(encoding="utf-8"))
        self.forces = list(self.q17)

    def ev(self, force: str, year: str, field: str, grade: str | None = None) -> list[dict]:
        return [e for e in self.evidence if e["force"] == force and e["year"] == year and e["field"] == field
                and (grade is None or e["grade"].lower() == grade.lower())]

    def inspected(self, force: str, question: str) -> tuple[str, str, str] | None:
        """(yes/no, url, what the source records) on whether ``question`` was inspected in 2017: "no" from
        the older file's note on an HMICFRS page, else what the areas-assessed file says, else None."""
        peel = self.peel17.get(force, {})
        note = peel.get("note", "")
        if source_kind(peel.get("source_url", "")) == "hmicfrs_page" and "not inspected" in note:
            if areas(note.split("2017:", 1)[-1], False).get(question) == "no":
                return "no", peel["source_url"], f"grades_2017_peel.csv records this page as '{note}' (words not quoted)"
        listed = self.assessed.get(force)
        if not listed:
            return None
        complete = "risk-based inspection' section" in listed["evidence_type"].lower()
        said = areas(listed["areas_assessed_2017"] + ";" + listed["evidence_type"], complete)
        if question not in said:
            return None
        extra = f", {listed['note']}" if listed["note"] else ""
        return said[question], listed["source_url"], f"areas assessed in 2017 read from: {listed['evidence_type']}{extra}"


def row(force, question, year, **kw) -> dict:
    out = dict.fromkeys(COLUMNS, "")
    out.update(force=force, question=question, year=year, **kw)
    return out


def from_evidence(e: dict) -> dict:
    return {"source_kind": source_kind(e["url"]), "source_title": TITLES.get(e["kind"], page_title(e["url"])),
            "source_url": e["url"], "quote": e["quote"]}


def overall_2017(s: Sources, force: str) -> dict:
    grade = s.q17[force]["overall_2017"]
    if grade:
        return row(force, "overall", "2017", grade=grade_text(grade), year_basis="inspection_2017",
                   **from_evidence(s.ev(force, "2017", "overall", grade)[0]))
    peel = s.peel17[force]
    if peel["effectiveness"]:
        url = peel["source_url"]
        note = ("grades_2017_peel.csv records this grade from this page (words not quoted)"
                if source_kind(url) == "hmicfrs_page" else NO_OFFICIAL)
        return row(force, "overall", "2017", grade=peel["effectiveness"], source_kind=source_kind(url),
                   source_title=page_title(url) if source_kind(url) == "hmicfrs_page" else "",
                   source_url=url, year_basis="inspection_2017", note=note)
    why = f"{NO_GRADE} | grades_2017_peel.csv notes: '{peel['note']}'" if peel["note"] else NO_GRADE
    return row(force, "overall", "2017", note=why)


def overall_2016(s: Sources, force: str) -> dict:
    grade, news = s.q16[force]["overall_2016"], s.news16[force]
    if grade:
        out = row(force, "overall", "2016", grade=grade_text(grade), year_basis="inspection_2016",
                  **from_evidence(s.ev(force, "2016", "overall", grade)[0]))
        if news["overall_grade"].lower() != grade.lower():
            out["note"] = (f"a news list gives {news['overall_grade']}, the HMICFRS page {grade_text(grade)}: "
                           "the page is followed")
        return out
    return row(force, "overall", "2016", grade=news["overall_grade"], source_kind=source_kind(news["source_url"]),
               source_url=news["source_url"], year_basis="inspection_2016",
               note=NO_OFFICIAL + (f" | the news file notes: '{news['note']}'" if news["note"] else ""))


def _year_from(e: dict) -> dict:
    return {"year_source_kind": source_kind(e["url"]), "year_source_title": TITLES.get(e["kind"], page_title(e["url"])),
            "year_source_url": e["url"], "year_quote": e["quote"]}


def _year_from_url(url: str) -> dict:
    kind = source_kind(url)
    return {"year_source_kind": kind, "year_source_title": page_title(url) if kind == "hmicfrs_page" else "",
            "year_source_url": url}


def _basis_2017(e: dict) -> str:
    if e["kind"] == "hmicfrs_press2017":
        return "press_release_2017"
    if e["kind"] == "hmicfrs_eff2018_backref":
        return "carried_from_2017" if "carried over" in e["quote"] else "later_page_says_2017"
    return "inspection_2017"


def question_graded(s: Sources, force: str, key: str, field: str, grade: str) -> dict:
    """A question whose grade the 2017 question file states (an HMICFRS page, words quoted)."""
    ni = s.ev(force, "2017", field, NOT_INSPECTED)
    carry = s.ev(force, "2017", field + "_carry")
    e17, e16 = s.ev(force, "2017", field, grade), s.ev(force, "2016", field, grade)
    notes = []
    if ni:
        source, year, basis, year_ev = (e16 or e17)[0], "2016", "not_reinspected_2017", ni[0]
        if e17:
            notes.append("the grade's source, a 2018/19 page, says 'In 2017, we judged', but the 2017 page says this "
                         "question was not inspected in 2017")
    elif carry and ("2016" in carry[0]["grade"] or carry[0]["grade"] == CARRY_2016):
        source, year, basis, year_ev = (e16 or carry)[0], "2016", "carried_from_2016", carry[0]
    elif carry:
        source, year, basis, year_ev = carry[0], "2017", "carried_from_2017", carry[0]
    else:
        source, year, basis, year_ev = e17[0], "2017", _basis_2017(e17[0]), e17[0]
    marked_2016 = re.search(rf"\b{field.upper()}\(2016\)", s.q17[force]["quote"]) is not None
    if marked_2016 and year != "2016":
        raise SystemExit(f"{force} {key}: the question file quotes a 2016 page but no row says the 2016 grade stands")
    said = s.inspected(force, key)
    if said and said[0] != ("yes" if year == "2017" else "no"):
        notes.append(f"the source at {said[1]} records the question as {'' if said[0] == 'yes' else 'not '}"
                     f"inspected in 2017")
    elif said and basis == "later_page_says_2017" and source_kind(said[1]) == "report_copy":
        notes.append(f"a copy of the 2017 report ({urlparse(said[1]).netloc}) lists this question among the areas "
                     "assessed in 2017")
    out = row(force, key, year, grade=grade_text(grade), year_basis=basis, note=" | ".join(notes),
              **from_evidence(source))
    if (year_ev["url"], year_ev["quote"]) != (source["url"], source["quote"]):
        out.update(_year_from(year_ev))
    return out


def question_ungraded(s: Sources, force: str, key: str, field: str | None, column: str | None) -> dict | None:
    """A question the 2017 question file has no grade for: a carried 2016 grade, an older file's grade,
    or only the year of the judgment that stands (the grade empty, with the reason), or nothing."""
    ni = s.ev(force, "2017", field, NOT_INSPECTED) if field else []
    carry = [e for e in s.ev(force, "2017", f"{field}_carry") if e["grade"] == CARRY_2016] if field else []
    if (force, key) in OLDER_NOTES:
        grade, year, words = OLDER_NOTES[(force, key)]
        peel = s.peel17[force]
        if words not in peel["note"]:
            raise SystemExit(f"{force} {key}: grades_2017_peel.csv no longer says {words!r}")
        kind = source_kind(peel["source_url"])
        return row(force, key, year, grade=grade, source_kind=kind, source_url=peel["source_url"],
                   source_title=page_title(peel["source_url"]) if kind == "hmicfrs_page" else "",
                   year_basis="older_file",
                   note=f"grades_2017_peel.csv records this source as '{words}' (words not quoted)"
                   + ("" if kind == "hmicfrs_page" else f" | {NO_OFFICIAL}"))
    if ni or carry:
        e = (ni or carry)[0]
        return row(force, key, "2016", year_basis="not_reinspected_2017" if ni else "carried_from_2016",
                   note=STANDS_2016, **_year_from(e))
    said = s.inspected(force, key)
    if said is None:
        return None
    answer, url, record = said
    grade16 = s.q16[force][column] if column else ""
    year_part = {**_year_from_url(url), "year_basis": "areas_assessed"}
    if answer == "no" and grade16:
        e16 = s.ev(force, "2016", field, grade16)[0]
        return row(force, key, "2016", grade=grade_text(grade16), note=record,
                   **from_evidence(e16), **{**year_part, "year_basis": "not_reinspected_2017"})
    if answer == "no":
        return row(force, key, "2016", note=f"{NO_GRADE.replace('this grade', 'the 2016 grade')} | {record}",
                   **year_part)
    return row(force, key, "2017", note=f"{NO_GRADE} | {record}", **year_part)


def build(s: Sources) -> list[dict]:
    rows = []
    for force in s.forces:
        rows += [overall_2017(s, force), overall_2016(s, force)]
        for key, field, column, label in QUESTIONS + ((SPECIALIST[0], None, None, SPECIALIST[1]),):
            if force == REPORT_FORCE:
                rows.append(from_report(s, force, key, field, column))
            elif column and s.q17[force][column]:
                rows.append(question_graded(s, force, key, field, s.q17[force][column]))
            elif (r := question_ungraded(s, force, key, field, column)) is not None:
                rows.append(r)
    return rows


def from_report(s: Sources, force: str, key: str, field: str | None, column: str | None) -> dict:
    """The report's own judgments table (Cambridgeshire): grade and year last inspected."""
    grade, year, words = s.report[key]
    page = s.peel17[force]["source_url"]
    notes = []
    if column and s.q17[force][column]:
        if s.q17[force][column].lower() != grade.lower():
            raise SystemExit(f"{force} {key}: the report says {grade}, the question file {s.q17[force][column]}")
        e = s.ev(force, "2017", field, grade)
        if e and year == "2016":
            notes.append(f"a 2018/19 HMICFRS page says 'In 2017, we judged' this grade ({e[0]['url']}), but the 2017 "
                         "report's table says the question was last inspected in 2016")
    basis = "inspection_2017" if year == "2017" else "not_reinspected_2017"
    return row(force, key, year, grade=grade, source_kind="hmicfrs_report", source_title=REPORT_TITLE,
               source_url=page, quote=words, year_basis=basis, note=" | ".join(notes))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    rows = build(Sources(Path(argv[0]), Path(argv[1])))
    writer = csv.DictWriter(sys.stdout, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
