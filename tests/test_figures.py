"""The by-force chart, drawn from rows in the results-table layout with pandas 3 dtypes (seaborn
0.13.2 predates pandas 3). The values are SYNTHETIC, made up here."""

from __future__ import annotations

import re

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from peel_helpers.core.forces import FORCE_NAMES
from peel_helpers.reports import figures
from peel_helpers.reports.figures import ChartSpec, force_bars

SYNTHETIC = "synthetic values for a test"
MEASURE = "action_taken"


def rows(values: dict, period="2018-03-31", basis="reproduced", window="12 months to 31 March 2018",
         reasons=None, aggregate=None) -> pd.DataFrame:
    """SYNTHETIC results rows: force -> value (None for no value), plus an optional aggregate row."""
    reasons = reasons or {}
    recs = [{"force": f, "area": "force", "measure": MEASURE, "period_end": period, "value": values.get(f),
             "basis": (basis if isinstance(basis, str) else basis.get(f, "reproduced"))
             if values.get(f) is not None else "not_available",
             "reason": None if values.get(f) is not None else reasons.get(f, "not supplied"),
             "window": window if values.get(f) is not None else None} for f in FORCE_NAMES]
    if aggregate is not None:
        label, value, agg_basis = aggregate
        recs.append({"force": label, "area": "aggregate", "measure": MEASURE, "period_end": period, "value": value,
                     "basis": agg_basis, "reason": None, "window": window})
    frame = pd.DataFrame(recs)
    frame["value"] = frame["value"].astype("Float64")
    for col in ("force", "area", "measure", "period_end", "basis", "reason", "window"):
        frame[col] = frame[col].astype("string")
    return frame


@pytest.fixture
def full():
    rng = np.random.default_rng(7)
    values = {f: float(v) for f, v in zip(FORCE_NAMES, rng.uniform(5, 40, len(FORCE_NAMES)))}
    values["Suffolk"] = None
    return values


def _bars(chart):
    return [p for p in chart.figure.axes[0].patches if p.get_visible() and p.get_width() != 0]


def _texts(chart) -> str:
    ax = chart.figure.axes[0]
    return " ".join(t.get_text() for t in list(chart.figure.texts) + list(ax.texts))


def test_single_period_chart(full):
    data = rows(full, reasons={"Suffolk": "Annex A: no data"}, aggregate=("England and Wales", 20.0, "reproduced"))
    chart = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Cambridgeshire"), source=SYNTHETIC)
    assert chart.png().startswith(b"\x89PNG")
    assert len(_bars(chart)) == 42                       # Suffolk is not drawn as zero
    colours = [mcolors.to_hex(p.get_facecolor()) for p in _bars(chart)]
    assert colours.count(figures.FOCUS.lower()) == 1 and set(colours) == {figures.FOCUS.lower(), figures.OTHER.lower()}
    ranked = sorted((v for v in full.values() if v is not None), reverse=True)
    rank = ranked.index(full["Cambridgeshire"]) + 1
    assert chart.rank == rank and chart.of == 42 and f"ranked {rank} of 42" in chart.alt
    assert f"{full['Cambridgeshire']:.1f}%" in chart.alt and "England and Wales: 20.0%." in chart.alt
    assert "Suffolk" in _texts(chart) and "Annex A: no data" in _texts(chart) and f"Source: {SYNTHETIC}" in _texts(chart)
    assert len(chart.title.split()) <= 10
    assert not chart.figure.legends                      # nothing but reproduced values: no basis legend


def test_chart_keeps_its_data_and_redraws(full):
    chart = force_bars(rows(full), ChartSpec(MEASURE, "2018-03-31", "Kent"))
    frame = chart.data.forces
    assert list(frame.columns[:4]) == ["force", "value", "basis", "reason"] and len(frame) == 43
    assert frame["value"].dropna().is_monotonic_decreasing
    other = chart.redraw(focal="Essex")
    assert other.spec.focal == "Essex" and other.alt != chart.alt and chart.spec.focal == "Kent"
    bundle, meta = chart._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"} and bundle["text/plain"] == chart.alt
    assert meta["peel"]["kind"] == "figure" and meta["peel"]["alt"] == chart.alt
    assert meta["peel"]["title"] == chart.title and meta["peel"]["rows"]["kind"] == "results"


def test_chart_data_gives_a_reason_only_where_there_is_no_value(full):
    """Issue: ``chart.data.forces`` showed reason "no value" beside real values."""
    data = rows(full, reasons={"Suffolk": "Annex A: no data"})
    frame = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent")).data.forces
    with_value = frame[frame["value"].notna()]
    assert len(with_value) == 42 and with_value["reason"].isna().all()
    assert frame.set_index("force").loc["Suffolk", "reason"] == "Annex A: no data"


def test_a_redrawn_chart_keeps_its_source_line(full):
    chart = force_bars(rows(full), ChartSpec(MEASURE, "2018-03-31", "Kent"), source=SYNTHETIC)
    again = chart.redraw(focal="Essex")
    assert f"Source: {SYNTHETIC}" in _texts(again) and again.source == SYNTHETIC
    frame = pd.DataFrame([{"x": pd.Timestamp(f"{y}-03-31"), "series": s, "value": v + y, "basis": "reproduced",
                           "label": str(y)} for y in range(2015, 2019) for s, v in (("Kent", 60.0), ("Essex", 50.0))])
    line = figures.lines(frame, figures.LineSpec("Synthetic", SYNTHETIC, "per 1,000 population", "Kent"),
                         source=SYNTHETIC, notes=["A note kept."])
    redrawn = line.redraw(focal="Essex")
    texts = " ".join(t.get_text() for t in redrawn.figure.texts)
    assert f"Source: {SYNTHETIC}" in texts and "A note kept." in texts and redrawn.spec.focal == "Essex"


def test_published_values_are_drawn_differently_and_named():
    data = rows({"Cambridgeshire": 52.8}, period="2017-06-30", basis="published",
                aggregate=("England and Wales", 45.5, "published"))
    chart = force_bars(data, ChartSpec(MEASURE, "2017-06-30", "Cambridgeshire"))
    (bar,) = _bars(chart)
    assert bar.get_hatch() == "////" and mcolors.to_hex(bar.get_facecolor()) == "#ffffff"
    legend = [t.get_text() for leg in chart.figure.legends for t in leg.get_texts()]
    assert legend == ["published"]
    assert "52.8% (published value, copied from the report)" in chart.alt
    assert "England and Wales: 45.5% (published value, copied from the report)" in chart.alt
    assert "England and Wales (published): 45.5%" in _texts(chart)


def test_a_partial_sum_is_labelled_n_of_43_forces():
    data = rows({"Kent": 40.0, "Essex": 20.0}, basis="supplied", aggregate=("2 of 43 forces", 30.0, "supplied"))
    chart = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent"))
    assert all(b.get_hatch() == "\\\\\\\\" for b in _bars(chart))
    assert "2 of 43 forces (supplied): 30.0%" in _texts(chart)
    assert "2 of 43 forces: 30.0% (supplied in the user's data return)" in chart.alt
    assert "England and Wales" not in chart.alt.split("forces shown.")[1].split("2 of 43")[0]


def test_part_window_bars_are_drawn_and_labelled():
    window = "April–June 2017 only: 1 of 4 quarters"
    data = rows({f: 10.0 + i for i, f in enumerate(FORCE_NAMES)}, period="2017-06-30", basis="partial_window",
                window=window, aggregate=("England and Wales", 15.0, "partial_window"))
    chart = force_bars(data, ChartSpec(MEASURE, "2017-06-30", "Cambridgeshire", comparison="2016-06-30"))
    assert len(_bars(chart)) == 43 and all(b.get_hatch() == "xxx" for b in _bars(chart))
    assert [t.get_text() for leg in chart.figure.legends for t in leg.get_texts()] == [window]
    assert window in _texts(chart) and window in chart.alt
    assert "England and Wales (April–June 2017 only): 15.0%" in _texts(chart)
    assert "cannot be computed yet" in chart.alt


def test_two_period_chart_marks_the_earlier_period_by_shape(full):
    previous = {f: (v * 0.9 if v is not None else 12.0) for f, v in full.items()}
    previous["Dorset"] = None
    data = pd.concat([rows(full, aggregate=("England and Wales", 20.0, "reproduced")),
                      rows(previous, period="2017-03-31", aggregate=("England and Wales", 18.5, "reproduced"))])
    chart = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Suffolk", comparison="2017-03-31"))
    markers = [c for c in chart.figure.axes[0].collections if len(c.get_offsets())]
    assert markers and len(markers[0].get_offsets()) == 42
    legend = [t.get_text() for leg in chart.figure.legends for t in leg.get_texts()]
    assert "31 March 2017" in legend
    assert "Suffolk: no value" in chart.alt and "England and Wales 18.5%" in chart.alt


def test_bad_focal_force_is_a_one_line_error(full):
    from peel_helpers.core.errors import UnknownForceError

    with pytest.raises(UnknownForceError):
        force_bars(rows(full), ChartSpec(MEASURE, "2018-03-31", "Atlantis"))


def test_line_labels_that_would_collide_are_moved_apart():
    """SYNTHETIC quarterly shares where two lines end 0.1 points apart: their end labels must not overlap,
    and a label far from the others stays level with its line's last point."""
    quarters = pd.to_datetime(["2017-06-30", "2017-09-30", "2017-12-31", "2018-03-31"])
    ends = {"action taken": 14.3, "evidential difficulties": 14.4, "charge or summons": 9.6, "no suspect": 49.0}
    frame = pd.DataFrame([{"x": q, "series": name, "value": end + i * 0.01, "basis": "reproduced",
                           "label": f"Q{i + 1}"} for name, end in ends.items() for i, q in enumerate(quarters)])
    chart = figures.lines(frame, figures.LineSpec("Synthetic", SYNTHETIC, "% of offences recorded", "", (), 1))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(chart.figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = chart.figure.axes[0]
    labels = {t.get_text().strip(): t for t in ax.texts if t.get_text().strip() in ends}
    assert set(labels) == set(ends)
    boxes = {name: t.get_window_extent(renderer) for name, t in labels.items()}
    names = sorted(boxes)
    assert not [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if boxes[a].overlaps(boxes[b])]
    far = labels["no suspect"]
    assert far.xyann == (0, 0) or far.xyann[1] == pytest.approx(0.0)


def test_comparison_aggregate_in_alt_text_is_labelled_from_its_row(full):
    """The comparison period's aggregate is a 2-force sum of SYNTHETIC supplied values: the alt text
    names it "2 of 43 forces" with its basis, never "England and Wales", and gives the focal force's
    comparison value with its basis."""
    previous = {"Kent": 25.0, "Essex": 15.0}
    data = pd.concat([rows(full, aggregate=("England and Wales", 20.0, "reproduced")),
                      rows(previous, period="2017-03-31", basis="supplied",
                           aggregate=("2 of 43 forces", 20.0, "supplied"))])
    chart = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent", comparison="2017-03-31"))
    diamonds = chart.alt.split("Diamonds mark")[1]
    assert "England and Wales 20.0%" not in chart.alt
    assert "2 of 43 forces 20.0% (supplied in the user's data return)" in diamonds
    assert "Kent 25.0% (supplied in the user's data return)" in diamonds
    assert "2 of 43 forces 31 March 2017 (dashed) (supplied): 20.0%" in _texts(chart)


def test_no_comparison_aggregate_is_said_plainly(full):
    previous = {"Kent": 25.0}
    data = pd.concat([rows(full, aggregate=("England and Wales", 20.0, "reproduced")),
                      rows(previous, period="2017-03-31")])
    chart = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Essex", comparison="2017-03-31"))
    assert "Essex no value, no England and Wales value." in chart.alt


def _part_window_comparison(full):
    window = "April–June 2017 only: 1 of 4 quarters"
    previous = {f: (v * 0.9 if v is not None else 12.0) for f, v in full.items()}
    return window, pd.concat([
        rows(full, period="2018-06-30", window="12 months to 30 June 2018",
             aggregate=("England and Wales", 20.0, "reproduced")),
        rows(previous, period="2017-06-30", basis="partial_window", window=window,
             aggregate=("England and Wales", 16.0, "partial_window"))])


def test_part_window_comparison_is_labelled_and_drawn_as_part_window(full):
    """SYNTHETIC: the comparison values cover April–June 2017 only. Subtitle, legend, alt text and the
    comparison line name that window, never "the 12 months to 30 June 2017" as if they covered it, and
    the diamonds are cross-hatched as part-window bars are."""
    window, data = _part_window_comparison(full)
    chart = force_bars(data, ChartSpec(MEASURE, "2018-06-30", "Kent", comparison="2017-06-30"))
    texts = _texts(chart)
    subtitle = texts.split("by force, England and Wales,")[1].split("England and Wales 16.0%")[0]
    assert f"with {window} (the 12 months to 30 June 2017 cannot be computed yet)" in " ".join(subtitle.split())
    legend = [t.get_text() for leg in chart.figure.legends for t in leg.get_texts()]
    assert legend == [window]
    assert f"Diamonds mark {window} (the 12 months to 30 June 2017 cannot be computed yet)" in chart.alt
    assert "Diamonds mark the 12 months to 30 June 2017" not in chart.alt
    assert f"Kent {chart.data.fmt(full['Kent'] * 0.9)} ({window})" in chart.alt
    assert f"England and Wales 16.0% ({window})" in chart.alt
    assert "England and Wales April–June 2017 only (dashed): 16.0%" in texts and "30 June 2017 (dashed)" not in texts
    markers = [c for c in chart.figure.axes[0].collections if len(c.get_offsets())]
    assert len(markers) == 1 and markers[0].get_hatch() and len(markers[0].get_offsets()) == 43
    (handle,) = [h for leg in chart.figure.legends for h in leg.legend_handles]
    assert handle.get_hatch() == markers[0].get_hatch()


def test_full_window_comparison_diamonds_stay_hollow(full):
    previous = {f: (v * 0.9 if v is not None else 12.0) for f, v in full.items()}
    data = pd.concat([rows(full, aggregate=("England and Wales", 20.0, "reproduced")),
                      rows(previous, period="2017-03-31", aggregate=("England and Wales", 18.5, "reproduced"))])
    chart = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent", comparison="2017-03-31"))
    markers = [c for c in chart.figure.axes[0].collections if len(c.get_offsets())]
    assert len(markers) == 1 and not markers[0].get_hatch()
    assert "Diamonds mark the 12 months to 31 March 2017: Kent" in chart.alt
    assert "with the 12 months to 31 March 2017" in _texts(chart)


@pytest.mark.realdata
def test_figure_1_for_kent_june_2018_names_the_comparison_part_window(real_data_dir, no_user_data_return):
    """Figure 1 for Kent, 12 months to 30 June 2018 against 30 June 2017: the loaded outcomes hold
    April–June 2017 alone for the comparison window, so its values are labelled with that window."""
    from peel_helpers.reports import notebook as nb

    p = nb.validate(force="Kent", period_end="2018-06-30", comparison_period_end="2017-06-30")
    chart = nb.chart(p, "action_taken", compare=True)
    window = "April–June 2017 only: 1 of 4 quarters"
    assert "Diamonds mark the 12 months to 30 June 2017" not in chart.alt
    assert f"Diamonds mark {window}" in chart.alt and f"England and Wales 16.0% ({window})" in chart.alt
    legend = [t.get_text() for leg in chart.figure.legends for t in leg.get_texts()]
    assert window in legend and "30 June 2017" not in legend
    assert "with the 12 months to 30 June 2017" not in " ".join(_texts(chart).split())


# --------------------------------------------------------------------------- one force far above the rest

def _outlier_rows(outlier=793.0):
    """SYNTHETIC rates: 42 forces between 48 and 123 per 1,000, one (City of London) far above."""
    values = {f: 48.0 + 75.0 * i / 41 for i, f in enumerate(f for f in FORCE_NAMES if f != "City of London")}
    values["City of London"] = outlier
    return rows(values, aggregate=("England and Wales", 80.0, "reproduced"))


@pytest.mark.parametrize("focal", ["Kent", "City of London"])
def test_an_outlier_is_cut_at_the_axis_with_its_true_value_kept(focal):
    chart = force_bars(_outlier_rows(), ChartSpec(MEASURE, "2018-03-31", focal), source=SYNTHETIC)
    ax = chart.figure.axes[0]
    right = ax.get_xlim()[1]
    assert 123.0 < right < 200.0                       # the axis stops just past the next force, not at 793
    city = next(p for p in _bars(chart) if p.get_width() == pytest.approx(793.0))
    assert city.get_width() > right                    # the bar itself keeps its length: it runs to the edge
    assert "793.0%" in [t.get_text().strip() for t in ax.texts]    # the value written at the end
    breaks = [ln for ln in ax.lines if ln.get_color() == "white"]
    assert len(breaks) == 2 and all(right * 0.9 < min(ln.get_xdata()) < right for ln in breaks)
    assert "City of London (793.0%) is more than 3 times the next highest force (123.0%)" in _texts(chart)
    assert "axis is cut" in chart.alt and "793.0%" in chart.alt
    drawn = chart.drawn_rows()
    assert drawn.loc[drawn["force"] == "City of London", "value"].iloc[0] == 793.0   # the data keep the true value
    if focal == "Kent":
        assert chart.data.forces.set_index("force").loc["City of London", "value"] == 793.0


def test_no_cut_when_the_top_force_is_within_three_times_the_next():
    chart = force_bars(_outlier_rows(outlier=360.0), ChartSpec(MEASURE, "2018-03-31", "Kent"))
    assert chart.data.cut is None and chart.figure.axes[0].get_xlim()[1] > 360.0
    assert "axis is cut" not in chart.alt and not [ln for ln in chart.figure.axes[0].lines if ln.get_color() == "white"]


def test_drawn_rows_are_the_bars_and_the_england_and_wales_line(full):
    chart = force_bars(rows(full, aggregate=("England and Wales", 20.0, "reproduced")),
                       ChartSpec(MEASURE, "2018-03-31", "Kent"))
    drawn = chart.drawn_rows()
    bars = sorted(((p.get_y(), p.get_width()) for p in _bars(chart)))
    assert list(drawn["value"].iloc[:-1]) == pytest.approx([w for _, w in bars])   # one row a bar, in the chart's order
    assert "Suffolk" not in set(drawn["force"])                                  # no bar, no row
    assert drawn["force"].iloc[-1] == "England and Wales" and drawn["value"].iloc[-1] == 20.0


# --------------------------------------------------------------------------- contrast and SVG

def _colour(c) -> str | None:
    if c is None or (isinstance(c, str) and c == "none"):
        return None
    rgba = mcolors.to_rgba(c)
    return None if rgba[3] == 0 else mcolors.to_hex(rgba)


def test_chart_colours_meet_the_contrast_minimums(full):
    """Text at least 4.5:1 on white, bars and lines at least 3:1 (WCAG 2.2: 1.4.3 and 1.4.11), on a chart
    with every basis, the England and Wales line and a comparison, and on a line chart."""
    bases = {f: b for f, b in zip(FORCE_NAMES, ["published", "supplied", "partial_window"] * 15)}
    data = pd.concat([rows(full, basis=bases, aggregate=("England and Wales", 20.0, "reproduced")),
                      rows(full, period="2017-03-31", aggregate=("England and Wales", 18.0, "reproduced"))])
    bars = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent", comparison="2017-03-31"))
    frame = pd.DataFrame([{"x": pd.Timestamp(f"{y}-03-31"), "series": s, "value": v + y - 2010, "basis": "reproduced",
                           "label": str(y)} for y in range(2010, 2019)
                          for s, v in (("Kent", 60.0), ("England and Wales", 70.0), ("Essex", 50.0), ("Surrey", 40.0))])
    line = figures.lines(frame, figures.LineSpec("Synthetic", SYNTHETIC, "per 1,000 population", "Kent"))
    for chart in (bars, line):
        texts = [t for t in chart.figure.findobj(lambda o: hasattr(o, "get_text") and hasattr(o, "get_color"))
                 if str(t.get_text()).strip()]
        assert texts
        low = {(t.get_text()[:30], _colour(t.get_color())) for t in texts if figures.contrast(t.get_color()) < 4.5}
        assert not low, low
        ax = chart.figure.axes[0]
        for patch in ax.patches:
            face = _colour(patch.get_facecolor())
            shown = face if face not in (None, "#ffffff") else _colour(patch.get_edgecolor())
            if patch.get_visible() and patch.get_width() and shown:
                assert figures.contrast(shown) >= 3.0, shown
        for ln in ax.lines:
            if _colour(ln.get_color()) not in (None, "#ffffff") and ln.get_linestyle() != ":":
                assert figures.contrast(ln.get_color()) >= 3.0, ln.get_color()
    assert figures.contrast(figures.OTHER, figures.FOCUS) >= 3.0    # the focal bar stands out from its neighbours


def test_svg_keeps_text_as_text_and_is_the_same_bytes_every_time(full):
    chart = force_bars(rows(full), ChartSpec(MEASURE, "2018-03-31", "Kent"))
    first = chart.svg()
    again = force_bars(rows(full), ChartSpec(MEASURE, "2018-03-31", "Kent")).svg()
    assert first == again
    assert ">Kent</text>" in first and ">Cambridgeshire</text>" in first     # text, not glyph outlines
    assert "<dc:date>" not in first and "Matplotlib v" not in first


# --------------------------------------------------------------------------- the description travels with the chart

def _notebook_of(*charts):
    """A notebook node whose one code cell shows ``charts`` as a notebook would (their display bundles)."""
    import nbformat

    outputs = []
    for chart in charts:
        data, meta = chart._repr_mimebundle_()
        outputs.append(nbformat.v4.new_output("display_data", data=data, metadata=meta))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("chart", outputs=outputs)]
    return nb


def test_stock_nbconvert_keeps_each_charts_title_and_description(full):
    """Exported with nbconvert's own HTMLExporter (template lab, default settings), as the README's
    "running one notebook directly" does: the page carries each chart's title and alt text in its
    inline SVG, never "No description has been provided", and two charts on one page share no id."""
    import html as html_lib

    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    data = rows(full, aggregate=("England and Wales", 20.0, "reproduced"))
    kent = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent"), source=SYNTHETIC)
    essex = kent.redraw(focal="Essex")
    exporter = HTMLExporter()
    assert exporter.template_name == "lab"
    page, _ = exporter.from_notebook_node(_notebook_of(kent, essex))
    assert "No description has been provided" not in page
    soup = BeautifulSoup(page, "html.parser")
    svgs = soup.find_all("svg", attrs={"role": "img"})
    assert len(svgs) == 2
    for svg, chart in zip(svgs, (kent, essex)):
        title, desc = soup.find(id=svg["aria-labelledby"]), soup.find(id=svg["aria-describedby"])
        assert title.name == "title" and title.get_text() == chart.title and title.parent is svg
        assert desc.name == "desc" and desc.get_text() == chart.alt
        assert len(svg.find_all("text")) > 40                       # text stays text
    ids = re.findall(r'\bid="([^"]+)"', "".join(str(s) for s in svgs))
    assert len(ids) > 20 and len(ids) == len(set(ids))
    references = re.findall(r'(?:url\(#|href="#)([^")]+)', "".join(str(s) for s in svgs))
    assert references and set(references) <= set(ids)                 # every reference still resolves
    assert html_lib.escape(kent.alt) in page


def test_the_same_chart_gives_the_same_bytes_and_another_chart_other_ids(full):
    data = rows(full)
    first = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent"))._repr_mimebundle_()[0]["text/html"]
    again = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent"))._repr_mimebundle_()[0]["text/html"]
    other = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Essex"))._repr_mimebundle_()[0]["text/html"]
    assert first == again and first.startswith("<svg") and "<?xml" not in first and "<metadata>" not in first
    assert figures.chart_key(force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent"))) in first
    key = re.compile(r'id="(c[0-9a-f]{10})-')
    assert key.search(first).group(1) != key.search(other).group(1)


def test_a_chart_too_heavy_for_svg_is_an_image_with_alt_text(full, monkeypatch):
    from nbconvert import HTMLExporter

    chart = force_bars(rows(full), ChartSpec(MEASURE, "2018-03-31", "Kent"))
    monkeypatch.setattr(figures.base, "SVG_LIMIT", 1000)
    data, meta = chart._repr_mimebundle_()
    assert data["text/html"].startswith('<img src="data:image/png;base64,iVBOR') and meta["peel"]["alt"] == chart.alt
    page, _ = HTMLExporter().from_notebook_node(_notebook_of(chart))
    assert "No description has been provided" not in page and f'alt="{chart.alt}"' in page.replace("&#x27;", "'")




# --------------------------------------------------------------------------- words that follow what is drawn

def _legend(chart) -> list[str]:
    return [t.get_text() for leg in chart.figure.legends for t in leg.get_texts()]


def _subtitle(chart) -> str:
    """The subtitle lines drawn under the title (before the first line of notes)."""
    texts = [t.get_text() for t in chart.figure.texts][1:]
    return " ".join(t for t in texts if not t.startswith(("Not shown", "No comparison", "Source", "The value axis")))


@pytest.mark.parametrize("drawn", [False, True])
def test_a_comparison_window_is_named_only_where_the_chart_draws_it(full, drawn):
    """Subtitle, legend, alt text, caption and the generated paragraph name the 12 months to 31 March 2017,
    its diamonds and its dashed line only when the chart draws them; otherwise they say no comparison is
    drawn, and why, without naming a window that is not there. SYNTHETIC values."""
    from peel_helpers.reports import notebook as nb

    previous = {f: (v * 0.9 if v is not None else None) for f, v in full.items()} if drawn else {}
    data = pd.concat([rows(full, aggregate=("England and Wales", 20.0, "reproduced")),
                      rows(previous, period="2017-03-31", reasons={f: "synthetic: no earlier file" for f in FORCE_NAMES},
                           aggregate=("England and Wales", 18.5, "reproduced") if drawn else None)])
    chart = force_bars(data, ChartSpec(MEASURE, "2018-03-31", "Kent", comparison="2017-03-31"), source=SYNTHETIC)
    guide = nb.chart_guide(chart).text
    _, meta = chart._repr_mimebundle_()
    words = {"subtitle": _subtitle(chart), "legend": " ".join(_legend(chart)), "alt": chart.alt, "guide": guide,
             "caption": meta["peel"]["caption"]}
    for where, text in words.items():
        assert ("31 March 2017" in text) == drawn, (where, text)
    assert ("Hollow diamonds" in guide and "dashed orange line" in guide) == drawn
    assert ("No comparison is drawn" in guide and "No comparison is drawn" in chart.alt) == (not drawn)
    if not drawn:
        assert "synthetic: no earlier file" in guide and "synthetic: no earlier file" in _texts(chart)
        assert not [c for c in chart.figure.axes[0].collections if len(c.get_offsets())]       # no diamond drawn


def test_the_guide_names_only_the_marks_the_chart_uses(full):
    from peel_helpers.reports import notebook as nb

    every = {f: (v if v is not None else 12.0) for f, v in full.items()}
    plain = nb.chart_guide(force_bars(rows(every), ChartSpec(MEASURE, "2018-03-31", "Kent"))).text
    assert "Cross-hatched" not in plain and "diamond" not in plain and "dashed" not in plain
    assert "No comparison" not in plain and "Forces without a value" not in plain
    window = "April–June 2017 only: 1 of 4 quarters"
    part = rows({f: 10.0 + i for i, f in enumerate(FORCE_NAMES[:40])}, period="2017-06-30", basis="partial_window",
                window=window, aggregate=("England and Wales", 15.0, "partial_window"))
    guide = nb.chart_guide(force_bars(part, ChartSpec(MEASURE, "2017-06-30", "Kent"))).text
    assert f"Cross-hatched bars are values over part of the window only ({window})" in guide
    assert "Forces without a value are named under the chart" in guide
    assert nb.chart_guide(nb.Note("**No chart:** nothing to draw.", no_data=True)) is None


def test_no_chart_caption_repeats_its_title(full):
    chart = force_bars(rows(full, aggregate=("England and Wales", 20.0, "reproduced")),
                       ChartSpec(MEASURE, "2018-03-31", "Kent"))
    frame = pd.DataFrame([{"x": pd.Timestamp(f"{y}-03-31"), "series": s, "value": v + y, "basis": "reproduced",
                           "label": str(y)} for y in range(2015, 2019) for s, v in (("Kent", 60.0), ("Essex", 50.0))])
    line = figures.lines(frame, figures.LineSpec("Kent against Essex", "Synthetic rate per 1,000, 2015 to 2018",
                                                 "per 1,000 population", "Kent"), source=SYNTHETIC)
    for drawn in (chart, line):
        _, meta = drawn._repr_mimebundle_()
        caption, title = meta["peel"]["caption"], meta["peel"]["title"]
        assert caption and caption != title and title not in caption and caption not in title
    assert meta["peel"]["caption"] == "Synthetic rate per 1,000, 2015 to 2018"
