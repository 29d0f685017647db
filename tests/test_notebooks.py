"""Every notebook executed (through the batch runner) for three forces and both periods, and the
HTML and metadata they produce; direct papermill use; one-line parameter errors."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import nbformat
import pytest

from peel_helpers.reports import notebook as nb
from peel_helpers.core.errors import ParameterError, PeriodError, UnknownForceError
from peel_helpers.core.forces import resolve
from peel_helpers.core.paths import NOTEBOOKS_DIR

PAPERMILL = [sys.executable, "-m", "papermill"]


# --------------------------------------------------------------------------- validate(), no kernel


def _alts(page: str) -> list[str]:
    """Each chart's description on a page: the <desc> of its inline SVG (or an image's alt text)."""
    found = re.findall(r"<desc\b[^>]*>(.*?)</desc>", page, re.S) + re.findall(r'<img[^>]*alt="([^"]*)"', page)
    return [html.unescape(a) for a in found]


def test_validate_resolves_any_spelling():
    p = nb.validate(force="cambridgeshire constabulary", period_end="2017-06-30", comparison_period_end="")
    assert p.force.name == "Cambridgeshire"
    assert p.period.iso == "2017-06-30" and p.comparison.iso == "2016-06-30"
    assert p.as_metadata() == {"force": "Cambridgeshire", "period_end": "2017-06-30",
                               "comparison_period_end": "2016-06-30"}


@pytest.mark.parametrize("kwargs, error, text", [
    ({"force": "Atlantis", "period_end": "2017-06-30"}, UnknownForceError, "Unknown force 'Atlantis'"),
    ({"force": "Kent", "period_end": "2017-06-31"}, PeriodError, "period_end"),
    ({"force": "Kent", "period_end": "2017-05-31"}, PeriodError, "not a quarter end"),
    ({"force": "Kent", "period_end": "2017-06-30", "comparison_period_end": "2018-03-31"}, ParameterError, "not before"),
    ({"force": "Kent", "period_end": "2017-06-30", "colour": "red"}, ParameterError, "Unknown parameter 'colour'"),
    ({"force": 3, "period_end": "2017-06-30"}, ParameterError, "force must be"),
])
def test_validate_errors_are_one_line(kwargs, error, text):
    with pytest.raises(error) as info:
        nb.validate(**kwargs)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_committed_notebooks_have_the_parameter_contract():
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), path.name
        assert 'force: str = "Cambridgeshire"' in code[0].source
        assert 'period_end: str = "20' in code[0].source
        assert "nb.validate(" in code[1].source
        assert book.metadata.kernelspec.name == "peel-effectiveness"
        if path.stem != "explore":
            assert "nb.assumptions(" in "".join(c.source for c in code), f"{path.name} links no assumptions"


# --------------------------------------------------------------------------- executed reports

def _reports(built):
    out = built["out"]
    for period, force in built["jobs"]:
        for section in built["sections"]:
            yield period, resolve(force), section, out / period / resolve(force).slug / section


@pytest.mark.realdata
@pytest.mark.notebooks
def test_every_notebook_ran_for_every_force_and_period(built_reports):
    assert built_reports["codes"] == [0, 0], "the batch reported failures: see the status files"
    missing = [str(base) for *_, base in _reports(built_reports)
               if not (base.with_suffix(".html").is_file() and base.with_suffix(".ipynb").is_file())]
    assert not missing
    assert len(built_reports["sections"]) >= 5


@pytest.mark.realdata
@pytest.mark.notebooks
def test_executed_metadata_records_parameters_and_sources(built_reports):
    for period, force, section, base in _reports(built_reports):
        meta = nbformat.read(base.with_suffix(".ipynb"), as_version=4).metadata["peel"]
        assert meta["parameters"]["force"] == force.name and meta["parameters"]["period_end"] == period
        assert meta["inputs"] and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in meta["inputs"].values())
        assert meta["sources"] and all(s["release"] and s["sha256"] for s in meta["sources"])
        assert meta["kernel"] == "peel-effectiveness"


@pytest.mark.realdata
@pytest.mark.notebooks
def test_html_is_offline_without_code_and_with_alt_text(built_reports):
    images = 0
    with_images = set()
    for period, force, section, base in _reports(built_reports):
        page = base.with_suffix(".html").read_text(encoding="utf-8")
        assert "<script" not in page.lower()
        assert not re.search(r"<(?:link|img|iframe)[^>]+(?:src|href)=[\"']?(?:https?:)?//", page, re.I)
        assert "nb.validate(" not in page and "# Parameters" not in page  # no code, no injected cell
        assert "In&nbsp;[" not in page and "Out[" not in page  # no prompts
        for figure in re.findall(r'<figure class="peel-figure".*?</figure>', page, re.S):   # each chart inline
            images += 1
            assert re.search(r"<svg\b", figure) and _alts(figure) and all(a.strip() for a in _alts(figure)), figure[:200]
            assert "No description" not in figure
            with_images.add((period, force.name, section))
    # Figure 1 draws for every run (part-window bars for 2017), Figure 2 where a published value exists
    assert {(p, f, "02_figure1_action_taken") for p, f in built_reports["jobs"]} <= with_images
    assert ("2017-06-30", "Cambridgeshire", "03_figure2_da_arrests") in with_images


def _html(built, period, force, section) -> str:
    return (built["out"] / period / resolve(force).slug / f"{section}.html").read_text(encoding="utf-8")


@pytest.mark.realdata
@pytest.mark.notebooks
def test_partial_outcome_window_is_named_not_computed(built_reports):
    page = _html(built_reports, "2017-06-30", "Cambridgeshire", "01_force_in_numbers")
    assert "2016/17 Q2, 2016/17 Q3, 2016/17 Q4" in page
    assert "prc-outcomes-open-data-mar2017-tables" in page  # the official file that would supply them
    figure1 = _html(built_reports, "2017-06-30", "Cambridgeshire", "02_figure1_action_taken")
    assert "No 12-month share is computed" in figure1
    alts = _alts(figure1)
    assert len(alts) == 1 and "April–June 2017 only: 1 of 4 quarters" in alts[0]
    full = _html(built_reports, "2018-03-31", "Cambridgeshire", "01_force_in_numbers")
    assert "are not loaded" not in full and "1 of 4 quarters" not in full    # the whole window: nothing to say


@pytest.mark.realdata
@pytest.mark.notebooks
def test_city_of_london_rates_are_flagged(built_reports):
    page = _html(built_reports, "2017-06-30", "City of London", "01_force_in_numbers")
    assert "resident population only" in page


@pytest.mark.realdata
@pytest.mark.notebooks
def test_suffolk_outcomes_show_dash_and_annex_a_reason(built_reports):
    page = _html(built_reports, "2018-03-31", "Cambridgeshire", "02_figure1_action_taken")
    alt = _alts(page)[0]
    assert re.search(r"Cambridgeshire: [\d.]+%, ranked \d+ of 43", alt), alt
    suffolk = html.unescape(_html(built_reports, "2017-06-30", "Suffolk", "01_force_in_numbers"))
    row = re.search(r"<tr><td>Charged/summonsed</td><td>(.*?)</td>", suffolk)
    assert row and row.group(1) == "–"
    assert "Annex A: could not submit 2017 outcomes data to the Home Office" in suffolk


@pytest.mark.realdata
@pytest.mark.notebooks
def test_data_return_sections_say_what_is_missing(built_reports):
    for section in ("03_figure2_da_arrests", "04_asb_powers", "05_organised_crime_groups"):
        page = _html(built_reports, "2017-06-30", "Cambridgeshire", section)
        assert "not published as open data" in page
        assert "PEEL_DATA_RETURN" in page


# --------------------------------------------------------------------------- papermill directly

@pytest.mark.realdata
@pytest.mark.notebooks
def test_direct_papermill_use(real_data_dir, tmp_path):
    source = NOTEBOOKS_DIR / "05_organised_crime_groups.ipynb"
    help_text = subprocess.run(PAPERMILL + ["--help-notebook", str(source)], capture_output=True, text=True,
                               timeout=120).stdout
    assert "force: str" in help_text and "period_end: str" in help_text
    out = tmp_path / "out.ipynb"
    ok = subprocess.run(PAPERMILL + [str(source), str(out), "-p", "force", "Kent", "-k", "peel-effectiveness"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "Kent" in out.read_text()


@pytest.mark.realdata
@pytest.mark.notebooks
def test_unknown_parameter_fails_the_run_with_one_line(real_data_dir, tmp_path):
    source = NOTEBOOKS_DIR / "05_organised_crime_groups.ipynb"
    out = tmp_path / "bad.ipynb"
    bad = subprocess.run(PAPERMILL + [str(source), str(out), "-p", "forse", "Kent", "-k", "peel-effectiveness"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0
    errors = [o for c in nbformat.read(out, as_version=4).cells for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert len(errors) == 1
    assert errors[0].ename == "ParameterError"
    assert errors[0].traceback == ["ERROR: " + errors[0].evalue]
    assert "Unknown parameter 'forse'" in errors[0].evalue and "Did you mean 'force'" in errors[0].evalue
    assert json.loads(out.read_text())["metadata"]["papermill"]["exception"] is True


# --------------------------------------------------------------------------- basis in the HTML

def _row_cells(page: str, label: str) -> list[str]:
    """The cells of the first table row whose first cell is ``label``."""
    row = re.search(rf"<tr><td>{re.escape(label)}</td>(.*?)</tr>", page, re.S)
    assert row, label
    return re.findall(r"<td>(.*?)</td>", row.group(1), re.S)


@pytest.mark.realdata
@pytest.mark.notebooks
def test_published_value_is_marked_in_the_table_and_the_alt_text(built_reports):
    marked = '52.8<sup class="basis basis-published"><abbr title="published">P</abbr></sup>'
    fin = _html(built_reports, "2017-06-30", "Cambridgeshire", "01_force_in_numbers")
    cells = _row_cells(fin, "Domestic abuse arrests per 100 domestic abuse-related offences")
    # columns: force, its 95% interval, England and Wales, verdict
    assert cells[0] == marked and cells[2].startswith("45.5<sup class=\"basis basis-published\"")
    assert cells[1] == "–" and cells[3] == "not compared: no counts"   # published: no counts
    assert "published: copied from the HMICFRS report, not reproduced from data" in fin
    figure2 = _html(built_reports, "2017-06-30", "Cambridgeshire", "03_figure2_da_arrests")
    alts = _alts(figure2)
    assert len(alts) == 1 and "Cambridgeshire: 52.8 (published value, copied from the report)" in alts[0]
    assert "England and Wales: 45.5 (published value, copied from the report)" in alts[0]
    assert marked in figure2


@pytest.mark.realdata
@pytest.mark.notebooks
def test_no_report_draws_an_empty_chart(built_reports):
    for period, force, section, base in _reports(built_reports):
        page = html.unescape(base.with_suffix(".html").read_text(encoding="utf-8"))
        assert "with 0 of 43 forces shown" not in page, base
    ocg = _html(built_reports, "2017-06-30", "Cambridgeshire", "05_organised_crime_groups")
    assert "No chart:" in ocg and "<img" not in ocg and "data/input/data_return.csv" in ocg


@pytest.mark.realdata
@pytest.mark.notebooks
def test_figure1_with_its_defaults_draws_part_window_bars(real_data_dir, tmp_path):
    """What an analyst sees on opening Figure 1 in JupyterLab and running it as it is."""
    out = tmp_path / "figure1.ipynb"
    run = subprocess.run(PAPERMILL + [str(NOTEBOOKS_DIR / "02_figure1_action_taken.ipynb"), str(out),
                                      "-k", "peel-effectiveness"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    book = nbformat.read(out, as_version=4)
    images = [o for c in book.cells for o in c.get("outputs", []) if o.get("metadata", {}).get("peel", {}).get(
        "kind") == "figure"]
    assert len(images) == 1
    assert images[0]["data"]["text/html"].startswith("<svg") and "image/svg+xml" not in images[0]["data"]
    alt = images[0]["metadata"]["peel"]["alt"]
    assert "April–June 2017 only: 1 of 4 quarters" in alt and "ranked" in alt
    # exported as the README's "running one notebook directly" says, with nbconvert's own exporter
    from nbconvert import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(book)
    assert "No description has been provided" not in page and html.escape(alt, quote=False) in page


@pytest.mark.realdata
@pytest.mark.notebooks
def test_explore_notebook_runs_and_degrades_to_static_html(real_data_dir, tmp_path):
    from peel_helpers.publish.exporters import SectionExporter

    out = tmp_path / "explore.ipynb"
    run = subprocess.run(PAPERMILL + [str(NOTEBOOKS_DIR / "explore.ipynb"), str(out), "-k", "peel-effectiveness"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    book = nbformat.read(out, as_version=4)
    outputs = [o for c in book.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    plain = "\n".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "Cambridgeshire" in plain and "Suffolk" in plain                # the peers table
    assert "basis: reproduced" in plain or "basis: reproduced".replace(" ", "") in plain
    images = [o for o in outputs if o.get("metadata", {}).get("peel", {}).get("kind") == "figure"]
    assert len(images) >= 3 and all(o["metadata"]["peel"]["alt"] for o in images)
    page, _ = SectionExporter().from_notebook_node(book, {"metadata": {"name": "Explore the results"}})
    assert "<script" not in page.lower() and "widget-view" not in page
    assert page.count('<figure class="peel-figure"') == len(images) and page.count("<desc") >= len(images)


@pytest.mark.realdata
@pytest.mark.notebooks
def test_trends_section_draws_with_alt_text_for_both_periods(built_reports):
    for period in ("2017-06-30", "2018-03-31"):
        page = _html(built_reports, period, "Cambridgeshire", "07_trends")
        alts = _alts(page)
        assert len(alts) >= 3, period
        crime = next(a for a in alts if a.startswith("Line chart: recorded crime"))
        assert "Cambridgeshire: " in crime and "(12 months to 31 March 2003) to " in crime
        assert "12 months to 31 December 2018" in crime          # mid-2017 population reaches the last window
        assert re.search(r"England and Wales: [\d.]+ \(12 months to 31 March 2003\) to [\d.]+ .*(up|down) \d+%", crime)
        assert any(a.startswith("Line chart: share of the offences recorded in each quarter") for a in alts)
        assert not [a for a in alts if re.search(r"(per 1,000 population) \(per 1,000 population\)", a)]


@pytest.mark.realdata
@pytest.mark.notebooks
def test_index_marks_sections_with_nothing_to_draw(built_reports):
    index = (built_reports["out"] / "index.html").read_text(encoding="utf-8")
    row = re.search(r'<h2 id="p2017-06-30">.*?<th scope="row">Cambridgeshire</th>(.*?)</tr>', index, re.S).group(1)
    cells = dict(zip(built_reports["sections"], re.findall(r'<td class="(\w+)">', row)[1:]))   # after the full report
    assert cells["05_organised_crime_groups"] == "nodata" and cells["04_asb_powers"] == "nodata"
    assert cells["02_figure1_action_taken"] == "report" and cells["03_figure2_da_arrests"] == "report"
    assert "with no data to show" in index


@pytest.mark.realdata
@pytest.mark.notebooks
def test_funnel_section_gives_both_verdicts_and_the_limits_in_the_values_unit(built_reports):
    from peel_helpers import results

    rows = results(measures="action_taken", periods="2018-03-31", aggregates=False)
    outside = rows[rows["vs_ew"].isin(["above", "below"])]
    page = _html(built_reports, "2018-03-31", "Cambridgeshire", "08_funnel")
    alts = _alts(page)
    assert len(alts) == 1 and alts[0].startswith("Funnel plot of investigations where action was taken")
    assert all(f"{r.force} ({r.vs_ew})" in alts[0] for r in outside.itertuples())
    assert "τ² = " in alts[0] and "95% interval" in alts[0]
    mine = rows[rows["force"] == "Cambridgeshire"].iloc[0]
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    chance = "is within what chance alone gives" if mine["vs_ew_chance"] == "within" else "larger than chance alone"
    assert f"Cambridgeshire: {mine['value']:.1f}%" in text and chance in text            # both verdicts, in words
    assert f"{mine['vs_ew']} the usual spread between forces (limits {mine['vs_ew_low']:.1f}% to " \
           f"{mine['vs_ew_high']:.1f}%)" in text                                        # the limits in per cent
    assert f"within {mine['vs_ew_chance_low']:.1f}% to {mine['vs_ew_chance_high']:.1f}%" in text
    for period, force in (("2017-06-30", "Cambridgeshire"), ("2017-06-30", "Suffolk")):
        text = html.unescape(_html(built_reports, period, force, "08_funnel"))
        assert "April–June 2017 only" in text                        # compared over the part that exists
    suffolk = html.unescape(_html(built_reports, "2017-06-30", "Suffolk", "08_funnel"))
    assert "Suffolk: no value (Annex A" in suffolk                  # in the alt text and the verdict, with the reason
