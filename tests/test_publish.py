"""The publish step, as a reader and a careless user meet it: every file trusted only after it is
checked, nothing stale linked, nothing injected, nothing deleted that a build did not write.

Each test uses a small folder of SYNTHETIC section notebooks (``--notebooks``) that call the real
report helpers on the real data, so a build takes seconds; the checks read the files a build wrote
(with ``html.parser``, ``pypdf`` and ``hashlib``), never the package's own idea of them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from notebook_factory import write_notebook
from peel_helpers import cli
from peel_helpers.core import records
from peel_helpers.core.paths import NOTEBOOKS_DIR

pytestmark = [pytest.mark.realdata, pytest.mark.notebooks]

HELPERS = "from peel_helpers.reports import notebook as nb\np = nb.validate(force=force, period_end=period_end)"
EVIL = '<img src=x onerror="document.body.innerHTML=\'X\'">'
PERIOD = "2018-03-31"


def _sections(folder: Path, ledger: bool = False) -> Path:
    """Two SYNTHETIC sections: a chart and a table from the report helpers (and the real ledger)."""
    write_notebook(folder / "01_chart.ipynb", HELPERS + "\nnb.chart(p, 'recorded_crime_per_1000')")
    write_notebook(folder / "02_table.ipynb", HELPERS + "\nnb.force_in_numbers(p)")
    if ledger:
        shutil.copy(NOTEBOOKS_DIR / "06_reproduction_ledger.ipynb", folder / "03_ledger.ipynb")
    return folder


def _build(notebooks: Path, out: Path, *extra: str, force: str = "Kent") -> int:
    return cli.main(["build", "--notebooks", str(notebooks), "--force", force, "--period", PERIOD,
                     "--out", str(out), "--quiet", *extra])


class Links(HTMLParser):
    """Every href and src of a page, and the tags it holds."""

    def __init__(self):
        super().__init__()
        self.links, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        for key, value in attrs:
            if key in ("href", "src") and value:
                self.links.append(value)


def _parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _broken_links(root: Path) -> list[str]:
    """Every relative link of every page under ``root`` that does not resolve to a file there."""
    broken = []
    for page in root.rglob("*.html"):
        for link in _parse(page).links:
            if link.startswith(("data:", "#", "http://", "https://", "mailto:")):
                continue
            target = (page.parent / link.split("#")[0]).resolve()
            if link.startswith(("/", "file:")) or not target.is_file() or root.resolve() not in target.parents:
                broken.append(f"{page.relative_to(root)} -> {link}")
    return broken


@pytest.fixture(scope="module")
def evil_return(tmp_path_factory) -> Path:
    """A SYNTHETIC data-return file whose name holds live HTML (case 1)."""
    folder = tmp_path_factory.mktemp("evil")
    path = folder / f"{EVIL}.csv"
    path.write_text("force,period_end,measure,numerator,denominator,value,unit,source,note\n"
                    f"Kent,2017-06-30,da_arrests,,,40.1,per 100 domestic abuse-related offences,{EVIL.replace(',', ' ')},"
                    "SYNTHETIC test value\n", encoding="utf-8")
    return path


def test_a_file_name_with_html_never_reaches_a_page_live(real_data_dir, tmp_path, evil_return, monkeypatch):
    """Case 1: the data-return file's name (and its source text) shows as text on every page; no page
    holds an image, script or handler the project did not write; every page forbids scripts."""
    monkeypatch.setenv("PEEL_DATA_RETURN", str(evil_return))
    from peel_helpers import measures

    measures.clear_caches()
    out = tmp_path / "out"
    assert _build(_sections(tmp_path / "nb", ledger=True), out) == 0
    pages = list(out.rglob("*.html"))
    assert len(pages) >= 6
    report = (out / PERIOD / "kent" / "report.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=" in report or "&lt;img src\\=x" in report   # shown, as text
    for page in pages:
        parsed = _parse(page)
        text = page.read_text(encoding="utf-8")
        assert not [t for t, a in parsed.tags if t in ("img", "script", "iframe", "object", "embed")
                    and not str(a.get("src", "")).startswith("data:image/")], page
        assert not [a for _, a in parsed.tags for k in a if k.startswith("on")], page
        assert "javascript:" not in text.lower(), page
        assert "Content-Security-Policy" in text and "default-src 'none'" in text, page


def _kent(out: Path) -> Path:
    return out / PERIOD / "kent"


@pytest.fixture
def built(real_data_dir, tmp_path, no_user_data_return) -> dict:
    notebooks = _sections(tmp_path / "nb")
    out = tmp_path / "out"
    assert _build(notebooks, out) == 0
    return {"nb": notebooks, "out": out, "folder": _kent(out)}


@pytest.mark.parametrize("name", ["report.html", "report-results.csv", "01_chart.html", "national.html"])
@pytest.mark.parametrize("damage", ["truncate", "empty", "same_size"])
def test_a_damaged_page_or_csv_is_built_again_not_kept(built, name, damage):
    """Cases 7-9: a page or CSV truncated, emptied or overwritten with the same size is not "up to date":
    the next build writes it again, and its bytes are the ones its record names."""
    path = built["out"] / PERIOD / name if name == "national.html" else built["folder"] / name
    good = path.read_bytes()
    stat = path.stat()
    bad = {"truncate": good[: len(good) // 2], "empty": b"",
           "same_size": good[:100] + bytes([good[100] ^ 0x20]) + good[101:]}[damage]
    path.write_bytes(bad)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _build(built["nb"], built["out"]) == 0
    now = path.read_bytes()
    assert now != bad and len(now) > len(good) * 0.9
    assert json.loads(records.record_path(path).read_text())["sha256"] == hashlib.sha256(now).hexdigest()


def test_a_report_made_from_other_notebooks_is_withdrawn_before_the_batch(built, tmp_path):
    """Case 4: once a section will run again, its page, its folder's report, CSVs and the national page
    are gone before any notebook runs, so a build stopped then leaves nothing made from the old data."""
    from peel_helpers.publish.build import withdraw_for
    from peel_helpers.batch.jobs import make_jobs
    from peel_helpers.core.forces import resolve
    from peel_helpers.core.periods import Period

    (job,) = make_jobs([resolve("Kent")], ["01_chart"], [Period.parse(PERIOD)], built["out"], {"x": "changed"}, [],
                       built["nb"])
    withdraw_for(built["out"], [job])
    folder = built["folder"]
    assert not (folder / "01_chart.html").exists() and not (folder / "report.html").exists()
    assert not list(folder.glob("report-*.csv")) and not (built["out"] / PERIOD / "national.html").exists()
    assert not (folder / "02_table.html").exists()   # it links the withdrawn report: withdrawn too, rebuilt in seconds
    assert records.trusted(folder / "02_table.ipynb")  # the notebook that does not change is kept


def test_a_build_stopped_mid_batch_leaves_no_stale_report_linked(real_data_dir, tmp_path, no_user_data_return):
    """Case 4, end to end: a section edited, the build stopped (SIGTERM) while it runs: the index lists
    no report and no page made from the old notebook; the next build publishes everything again."""
    notebooks = _sections(tmp_path / "nb")
    out = tmp_path / "out"
    assert _build(notebooks, out) == 0
    marker = tmp_path / "hold"
    marker.touch()
    write_notebook(notebooks / "01_chart.ipynb", HELPERS + f"\nimport os, time\nwhile os.path.exists({str(marker)!r}):"
                   "\n    time.sleep(0.05)\nnb.chart(p, 'recorded_crime_per_1000')")
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--notebooks", str(notebooks), "--force", "Kent",
           "--period", PERIOD, "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (_kent(out) / "report.html").exists():
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    index = _parse(out / "index.html")
    assert not [link for link in index.links if link.endswith(("report.html", "01_chart.html", "national.html"))]
    assert not _broken_links(out)
    marker.unlink()
    assert _build(notebooks, out) == 0
    assert (_kent(out) / "report.html").is_file() and not _broken_links(out)


def test_clean_deletes_only_what_a_build_wrote(built, tmp_path, capsys):
    """Case 10: ``clean`` on a folder no build wrote refuses, in one line; on a build folder it deletes
    only the recorded files, not a user's own files placed among them."""
    mine = tmp_path / "mine"
    for name in ("abcd-ef-gh/notes.txt", "2019-03-31/x.txt", "index.html"):
        (mine / name).parent.mkdir(parents=True, exist_ok=True)
        (mine / name).write_text("a user's file")
    assert cli.main(["clean", "--out", str(mine)]) == 2
    assert "nothing is deleted" in capsys.readouterr().err
    assert sorted(p.relative_to(mine).as_posix() for p in mine.rglob("*") if p.is_file()) == \
        ["2019-03-31/x.txt", "abcd-ef-gh/notes.txt", "index.html"]
    users = built["folder"] / "my-notes.txt"
    users.write_text("keep me")
    assert cli.main(["clean", "--out", str(built["out"])]) == 0
    left = sorted(p.relative_to(built["out"]).as_posix() for p in built["out"].rglob("*") if p.is_file())
    assert left == [f"{PERIOD}/kent/my-notes.txt"]


def test_an_empty_out_is_refused(tmp_path, capsys, monkeypatch):
    """Case 15: ``--out ""`` never means the current folder, for a build or for clean."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    for argv in (["build", "--force", "Kent", "--out", ""], ["clean", "--out", ""]):
        assert cli.main(argv) == 2
        assert "--out is empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_a_second_build_into_the_same_folder_is_refused_in_one_line(built, capsys):
    lock = records.BuildLock(built["out"]).take("build")
    try:
        assert _build(built["nb"], built["out"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "another peel-reports build" in err[0] and f"pid {os.getpid()}" in err[0]
    finally:
        lock.release()


def test_a_full_disk_while_publishing_is_one_line_and_exit_3(built, monkeypatch, capsys):
    """Case 14: the disk fills after the notebooks: one line (no traceback), exit 3, and the index
    still lists what the records vouch for."""
    from peel_helpers.publish import national

    (built["nb"] / "01_chart.ipynb").write_text((built["nb"] / "01_chart.ipynb").read_text() + " ")
    real = records.write

    def full(path, *args, **kw):
        if Path(path).name.startswith("national"):
            raise OSError(28, "No space left on device", str(path))
        return real(path, *args, **kw)

    monkeypatch.setattr(national.records, "write", full)
    assert _build(built["nb"], built["out"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not write" in err[0] and "No space left on device" in err[0]
    index = built["out"] / "index.html"      # rewritten: it links only what is there, the national page not
    assert index.is_file() and not [b for b in _broken_links(built["out"]) if b.startswith("index.html")]
    assert "national.html" not in _parse(index).links


def _wrapper(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "chromium"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.mark.browser
def test_a_pdf_that_cannot_be_printed_leaves_no_pdf_and_the_page_says_so(built, tmp_path, monkeypatch, capsys):
    """Case 2: after a build with PDFs, a rebuild whose printing fails leaves no PDF of the old report,
    and neither the report nor the index links one; the report says none was printed; exit 1."""
    if not Path("/usr/bin/chromium").is_file():
        pytest.skip("needs /usr/bin/chromium")
    assert _build(built["nb"], built["out"], "--pdf") == 0
    pdf = built["folder"] / "report.pdf"
    assert pdf.is_file() and "report.pdf" in _parse(built["folder"] / "report.html").links
    (built["nb"] / "02_table.ipynb").write_text((built["nb"] / "02_table.ipynb").read_text() + " ")   # new report
    monkeypatch.setenv("PEEL_CHROMIUM", str(tmp_path / "no-such-chromium"))
    assert _build(built["nb"], built["out"], "--pdf") == 1
    assert "PDF not printed: no Chromium" in capsys.readouterr().out
    assert not pdf.exists()
    report = built["folder"] / "report.html"
    assert "report.pdf" not in _parse(report).links and "No PDF of this report was printed" in report.read_text()
    assert not [link for link in _parse(built["out"] / "index.html").links if link.endswith(".pdf")]


@pytest.mark.browser
def test_the_runner_killed_while_printing_leaves_no_old_pdf_linked(built, tmp_path):
    """Case 3: SIGKILL while the PDFs print: no report links a PDF made from another page."""
    if not Path("/usr/bin/chromium").is_file():
        pytest.skip("needs /usr/bin/chromium")
    assert _build(built["nb"], built["out"], "--pdf") == 0
    (built["nb"] / "02_table.ipynb").write_text((built["nb"] / "02_table.ipynb").read_text() + " ")
    started = tmp_path / "printing"
    chromium = _wrapper(tmp_path, f"touch {started}\nsleep 30\nexec /usr/bin/chromium \"$@\"")
    cmd = [sys.executable, "-m", "peel_helpers", "build", "--notebooks", str(built["nb"]), "--force", "Kent",
           "--period", PERIOD, "--out", str(built["out"]), "--quiet", "--pdf"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ | {
        "PEEL_CHROMIUM": str(chromium)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not started.exists():
        time.sleep(0.1)
    proc.kill()
    proc.communicate(timeout=60)
    report = built["folder"] / "report.html"
    assert not report.exists() or "report.pdf" not in _parse(report).links
    assert not (built["folder"] / "report.pdf").exists()
    assert not _broken_links(built["out"])


def test_an_output_folder_moved_elsewhere_has_no_broken_link(built, tmp_path):
    """Every link of every page stays inside the output folder and resolves after the folder is moved."""
    moved = tmp_path / "somewhere" / "else"
    shutil.copytree(built["out"], moved)
    shutil.rmtree(built["out"])
    assert not _broken_links(moved)
    assert (moved / "assumptions.html").is_file()
    for page in moved.rglob("*.html"):
        for link in _parse(page).links:
            assert "ASSUMPTIONS.md" not in link and not link.startswith(("/", "file:")), (page, link)


def test_nbconvert_finds_the_report_exporter_by_name(built, tmp_path):
    """``jupyter nbconvert --to peel_report`` on an executed section notebook: a page with the project's
    title block, and the CSVs it links written beside it by nbconvert's own writer."""
    executed = tmp_path / "given.ipynb"
    shutil.copy(built["folder"] / "01_chart.ipynb", executed)
    run = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to", "peel_report",
                          executed.name], capture_output=True, text=True, timeout=300, cwd=tmp_path)   # as typed
    assert run.returncode == 0, run.stderr
    page = tmp_path / "given.html"
    text = page.read_text(encoding="utf-8")
    assert 'class="peel-title"' in text and "Kent Police" in text and "12 months to 31 March 2018" in text
    assert "Figure 1:" in text and (tmp_path / "given-figure-1.csv").is_file()
    assert not _broken_links(tmp_path)


@pytest.mark.browser
def test_a_pdf_that_fails_after_printing_costs_only_its_own_report(tmp_path, monkeypatch):
    """A printed PDF that cannot be read back (its page measuring or link rewriting fails) leaves that one
    report without a PDF and a one-line reason; the next report still prints."""
    from pypdf.errors import PdfReadError

    from peel_helpers.publish import pdf

    if not pdf.chromium().is_file():
        pytest.skip("needs /usr/bin/chromium")
    jobs = []
    for name in ("a", "b"):
        page = tmp_path / name / "report.html"
        page.parent.mkdir()
        records.write(page, f"<!doctype html><title>{name}</title><h1>SYNTHETIC report {name}</h1>", made_from="test")
        jobs.append((page, tmp_path / name / "report.pdf"))
    real = pdf.thin_breaks

    def broken_once(path, forced):
        if "/a/" in str(path.parent.as_posix()) + "/":
            raise PdfReadError("SYNTHETIC: the printed file could not be read")
        return real(path, forced)

    monkeypatch.setattr(pdf, "thin_breaks", broken_once)
    done, why = pdf.print_pdfs(jobs)
    assert why == ""
    assert "could not be read" in done[jobs[0][1]] and not jobs[0][1].exists()
    assert done[jobs[1][1]] == "" and records.trusted(jobs[1][1])


@pytest.mark.browser
def test_a_page_break_that_would_leave_a_page_nearly_blank_is_let_go(tmp_path):
    """SYNTHETIC page: a section that runs a few lines onto a second page, then a section that asks for
    a new page. Printed, the second section follows on rather than leave page 2 a few lines full; a
    section after a full page still starts its own page."""
    from pypdf import PdfReader

    from peel_helpers.publish import pdf

    if not pdf.chromium().is_file():
        pytest.skip("needs /usr/bin/chromium")
    para = "<p>" + "SYNTHETIC words of a section that fill the page. " * 12 + "</p>"
    page = tmp_path / "report.html"
    records.write(page, "<!doctype html><html><head><title>t</title><style>@media print { "
                  "section.peel-section { break-before: page; } section.peel-continue { break-before: auto; } }"
                  "</style></head><body>"
                  f"<section class='peel-section peel-continue'><h2>First</h2>{para * 9}</section>"
                  f"<section class='peel-section'><h2>Second</h2>{para * 14}</section>"
                  f"<section class='peel-section'><h2>Third</h2>{para}</section></body></html>",
                  made_from="test")
    target = tmp_path / "report.pdf"
    done, _ = pdf.print_pdfs([(page, target)])
    assert done[target] == ""
    texts = [" ".join((p.extract_text() or "").split()) for p in PdfReader(target).pages]
    assert not any(t.startswith("Second") for t in texts)              # it followed on after First's last lines
    assert any(t.startswith("Third") for t in texts)                  # a break after a full page is kept
