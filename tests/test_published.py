"""Published facts: the report's numbers, judgments, and the assumptions log.

The count test re-reads the report text (``../shared/reference`` beside the project; gated like the
real data: skipped when absent, a failure under CI) and checks that every number in it is a row of ``data/published/report_values.csv``, so
none is silently dropped, and that the table holds no number the text does not print.

The grades tests read the shared HMICFRS grade files (``../shared/data/hmicfrs``, gated the same way)
with the csv module and check every grade, year and source of ``data/published/judgments.csv`` against
the row it comes from.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pandas as pd
import pytest

from conftest import _require_real_data
from peel_helpers.data import published
from peel_helpers.core.forces import FORCE_NAMES
from peel_helpers.core.paths import ASSUMPTIONS_PATH, NOTEBOOKS_DIR, REPO_DATA_DIR

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}

# Phrases whose number is not a published value: counts of items named right beside them, idioms,
# and units ("per one million").
NOT_VALUES = [
    r"\bone of the ways\b", r"\bin one place\b", r"\bmore than one arrest\b", r"\bhas two functions\b",
    r"\bsix national threats\b", r"\bthe six national threats\b", r"\bthe three forces\b",
    r"\bthese three pilot forces\b", r"\bthe two force areas\b", r"\binto two separate force areas\b",
    r"\b(?:per|every) (?:one |1 )?(?:million|100)\b", r"\bFigure \d\b", r"\bsections? \d+(?: and \d+)?\b",
    r"\b12 months\b",
]
# Facts the text states more than once (value: mentions); the table holds each once.
REPEATED = {1.0: 4, 43.0: 5}
# One mention in the text that is one row per force in the table.
MULTI_ROW = {90.0: 3}


def text_numbers(text: str) -> Counter:
    """Every number the report text prints as a value (see the module docstring for what is not)."""
    lines = []
    for line in text.splitlines():
        tokens = [t for t in line.split() if not re.search(r"/|www\.|https?:", t)]
        line = " ".join(tokens)
        # a footnote's body starts with its number (footnotes 1-23)
        m = re.match(rf"^(\d{{1,2}}) (?!(?:{MONTHS})\b)(?=\S)", line)
        if m and int(m.group(1)) <= 23:
            line = line[m.end():]
        lines.append(line)
    s = " ".join(" ".join(lines).split())
    s = re.sub(rf"\b\d{{1,2}} (?={MONTHS}\b)", " ", s)                   # day of a date
    s = re.sub(r"\b(20\d\d)\.(\d{1,2})\b", r"\1", s)                     # year + footnote: 2016.11
    s = re.sub(r"\b(20\d\d)(\d{1,2}(?:,\d{1,2})*)\b", r"\1", s)          # year + footnote: 20175,6
    s = re.sub(r"\b(\d{1,3},\d{3})(\d{1,2})\b", r"\1", s)                # count + footnote: 2,70022
    s = re.sub(r"(?<=[A-Za-z\)’'])\.?\d{1,2}(?:,\d{1,2})*(?=[\s,.;:)]|$)", "", s)  # footnote markers
    s = re.sub(r"\bmid-(?=20\d\d)", "", s)
    s = re.sub(r"\b(?:19|20)\d\d(?:-\d\d)?\b", " ", s)                  # years and year ranges
    for pattern in NOT_VALUES:
        s = re.sub(pattern, " ", s, flags=re.I)
    found: Counter = Counter()
    for m in re.finditer(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", s):
        found[float(m.group(0).replace(",", ""))] += 1
    for m in re.finditer(r"\b(" + "|".join(WORDS) + r")\b", s, flags=re.I):
        found[float(WORDS[m.group(1).lower()])] += 1
    return found


# --------------------------------------------------------------------------- report values

def test_report_values_table_shape():
    rv = published.report_values()
    assert list(rv.columns) == published.REPORT_VALUE_COLUMNS
    assert rv["id"].is_unique
    assert rv["value"].dtype == "Float64" and rv["value"].notna().all()
    assert set(rv["force"]) <= set(FORCE_NAMES) | {"England and Wales"}
    assert set(rv["kind"]) <= set(published.KINDS)
    assert (rv["report_period_end"] == pd.Timestamp("2017-06-30")).all()
    assert rv["section"].notna().all() and rv["report"].notna().all() and rv["report_url"].str.startswith("https://").all()
    assert rv["measure"].str.fullmatch(r"[a-z0-9_]+").all()
    vocab = {"hmicfrs_data_return", "inspection_fieldwork", "force_data", "not_published_as_data", "definition"}
    from peel_helpers.data import manifest

    vocab |= set(manifest.load_manifest())
    for entry in rv["reproducible_from"]:
        assert set(entry.split("+")) <= vocab, entry


@pytest.mark.parametrize("force,measure,value", [
    ("Cambridgeshire", "outcome_charge_summons_pct", 10.5),
    ("Cambridgeshire", "outcome_not_yet_assigned_pct", 3.2),
    ("Cambridgeshire", "da_arrests_per_100", 52.8),
    ("England and Wales", "da_arrests_per_100", 45.5),
    ("Cambridgeshire", "eaw_executed", 64),
    ("Cambridgeshire", "eaw_per_million", 75.4),
    ("England and Wales", "eaw_per_million", 21.8),
    ("Cambridgeshire", "nfib_fraud_referrals", 578),
    ("Cambridgeshire", "crime_investigated_by_telephone_pct", 45),
    ("Cambridgeshire", "files_reviewed", 60),
    ("England and Wales", "files_reviewed_total", 2700),
    ("Metropolitan Police", "files_reviewed", 90),
    ("Cambridgeshire", "files_with_problems", 12),
    ("Cambridgeshire", "files_with_serious_concerns", 2),
    ("Cambridgeshire", "detective_shortfall", 45),
    ("Cambridgeshire", "prompt_da_attendance_hours_peterborough", 15),
    ("Cambridgeshire", "investigations_reallocated", 100),
    ("England and Wales", "staff_survey_responses_min", 16),
    ("England and Wales", "staff_survey_responses_max", 1678),
    ("England and Wales", "public_survey_sample_min", 300),
    ("England and Wales", "public_survey_sample_max", 321),
    ("City of London", "ocg_recorded", 46),
    ("City of London", "ocg_in_force_area", 6),
    ("City of London", "ocg_nfib_remit", 40),
])
def test_named_values_present(force, measure, value):
    assert published.published_value(measure, force) == pytest.approx(value)


def test_text_number_extraction_on_a_small_sample():
    sample = ("In the 12 months to 30 June 20175,6 the force executed 64 warrants, 75.4 per one million "
              "population.4\n22 60 case files were reviewed; 2,70022 in all; two of these; since 2015.")
    assert text_numbers(sample) == Counter({64.0: 1, 75.4: 1, 60.0: 1, 2700.0: 1, 2.0: 1})


@pytest.mark.realdata
def test_every_number_in_the_report_text_is_in_the_table(shared_reference):
    found = text_numbers(shared_reference.read_text(encoding="utf-8"))
    for value, mentions in REPEATED.items():
        assert found[value] == mentions, f"{value:g} is mentioned {found[value]} times, expected {mentions}"
        found[value] = 1
    for value, rows in MULTI_ROW.items():
        assert found[value] == 1
        found[value] = rows
    table = Counter(float(v) for v in published.report_values()["value"])
    missing = found - table
    extra = table - found
    assert not missing, f"numbers in the report text but not in report_values.csv: {dict(missing)}"
    assert not extra, f"numbers in report_values.csv that the text does not print: {dict(extra)}"
    assert sum(table.values()) == len(published.report_values()) == 37


# --------------------------------------------------------------------------- judgments

def _table(force: str) -> pd.DataFrame:
    return published.judgments_table(force).set_index("Question")


def test_cambridgeshire_judgments_match_the_report():
    table = _table("Cambridgeshire")
    expected = {
        "Overall effectiveness 2017": ("Requires improvement", "2017"),
        "Preventing crime and tackling anti-social behaviour": ("Good", "2016"),
        "Investigating crime and reducing re-offending": ("Requires improvement", "2017"),
        "Protecting vulnerable people": ("Requires improvement", "2017"),
        "Tackling serious and organised crime": ("Good", "2016"),
        "Specialist capabilities": ("Ungraded", "2017"),
    }
    for question, (grade, year) in expected.items():
        assert table.loc[question, "Grade"] == grade
        assert table.loc[question, "Judged in"] == year
    assert table.loc["Investigating crime and reducing re-offending", "Source"].startswith("HMICFRS report")


def test_judgments_rows_are_sourced_and_valid():
    j = published.judgments()
    assert list(j.columns) == published.JUDGMENT_COLUMNS
    assert set(j["force"]) == set(FORCE_NAMES)
    assert set(j["question"]) <= {"overall", *published.QUESTIONS}
    assert set(j["grade"].dropna()) <= set(published.GRADES)
    assert set(j["year"].dropna()) <= {2016, 2017}
    graded = j[j["grade"].notna()]
    assert graded["source_url"].str.match(r"https?://").all()
    assert set(graded["source_kind"]) <= set(published.SOURCE_KINDS)
    assert graded["year"].notna().all() and graded["year_basis"].isin(list(published.YEAR_BASES)).all()
    assert j.loc[j["grade"].isna(), "note"].notna().all(), "an empty grade must say why"
    assert j[j["source_kind"].isna()]["grade"].isna().all()
    overall = j[j["question"] == "overall"]
    for year in (2016, 2017):
        assert sorted(overall[overall["year"] == year]["force"]) == sorted(FORCE_NAMES)
    assert not overall.duplicated(["force", "year"]).any()
    assert not j[j["question"] != "overall"].duplicated(["force", "question"]).any()
    assert j["quote"].dropna().str.len().max() < 400, "quotes, not copies of pages"


def test_derbyshire_2017_effectiveness_stays_absent_and_says_why():
    j = published.judgments("Derbyshire")
    assert j[(j["question"] == "overall") & (j["year"] == 2017)]["grade"].isna().all()
    table = _table("Derbyshire")
    assert table.loc["Overall effectiveness 2017", "Grade"] == published.DASH
    assert "no source" in table.loc["Overall effectiveness 2017", "Note"]
    assert table.loc["Overall effectiveness 2016", "Grade"] == "Good"


@pytest.mark.parametrize("force", FORCE_NAMES)
def test_overview_shows_each_question_its_own_row_and_nothing_else(force):
    table = published.judgments_table(force)
    assert len(table) == 7 and table["Note"].notna().all()
    j = published.judgments(force)
    for rec in table.to_dict("records"):
        label = rec["Question"]
        if label.startswith("Overall effectiveness"):
            rows = j[(j["question"] == "overall") & (j["year"] == int(label[-4:]))]
        else:
            rows = j[j["question"] == {v: k for k, v in published.QUESTIONS.items()}[label]]
        grade = rows["grade"].dropna().tolist()
        assert rec["Grade"] == (grade[0] if grade else published.DASH), label
        year = rows["year"].dropna().tolist()
        assert rec["Judged in"] == (str(year[0]) if year else published.DASH), label
        if rec["Grade"] == published.DASH:
            assert rec["Source"] == published.DASH and rec["Note"], label
    assert published.inspection_note(force)
    assert published.judgment_sources(force).startswith("**Sources")


def test_a_year_that_only_a_later_page_gives_is_marked_less_certain():
    kent = _table("Kent")
    assert kent.loc["Preventing crime and tackling anti-social behaviour", "Judged in"] == "2016"
    assert "not re-inspected in 2017" in kent.loc["Preventing crime and tackling anti-social behaviour", "Note"]
    soc = kent.loc["Tackling serious and organised crime"]
    assert (soc["Grade"], soc["Judged in"]) == ("Good", "2017") and "may be a 2016 judgment" in soc["Note"]
    note = published.inspection_note("Kent")
    assert "Not re-inspected in 2017, so the 2016 judgment stands: Preventing" in note
    assert "Year less certain: Tackling serious and organised crime, 2017" in note


def test_copies_and_news_are_named_as_such_where_the_reader_sees_them():
    gm = _table("Greater Manchester")
    assert "copy of the HMICFRS report at docslib.org" in gm.loc["Tackling serious and organised crime", "Note"]
    assert "according to a copy of the HMICFRS report at docslib.org" in published.inspection_note("West Mercia")
    sources = published.judgment_sources("Greater Manchester")
    assert "- Copy of the HMICFRS report at docslib.org, cited only because no HMICFRS page" in sources
    north = _table("Northumbria")
    assert north.loc["Protecting vulnerable people", "Source"] == "news report at hartlepoolmail.co.uk (not HMICFRS)"
    assert "News report at hartlepoolmail.co.uk (not HMICFRS), cited only" in published.judgment_sources("Northumbria")


def test_all_grades_is_one_tidy_row_per_force_and_question():
    tidy = published.all_grades()
    assert len(tidy) == 43 * 7
    for col in ("force", "question", "grade", "year", "source", "source_kind", "quote"):
        assert col in tidy.columns
    assert not tidy.duplicated(["force", "question", "year"]).any()
    assert tidy.loc[~tidy["stands"], "question"].eq("overall").all() and (~tidy["stands"]).sum() == 43
    j = published.judgments()
    merged = tidy.dropna(subset=["grade"]).merge(j, left_on=["force", "question", "year"],
                                                 right_on=["force", "question", "year"], suffixes=("", "_csv"))
    assert len(merged) == j["grade"].notna().sum()
    assert (merged["grade"] == merged["grade_csv"]).all() and (merged["source"] == merged["source_url"]).all()
    kent = tidy[(tidy["force"] == "Kent")].set_index("question")
    assert kent.loc["preventing", "year"] == 2016 and bool(kent.loc["preventing", "year_certain"])
    assert not bool(kent.loc["serious_organised_crime", "year_certain"])
    assert tidy.loc[tidy["grade"].isna(), "note"].notna().all()
    news = tidy[tidy["source_kind"] == "news"]
    assert len(news) and news["source_name"].str.startswith("news report at").all()


# --------------------------------------------------------------------------- judgments against the shared files
# Oracles: the shared HMICFRS files beside the project, read here with the csv module (never through
# the package or the script that built judgments.csv), checked against judgments.csv read the same way.

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
HMICFRS_DIR = SHARED / "data" / "hmicfrs"
REPORT_TEXT = SHARED / "reference" / "peel-effectiveness-2017-cambridgeshire.txt"
COPY_SITES = ("docslib.org", "fdocuments", "vdocuments", "pdfslide")
OFFICIAL = ("hmicfrs_page", "hmicfrs_report")
# judgments.csv question -> (evidence-file field, question-file column, word the areas lists use)
SHARED_QUESTIONS = {"preventing": ("q1", "preventing_crime_asb", "Preventing"),
                    "investigating": ("q2", "investigating_crime", "Investigating"),
                    "protecting": ("q3", "protecting_vulnerable", "Protecting"),
                    "serious_organised_crime": ("q4", "serious_organised_crime", "SOC")}


def _csv(path: Path, delimiter: str = ",") -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


@pytest.fixture(scope="module")
def shared():
    """The shared grade files and report text; skipped when absent, a failure under CI."""
    if not (HMICFRS_DIR / "grades_questions_evidence.tsv").is_file() or not REPORT_TEXT.is_file():
        msg = "the shared HMICFRS grade files are not at ../shared/data/hmicfrs (and the report text at ../shared/reference)"
        if _require_real_data():
            pytest.fail(msg + " - CI/PEEL_REQUIRE_REAL_DATA is set, so this is a failure, not a skip")
        pytest.skip(msg)
    by_force = lambda name: {r["force"]: r for r in _csv(HMICFRS_DIR / name)}  # noqa: E731
    text = re.sub(r"-\s+", "-", re.sub(r"\s+", " ", REPORT_TEXT.read_text(encoding="utf-8")))
    table = text.split(" Judgments ", 1)[1].split(" Summary ", 1)[0]
    report = {q: re.search(re.escape(label) + r" ([A-Z][a-z]+(?: improvement)?) (\d{4})", table).groups()
              for q, label in published.QUESTIONS.items()}
    return SimpleNamespace(q17=by_force("grades_2017_effectiveness_questions.csv"),
                           q16=by_force("grades_2016_effectiveness_questions.csv"),
                           peel17=by_force("grades_2017_peel.csv"), news16=by_force("grades_2016_effectiveness.csv"),
                           areas=by_force("areas_assessed_2017.csv"),
                           evidence=_csv(HMICFRS_DIR / "grades_questions_evidence.tsv", "\t"), report=report)


@pytest.fixture(scope="module")
def ours() -> list[dict]:
    return _csv(published.JUDGMENTS_PATH)


def _evidence(shared, force, year=None, fields=()) -> list[dict]:
    return [e for e in shared.evidence if e["force"] == force and (year is None or e["year"] == year)
            and e["field"] in fields]


def _official_cell(shared, force: str, question: str, year: str) -> str:
    """The grade the HMICFRS-only question files give (empty if none)."""
    if question == "overall":
        return (shared.q17 if year == "2017" else shared.q16)[force][f"overall_{year}"]
    if question in SHARED_QUESTIONS and year in ("2016", "2017"):
        return shared.q17[force][SHARED_QUESTIONS[question][1]]
    return ""


def _check_overall(shared, row: dict) -> None:
    force, year, grade = row["force"], row["year"], row["grade"]
    official = _official_cell(shared, force, "overall", year)
    if official:
        assert grade.lower() == official and row["source_kind"] == "hmicfrs_page"
        assert any((e["url"], e["quote"]) == (row["source_url"], row["quote"]) and e["grade"] == official
                   for e in _evidence(shared, force, year, ("overall",)))
    elif year == "2017":
        older = shared.peel17[force]
        assert (grade, row["source_url"]) == (older["effectiveness"], older["source_url"])
    else:
        older = shared.news16[force]
        assert (grade, row["source_url"]) == (older["overall_grade"], older["source_url"])


def _check_question(shared, row: dict) -> None:
    force, question, year, grade = row["force"], row["question"], row["year"], row["grade"]
    field, column, word = SHARED_QUESTIONS[question]
    official = shared.q17[force][column]
    if official:
        assert grade.lower() == official
        quoted = _evidence(shared, force, None, (field, field + "_carry"))
        assert any((e["url"], e["quote"]) == (row["source_url"], row["quote"]) for e in quoted), "words not from the file"
        stands_2016 = any(e["year"] == "2017" and (e["grade"] in ("NOT_INSPECTED_2017", "CARRY_FROM_2016")
                                                   or "2016 judgment" in e["grade"]) for e in quoted)
        assert year == ("2016" if stands_2016 else "2017")
    elif year == "2016" and shared.q16[force][column]:
        # the 2016 grade, carried because a source outside the evidence file says "not re-inspected"
        assert grade.lower() == shared.q16[force][column]
        assert any((e["url"], e["quote"]) == (row["source_url"], row["quote"])
                   for e in _evidence(shared, force, "2016", (field,)))
        older, areas = shared.peel17[force], shared.areas.get(force, {})
        if row["year_source_url"] == older["source_url"]:
            said = older["note"].split("not inspected")[0].rsplit(";", 1)[-1]
            assert word.lower() in said.lower()
        else:
            assert row["year_source_url"] == areas["source_url"] and "Risk-based inspection" in areas["evidence_type"]
            assert word not in areas["areas_assessed_2017"]
    else:
        older = shared.peel17[force]
        words = re.search(r"records this source as '([^']+)'", row["note"])[1]
        assert row["source_url"] == older["source_url"] and words in older["note"] and grade in words


def test_every_grade_matches_its_shared_source_row(shared, ours):
    """Force, question, year and grade of every row against the row of the shared file it comes from."""
    checked = 0
    for row in ours:
        if not row["grade"]:
            continue
        if row["question"] == "overall":
            _check_overall(shared, row)
        elif row["force"] == "Cambridgeshire":
            assert (row["grade"], row["year"]) == shared.report.get(row["question"], ("Ungraded", "2017"))
            assert row["source_kind"] == "hmicfrs_report"
        else:
            _check_question(shared, row)
        checked += 1
    assert checked == sum(1 for r in ours if r["grade"]) > 150


def test_every_grade_the_official_files_give_is_in_judgments(shared, ours):
    by_key = {(r["force"], r["question"], r["year"]): r for r in ours}
    stood = {(r["force"], r["question"]): r for r in ours if r["question"] != "overall"}
    for force in shared.q17:
        for year in ("2017", "2016"):
            cell = _official_cell(shared, force, "overall", year)
            if cell:
                row = by_key[(force, "overall", year)]
                assert row["grade"].lower() == cell and row["source_kind"] == "hmicfrs_page"
        for question, (_, column, _) in SHARED_QUESTIONS.items():
            if shared.q17[force][column]:
                row = stood[(force, question)]
                assert row["grade"].lower() == shared.q17[force][column] and row["source_kind"] in OFFICIAL


def test_no_copy_or_news_where_an_official_row_states_the_grade(shared, ours):
    for row in ours:
        force, question, year = row["force"], row["question"], row["year"]
        if row["source_kind"] in ("report_copy", "news"):
            assert not _official_cell(shared, force, question, year), (force, question, year)
            field = "overall" if question == "overall" else SHARED_QUESTIONS[question][0]
            stated = _evidence(shared, force, year if question == "overall" else None, (field, field + "_carry"))
            assert not [e for e in stated if e["grade"][:1].islower()], (force, question, year)
        if row["year_source_kind"] == "report_copy":
            field, _, word = SHARED_QUESTIONS.get(question, ("specialist", "", "specialist"))
            assert not _evidence(shared, force, "2017", (field, field + "_carry")), (force, question)
            note = shared.peel17[force]["note"]
            said = note.split("not inspected")[0].rsplit(";", 1)[-1] if "not inspected" in note else ""
            assert word.lower() not in said.lower(), (force, question)


def test_every_copy_or_news_source_is_marked_as_one(ours):
    kinds = set()
    for row in ours:
        for kind, url in ((row["source_kind"], row["source_url"]), (row["year_source_kind"], row["year_source_url"])):
            if not url:
                continue
            host = urlparse(url).netloc
            if any(site in host for site in COPY_SITES):
                assert kind == "report_copy", url
            elif host.endswith("justiceinspectorates.gov.uk"):
                assert kind in OFFICIAL, url
            else:
                assert kind == "news", url
            kinds.add(kind)
    assert kinds == {"hmicfrs_page", "hmicfrs_report", "report_copy", "news"}


def test_counts_are_what_the_shared_files_hold(shared, ours):
    """The issue says: all four 2017 questions for 5 forces, some for 27 more, overall for 41."""
    columns = [c for _, c, _ in SHARED_QUESTIONS.values()]
    filled = Counter(sum(bool(r[c]) for c in columns) for r in shared.q17.values())
    assert (filled[4], sum(n for k, n in filled.items() if 0 < k < 4), filled[0]) == (5, 27, 11)
    assert sum(bool(r["overall_2017"]) for r in shared.q17.values()) == 41
    official = Counter(r["force"] for r in ours if r["question"] in SHARED_QUESTIONS and r["grade"]
                       and r["source_kind"] in OFFICIAL)
    every, some = [f for f, n in official.items() if n == 4], [f for f, n in official.items() if 0 < n < 4]
    assert (len(every), len(some)) == (7, 26)
    assert sum(r["question"] == "overall" and r["year"] == "2017" and r["source_kind"] in OFFICIAL for r in ours) == 42


def test_judgments_csv_is_what_the_script_builds_from_the_shared_files(shared):
    script = published.JUDGMENTS_PATH.parent / "build_judgments.py"
    built = subprocess.run([sys.executable, str(script), str(HMICFRS_DIR), str(REPORT_TEXT)], capture_output=True,
                           text=True, check=True).stdout
    assert built == published.JUDGMENTS_PATH.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- assumptions log

def test_assumptions_log_items():
    assert ASSUMPTIONS_PATH.is_file()
    items = published.assumptions()
    ids = [a.id for a in items]
    assert len(ids) == len(set(ids)) >= 15
    assert all(a.rag in ("Red", "Amber", "Green") for a in items)
    text = ASSUMPTIONS_PATH.read_text(encoding="utf-8")
    for a in items:
        assert f'<a id="{a.id.lower()}"></a>' in text
    for topic in ("A-VINTAGE", "A-EXCLUSIONS", "A-CITY", "A-ONS-CELLS", "A-WARWICKSHIRE", "A-OUTCOMES-PARTIAL",
                  "A-POPULATION-YEAR", "A-DIFFERENCES"):
        assert topic in ids


def test_caveat_flags_point_at_existing_items():
    ids = {a.id for a in published.assumptions()}
    caveats = pd.read_csv(REPO_DATA_DIR / "caveats.csv", dtype="string")
    assert set(caveats["assumption"]) <= ids


def test_every_notebook_links_its_assumptions():
    """Each section notebook shows the items its declaration lists (nb.assumptions with its own stem)."""
    from peel_helpers.core.sections import section

    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert notebooks
    for path in notebooks:
        assert section(path.stem).assumptions, path.name
        calls = re.findall(r"nb\.assumptions\(\\?[\"']([0-9A-Za-z_]+)", path.read_text(encoding="utf-8"))
        assert calls == [path.stem], f"{path.name} does not link its own assumptions: {calls}"
