"""The combined report of a force and window, its CSVs, the national page, resume and the PDF.

The reports are those the batch runner built for the session (``built_reports``); values are
checked against the raw files of the offline mirror read here with the csv module and openpyxl,
and against what the drawn charts themselves show (the SVG's text), never against the package's
own CSV code."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from peel_helpers.core.forces import FORCE_NAMES

bs4 = pytest.importorskip("bs4")

pytestmark = [pytest.mark.realdata, pytest.mark.notebooks]

ORDER = ["Force in numbers", "Effectiveness grades", "Figure 1: investigations where action was taken",
         "Figure 2: domestic abuse arrests", "Anti-social behaviour powers", "Organised crime groups", "Trends",
         "About the data", "Reproduction ledger"]


def _soup(path: Path):
    return bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def _report(built_reports, period="2017-06-30", slug="cambridgeshire") -> Path:
    return Path(built_reports["out"]) / period / slug / "report.html"


# --------------------------------------------------------------------------- oracles from the raw files

def _recorded_crime_rate(raw_files, force: str, label: str, year: int) -> float:
    """Recorded crime excluding fraud per 1,000, summed with the csv module over the raw file, divided
    by the mid-year population read with openpyxl from ONS Table P9."""
    import openpyxl

    count = 0
    with open(raw_files["rec_crime_pfa"], newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            if row["PFA"] == force and row["12 months ending"] == label and row["Offence"] != "Fraud offences":
                count += int(row["Rolling year total number of offences"])
    sheet = openpyxl.load_workbook(raw_files["pfa_tables_mar2018"], read_only=True, data_only=True)["Table P9"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(r for r in rows if r[0] == "Area Code")
    pop = next(r for r in rows if r[1] and re.sub(r"\d+$", "", str(r[1])).strip() == force)
    return 1000 * count / pop[list(header).index(year)]


# --------------------------------------------------------------------------- the document

def test_report_has_the_sections_in_order_with_a_contents_list(built_reports):
    path = _report(built_reports)
    assert path.is_file()
    soup = _soup(path)
    assert len(soup.find_all("h1")) == 1 and "Cambridgeshire Constabulary" in soup.h1.get_text()
    sections = soup.select("main > section.peel-section")
    titles = [s.find("h2").get_text(strip=True) for s in sections]
    assert titles[0] == "Key findings", titles              # first, right after the title block
    titles = titles[1:]
    known = [t for t in titles if t in ORDER]
    assert known == ORDER, titles
    extra = [t for t in titles if t not in ORDER]          # other section notebooks sit after trends
    assert all(titles.index("Trends") < titles.index(t) < titles.index("About the data") for t in extra)
    contents = [a["href"] for a in soup.select("nav.peel-contents a")]
    assert contents == [f"#{s['id']}" for s in sections]
    header = soup.find("header").get_text(" ", strip=True)
    for fact in ("12 months to 30 June 2017", "Built", "peel-effectiveness", "commit", "Data releases and methods"):
        assert fact in header, fact
    about = soup.find(id="sec-about-the-data").get_text(" ", strip=True)
    assert "Data releases" in about and "Police recorded crime" in about   # the releases, under About the data
    levels = [int(h.name[1]) for h in soup.find_all(re.compile(r"^h[1-6]$"))]
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels     # no level skipped going down
    assert "<script" not in path.read_text(encoding="utf-8").lower()
    assert path.stat().st_size < 2_000_000                                 # page weight with every chart as SVG


def _figures(soup) -> list:
    return soup.select("figure.peel-figure")


def test_month_names_keep_their_capitals(built_reports):
    """A window is "12 months to 30 June 2017" wherever the report names it (title, title block,
    section text), never "30 june 2017"."""
    text = _report(built_reports).read_text(encoding="utf-8")
    soup = _soup(_report(built_reports))
    assert "30 June 2017" in soup.title.get_text() and "30 June 2017" in soup.select_one(".peel-window").get_text()
    months = "january|february|march|april|may|june|july|august|september|october|november|december"
    assert not re.findall(rf"\b\d{{1,2}} (?:{months}) \d{{4}}", text), "a month name in lower case"


def test_figures_and_tables_are_numbered_once_and_charts_are_svg_with_their_description(built_reports):
    path = _report(built_reports)
    soup = _soup(path)
    figures = [int(re.search(r"Figure (\d+)", f.figcaption.get_text()).group(1)) for f in _figures(soup)]
    no_chart = [int(n) for n in re.findall(r"Figure (\d+): no chart", soup.get_text())]
    assert sorted(figures + no_chart) == list(range(1, len(figures) + len(no_chart) + 1))
    tables = [int(re.search(r"Table (\d+)", c.get_text()).group(1)) for c in soup.select("table.peel-table caption")]
    assert tables == list(range(1, len(tables) + 1)) and len(tables) >= 5
    assert re.search(r"Figure 1: ", soup.find(id="sec-figure-1-investigations-where-action-was-taken").get_text())
    alts = []        # the alt text each executed section notebook kept for its charts
    for nb in sorted(path.parent.glob("0*.ipynb")):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            for out in cell.get("outputs", []):
                peel = out.get("metadata", {}).get("peel", {})
                alts += [peel["alt"]] if peel.get("kind") == "figure" else []
    assert len(alts) == len(figures) and not soup.find_all("img")
    for figure, alt in zip(_figures(soup), alts):
        svg = figure.find("svg")
        assert svg is not None and svg.get("role") == "img"
        title = svg.find(id=svg.get("aria-labelledby"))                   # named by its own <title>, described
        assert title is not None and title.name == "title" and title.get_text().strip()   # by its <desc>
        assert svg.find(id=svg.get("aria-describedby")).get_text(" ", strip=True) == alt
        assert len(svg.find_all("text")) > 5                              # text stays text
        description = figure.select_one(".peel-description").get_text(" ", strip=True)
        assert description == "Description. " + alt
    ids = [t["id"] for t in soup.find_all(id=True)]
    assert len(ids) == len(set(ids))                                      # SVG ids made unique per figure


def _force_labels(svg) -> set[str]:
    return {t.get_text() for t in svg.find_all("text")} & set(FORCE_NAMES)


def test_download_links_give_the_rows_each_chart_and_table_shows(built_reports, raw_files):
    path = _report(built_reports)
    soup = _soup(path)
    links = [a for a in soup.find_all("a") if a.get_text().startswith("Download the data")]
    assert len(links) >= 5
    for a in links:
        assert (path.parent / a["href"]).is_file(), a["href"]
    checked = 0
    for figure in _figures(soup):
        rows = _csv(path.parent / figure.select_one(".peel-download a")["href"])
        svg = figure.find("svg")
        texts = " ".join(t.get_text() for t in svg.find_all("text"))
        forces = {r["force"] for r in rows if r["area"] == "force"}
        if "bar chart" in figure.select_one(".peel-description").get_text():
            assert forces == _force_labels(svg), figure.figcaption.get_text()    # one row per force drawn
            main = rows[0]["period_end"]
            ew = [r for r in rows if r["area"] == "aggregate" and r["period_end"] == main]
            for r in ew:
                assert f"{float(r['value']):.1f}" in texts                    # the England and Wales line's label
            checked += 1
        for r in rows:
            assert r["basis"] in ("reproduced", "published", "supplied", "partial_window") and r["value"] != ""
    assert checked >= 2
    numbers = next(t for t in soup.select("table.peel-table") if "Force in numbers" in t.caption.get_text())
    rows = _csv(path.parent / numbers.find_parent("div").select_one(".peel-download a")["href"])
    crime = [r for r in rows if r["measure"] == "recorded_crime_per_1000"]
    assert [r["force"] for r in crime] == ["Cambridgeshire", "England and Wales"]
    expected = _recorded_crime_rate(raw_files, "Cambridgeshire", "30-06-2017", 2016)
    assert float(crime[0]["value"]) == pytest.approx(expected, rel=1e-9)
    assert f"{expected:.1f}" in numbers.get_text()                       # what the table shows
    every = _csv(path.parent / "report-results.csv")
    key = lambda r: (r["force"], r["measure"], r["period_end"], r["window"])   # noqa: E731 (a quarter is not its 12 months)
    by_key = {key(r): r for r in every}
    assert len(by_key) == len(every)
    for item in soup.select(".peel-download a"):
        for r in _csv(path.parent / item["href"]):
            if "measure" in r:                                         # every row drawn is in the report's CSV
                assert {k: by_key[key(r)][k] for k in r} == r, (item["href"], r)


def test_a_section_with_nothing_to_show_keeps_its_sentence(built_reports):
    soup = _soup(_report(built_reports, "2018-03-31"))
    figure2 = soup.find(id="sec-figure-2-domestic-abuse-arrests").get_text(" ", strip=True)
    assert "Figure 2: no chart." in figure2 and "data-return file" in figure2
    for title in ("Anti-social behaviour powers", "Organised crime groups"):
        section = next(s for s in soup.select("section.peel-section") if s.h2.get_text() == title)
        assert "no chart" in section.get_text() or section.find("figure")


def test_no_report_prints_an_empty_table(built_reports):
    """Every table in every report built has a row with something in it besides its first column: no
    header-only table (the ledger for a window the report does not cover), no table of dashes (a
    measure no force has a value for). A section with nothing says so in one sentence instead."""
    out = Path(built_reports["out"])
    for period, force in built_reports["jobs"]:
        from peel_helpers.core.forces import resolve

        soup = _soup(out / period / resolve(force).slug / "report.html")
        for table in soup.select("table.peel-table"):
            rows = table.select("tbody tr")
            caption = table.caption.get_text() if table.caption else "(no caption)"
            assert rows, (period, force, caption)
            values = [td.get_text(strip=True) for tr in rows for td in tr.find_all("td")[1:]]
            assert any(v not in ("", "–") for v in values), (period, force, caption)
    soup = _soup(_report(built_reports, "2018-03-31"))
    for title in ("Anti-social behaviour powers", "Organised crime groups"):
        section = next(s for s in soup.select("section.peel-section") if s.h2.get_text() == title)
        assert not section.find("table") and "no chart" in section.get_text()
        assert "Left out of the England and Wales value" not in section.get_text()
    ledger = soup.find(id="sec-reproduction-ledger")
    assert "nothing to compare" in ledger.get_text() and not ledger.find("table", class_="peel-table")


def test_about_the_data_gives_the_annex_a_rules_for_the_force_and_window(built_reports):
    from peel_helpers.core.paths import REPO_DATA_DIR

    with open(REPO_DATA_DIR / "exclusions.csv", newline="", encoding="utf-8") as fh:
        rules = list(csv.DictReader(fh))
    for slug, force in (("suffolk", "Suffolk"), ("cambridgeshire", "Cambridgeshire"), ("city-of-london", "City of London")):
        about = _soup(_report(built_reports, "2017-06-30", slug)).find(id="sec-about-the-data").get_text(" ", strip=True)
        mine = [r for r in rules if r["force"] == force and r["period_end"] in ("2017-06-30", "2016-06-30", "*")]
        assert mine, force
        for rule in mine:
            assert rule["reason"] in about, (force, rule["reason"])
        for rule in rules:    # other forces' exclusions for the window are listed too
            if rule["period_end"] == "2017-06-30":
                assert rule["reason"] in about
    city = _soup(_report(built_reports, "2017-06-30", "city-of-london")).find(id="sec-about-the-data")
    assert "resident population only" in city.get_text()
    link = city.find("a", href=re.compile(r"assumptions\.html#a-city$"))   # the published log, inside the outputs
    assert link and (_report(built_reports, "2017-06-30", "city-of-london").parent / link["href"].split("#")[0]).is_file()


def test_an_unchanged_report_is_skipped_and_a_missing_csv_is_written_again(built_reports, capsys):
    from peel_helpers import cli
    from peel_helpers.batch import checks, jobs as batch_jobs, runner

    path = _report(built_reports)
    before = path.stat().st_mtime_ns
    argv = ["build", "--period", "2017-06-30", "--force", "Cambridgeshire", "--out", str(built_reports["out"]), "--quiet"]
    assert cli.main(argv) == 0
    assert path.stat().st_mtime_ns == before and "1 up to date" in capsys.readouterr().out
    (path.parent / "report-figure-1.csv").unlink()
    assert cli.main(argv) == 0
    assert (path.parent / "report-figure-1.csv").is_file() and path.stat().st_mtime_ns != before
    assert "1 written" in capsys.readouterr().out


def test_a_failed_section_withdraws_the_earlier_report(built_reports, tmp_path):
    """A section that fails on a rebuild leaves no earlier report, PDF or CSV that looks current, and
    the index no longer links one."""
    import shutil

    from peel_helpers.core import records
    from peel_helpers.core.sections import sections
    from peel_helpers.publish import index, pages

    src = _report(built_reports).parent
    folder = tmp_path / "2017-06-30" / "cambridgeshire"
    shutil.copytree(src, folder)
    records.write(folder / "report.pdf", b"%PDF-1.4 an earlier build", made_from="earlier")
    assert (folder / "report.html").is_file() and list(folder.glob("report-*.csv"))
    status = folder / "02_figure1_action_taken.status.json"
    record = json.loads(status.read_text(encoding="utf-8"))
    status.write_text(json.dumps(record | {"status": "failed", "reason": "synthetic failure"}), encoding="utf-8")
    done = pages.build_folder(pages.Folder(str(tmp_path), "2017-06-30", "cambridgeshire",
                                           tuple(built_reports["sections"])))
    assert done["status"] == "not built" and "02_figure1_action_taken (failed)" in done["reason"]
    left = sorted(p.name for p in folder.glob("report*"))
    assert left == [], left
    page = index.index_html(tmp_path, sections())
    assert "cambridgeshire/report.html" not in page and "cambridgeshire/02_figure1_action_taken.html" not in page


# --------------------------------------------------------------------------- national page and index

def test_national_page_has_every_force_and_england_and_wales(built_reports, raw_files):
    out = Path(built_reports["out"])
    page = out / "2017-06-30" / "national.html"
    soup = _soup(page)
    assert "<script" not in page.read_text(encoding="utf-8").lower() and len(soup.find_all("h1")) == 1
    tables = soup.find_all("table")
    assert len(tables) >= 4
    for table in tables:
        names = [th.get_text(strip=True) for th in table.select("tbody th[scope=row]")]
        assert sorted(n for n in names if n != "England and Wales") == sorted(FORCE_NAMES), table.caption
        if "Rank" in table.thead.get_text():
            assert names[-1] == "England and Wales" and "forces" in table.select("tbody tr")[-1].get_text()
        assert all(th.get("scope") for th in table.find_all("th"))
    first = tables[0]
    row = next(tr for tr in first.select("tbody tr") if tr.th.get_text(strip=True) == "Cambridgeshire")
    assert row.th.a["href"] == "cambridgeshire/report.html" and (page.parent / row.th.a["href"]).is_file()
    kent = next(tr for tr in first.select("tbody tr") if tr.th.get_text(strip=True) == "Kent")
    assert kent.th.a is None                                         # no report built for Kent in this batch
    expected = _recorded_crime_rate(raw_files, "Cambridgeshire", "30-06-2017", 2016)
    assert row.find_all("td")[1].get_text(strip=True).startswith(f"{expected:.1f}")
    everything = _csv(page.parent / "results.csv")
    assert {r["force"] for r in everything} >= set(FORCE_NAMES) | {"England and Wales"}
    assert soup.find("a", href="../index.html")
    for sup in soup.select("td sup:not(.basis)"):   # several notes on one value read as separate numbers, not one
        marks = [a.get_text() for a in sup.find_all("a")]
        assert sup.get_text() == ",".join(marks) and len(soup.select(f'ol.notes li[id$="-n{marks[-1]}"]')), sup
    assert any("," in sup.get_text() for sup in soup.select("td sup:not(.basis)"))   # the England and Wales ASB value has 3


def test_national_page_is_kept_only_while_its_inputs_and_files_are_unchanged(real_data_dir, no_user_data_return,
                                                                            tmp_path):
    """An unchanged national page is not written again; a damaged page, a deleted CSV, a new report to
    link and a changed data-return file each make it be written again."""
    from peel_helpers.core.periods import Period
    from peel_helpers.measures import datareturn
    from peel_helpers.core import records
    from peel_helpers.publish.national import write_national

    out, period = tmp_path / "out", Period.parse("2018-03-31")
    page = out / period.iso / "national.html"
    assert write_national(out, period) is True and write_national(out, period) is False
    page.write_text(page.read_text(encoding="utf-8")[:500], encoding="utf-8")   # truncated in place
    assert write_national(out, period) is True and page.read_text(encoding="utf-8").rstrip().endswith("</html>")
    (out / period.iso / "national-table-2.csv").unlink()
    assert write_national(out, period) is True and (out / period.iso / "national-table-2.csv").is_file()
    report = out / period.iso / "kent" / "report.html"
    report.parent.mkdir()
    report.write_text("<!DOCTYPE html><title>synthetic</title>", encoding="utf-8")    # no build wrote it
    assert write_national(out, period) is False and 'href="kent/report.html"' not in page.read_text(encoding="utf-8")
    records.write(report, "<!DOCTYPE html><title>synthetic</title>", made_from="synthetic")
    assert write_national(out, period) is True and 'href="kent/report.html"' in page.read_text(encoding="utf-8")
    supplied = tmp_path / "synthetic_data_return.csv"
    supplied.write_text("force,period_end,measure,numerator,denominator,value,unit,source,note\n"
                        "Kent,2018-03-31,ocg,90,,,,synthetic,SYNTHETIC test value\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(datareturn.ENV_VAR, str(supplied))
        assert write_national(out, period) is True


def test_index_leads_each_force_with_its_full_report_and_links_the_national_pages(built_reports):
    out = Path(built_reports["out"])
    soup = _soup(out / "index.html")
    assert soup.find("a", href="2017-06-30/national.html") and soup.find("a", href="2018-03-31/national.html")
    rows = [tr for table in soup.find_all("table") for tr in table.select("tbody tr")]
    assert len(rows) == len(built_reports["jobs"])
    for tr in rows:
        first = tr.find("a")
        assert first.get_text() == "full report" and first["href"].endswith("/report.html")
        assert (out / first["href"]).is_file()


# --------------------------------------------------------------------------- PDF

@pytest.fixture(scope="module")
def kent_pdf(real_data_dir, tmp_path_factory):
    """Kent, 12 months to 31 March 2018, built with --pdf (what make reports FORCES=kent
    PERIODS=2018-03-31 PDF=1 runs)."""
    from peel_helpers import cli
    from peel_helpers.batch import checks, jobs as batch_jobs, runner

    out = tmp_path_factory.mktemp("pdf")
    code = cli.main(["build", "--forces", "kent", "--periods", "2018-03-31", "--pdf", "--out", str(out), "--quiet"])
    return out, code


def _reach(page) -> float:
    """How far down an A4 page (between 14 mm and 16 mm margins) its text reaches, from the text
    positions pypdf reports; the footer, below the bottom margin, is left out."""
    mm = 72 / 25.4
    top, bottom = float(page.mediabox.height) - 14 * mm, 16 * mm
    ys = []
    page.extract_text(visitor_text=lambda t, cm, tm, f, s: ys.append(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])
                      if t.strip() else None)
    body = [y for y in ys if y > bottom]
    return (top - min(body)) / (top - bottom) if body else 0.0


def test_pdf_holds_the_force_and_the_recorded_crime_rate_shown_in_the_html(kent_pdf):
    from pypdf import PdfReader

    out, code = kent_pdf
    assert code == 0
    folder = out / "2018-03-31" / "kent"
    soup = _soup(folder / "report.html")
    numbers = next(t for t in soup.select("table.peel-table") if "Force in numbers" in t.caption.get_text())
    line = next(tr for tr in numbers.select("tbody tr") if tr.td.get_text().startswith("Recorded crime (excluding"))
    rate = line.find_all("td")[1].get_text(strip=True)
    assert re.fullmatch(r"\d+\.\d", rate), rate
    pages = [p.extract_text() or "" for p in PdfReader(folder / "report.pdf").pages]
    text = "\n".join(pages)
    assert "Kent" in text and rate in text
    assert len(pages) >= 5 and f"page 1 of {len(pages)}" in pages[0]       # A4 pages, numbered
    starts = [" ".join(p.split())[:120] for p in pages]
    from peel_helpers.core.sections import sections

    paged = {s.title for s in sections() if s.new_page}                  # declared to start a page, when it
    charted = [s.h2.get_text() for s in soup.select("section.peel-section")   # has a chart or panel to show
               if s.h2.get_text() in paged and (s.find("figure") or s.select_one(".peel-panel"))]
    assert charted
    for title in charted:
        assert any(s.startswith(title) for s in starts), title
    joined = " ".join(" ".join(p.split()) for p in pages)
    for title in ORDER:                                                  # every section is printed
        assert title in joined, title
    reader = PdfReader(folder / "report.pdf")
    thin = [i + 1 for i, p in enumerate(reader.pages[:-1])
            if _reach(p) < 1 / 3 and not " ".join(pages[i].split()).startswith("Contents")]
    assert not thin, f"nearly blank pages: {thin}"                       # no page left mostly empty by a break
    index = _soup(out / "index.html")
    assert index.find("a", href="2018-03-31/kent/report.pdf")


def _bookmarks(items) -> list[str]:
    return [t for x in items for t in (_bookmarks(x) if isinstance(x, list) else [x.title])]


def test_pdf_bookmarks_are_the_headings_in_their_own_words(kent_pdf):
    """Every heading of the report is a bookmark, word for word: Chromium names a bookmark from the
    laid-out lines and loses the space where a heading wraps ("England andWales")."""
    from pypdf import PdfReader

    out, code = kent_pdf
    assert code == 0
    folder = out / "2018-03-31" / "kent"
    marks = _bookmarks(PdfReader(folder / "report.pdf").outline)
    headings = [" ".join(h.get_text().split()) for h in _soup(folder / "report.html").select("h1, h2, h3")]
    assert len(headings) > 12
    assert [h for h in headings if h not in marks] == []
    assert "Is the difference real? Every force against England and Wales" in marks


def test_no_printed_page_ends_on_a_heading_or_a_figure_caption(kent_pdf):
    """A heading or a figure's caption is printed on the page of what it introduces: no page (the footer
    left out) ends with a section heading or with the start of a caption."""
    from pypdf import PdfReader

    out, code = kent_pdf
    assert code == 0
    folder = out / "2018-03-31" / "kent"
    soup = _soup(folder / "report.html")
    title = " ".join(soup.title.get_text().split())
    reader = PdfReader(folder / "report.pdf")
    pages = [re.sub(r" page \d+ of \d+$", "", " ".join((p.extract_text() or "").split())).removesuffix(" ·")
             .removesuffix(title).strip() for p in reader.pages]
    captions = [" ".join(c.get_text().split()) for c in soup.select("figure.peel-figure figcaption")]
    headings = [" ".join(h.get_text().split()) for h in soup.select("section.peel-section h2, section.peel-section h3")]
    assert captions and headings
    cut = [(i + 1, c[:40]) for i, text in enumerate(pages[:-1]) for c in captions
           if any(text.endswith(c[:k]) for k in range(15, len(c) + 1))]
    cut += [(i + 1, h) for i, text in enumerate(pages[:-1]) for h in headings
            if text.endswith(h) and not re.search(rf"\d+\. {re.escape(h)}$", text)]   # not the contents list
    assert cut == []


def test_without_chromium_the_html_is_built_and_one_line_says_how_to_get_it(kent_pdf, monkeypatch):
    from peel_helpers.core.forces import resolve
    from peel_helpers.core.periods import Period
    from peel_helpers.core.sections import sections
    from peel_helpers.publish.build import publish

    out, _ = kent_pdf
    folder = out / "2018-03-31" / "kent"
    (folder / "report.html").unlink()
    monkeypatch.setenv("PEEL_CHROMIUM", str(out / "no-such-chromium"))
    said: list[str] = []
    failed = publish(out, [resolve("Kent")], [Period.parse("2018-03-31")], sections(), pdf=True, log=said.append)
    assert failed == 1 and (folder / "report.html").is_file() and not (folder / "report.pdf").exists()
    assert "No PDF of this report was printed: no Chromium" in (folder / "report.html").read_text(encoding="utf-8")
    lines = [line for line in said if "PEEL_CHROMIUM" in line]
    assert len(lines) == 1 and "apt-get install chromium" in lines[0] and "The HTML reports are built" in lines[0]


def test_a_rule_of_a_window_sharing_months_with_this_one_is_said(tmp_path):
    """Suffolk, 12 months to 31 March 2018: Annex A's rule for the 12 months to 30 June 2017 (which
    share April to June 2017 with it) is said in About the data, with what it does to this window's
    values and to the outcomes by quarter; a force with no such rule gets none."""
    import datetime as dt

    from peel_helpers.core.paths import REPO_DATA_DIR
    from peel_helpers.publish.about import annex_a

    with open(REPO_DATA_DIR / "exclusions.csv", newline="", encoding="utf-8") as fh:
        rules = list(csv.DictReader(fh))
    end = dt.date(2018, 3, 31)

    def shares_months(iso: str) -> bool:            # another 12-month window overlapping this one
        other = dt.date.fromisoformat(iso)
        months = (end.year - other.year) * 12 + end.month - other.month
        return 0 < abs(months) < 12

    text = annex_a("Suffolk", "2018-03-31", "assumptions.html")
    wanted = [r for r in rules if r["force"] == "Suffolk" and r["period_end"] != "*" and shares_months(r["period_end"])]
    assert wanted
    for rule in wanted:
        assert f"for the 12 months to 30 June 2017: {rule['reason']}. No rule leaves it out of this window" in text
    assert "The crime outcomes by quarter (Trends) leave out its quarters inside that window." in text
    assert "window that shares months" not in annex_a("Kent", "2018-03-31", "assumptions.html")

