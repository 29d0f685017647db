"""Every chart type drawn with pandas 3 dtypes (seaborn 0.13.2 predates pandas 3).

The values are synthetic (made up here), in the layout measures.by_force returns.
"""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from peel_helpers.reports import figures
from peel_helpers.core.forces import FORCE_NAMES

SYNTHETIC = "synthetic values for a test"


def frame(values, reasons=None) -> pd.DataFrame:
    reasons = reasons or {}
    return pd.DataFrame({
        "force": pd.array(FORCE_NAMES, dtype="string"),
        "value": pd.array([values.get(f) for f in FORCE_NAMES], dtype="Float64"),
        "status": pd.array(["ok" if values.get(f) is not None else "missing" for f in FORCE_NAMES], dtype="string"),
        "reason": pd.array([None if values.get(f) is not None else reasons.get(f, "not supplied")
                            for f in FORCE_NAMES], dtype="string"),
    })


@pytest.fixture
def full():
    rng = np.random.default_rng(7)
    values = {f: float(v) for f, v in zip(FORCE_NAMES, rng.uniform(5, 40, len(FORCE_NAMES)))}
    values["Suffolk"] = None
    return values


def _bars(chart):
    return [p for p in chart.figure.axes[0].patches if p.get_visible() and p.get_width() != 0]


def test_single_year_chart(full):
    chart = figures.force_bars(frame(full, {"Suffolk": "Annex A: no 2017 data"}), focal="Cambridgeshire",
                               measure="Share of something", unit="% of offences recorded",
                               period_label="12 months to 30 June 2017", source=SYNTHETIC, short="something",
                               ew=20.0)
    png = chart.png()
    assert png.startswith(b"\x89PNG")
    assert len(_bars(chart)) == 42  # Suffolk not drawn as zero
    focal = [p for p in _bars(chart) if mcolors.to_hex(p.get_facecolor()) == figures.FOCUS.lower()]
    others = {mcolors.to_hex(p.get_facecolor()) for p in _bars(chart)} - {figures.FOCUS.lower()}
    assert len(focal) == 1 and others == {figures.OTHER.lower()}  # saturation=1 keeps the palette exact
    ranked = sorted((v for v in full.values() if v is not None), reverse=True)
    rank = ranked.index(full["Cambridgeshire"]) + 1
    assert chart.rank == rank and chart.of == 42
    assert f"ranked {rank} of 42" in chart.alt
    assert f"{full['Cambridgeshire']:.1f}%" in chart.alt
    assert "England and Wales: 20.0%" in chart.alt
    texts = " ".join(t.get_text() for t in chart.figure.texts)
    assert "Suffolk" in texts and "Annex A: no 2017 data" in texts  # listed under the chart
    assert f"Source: {SYNTHETIC}" in texts
    assert len(chart.title.split()) <= 10


def test_two_year_chart(full):
    previous = {f: (v * 0.9 if v is not None else 12.0) for f, v in full.items()}
    previous["Dorset"] = None
    chart = figures.force_bars(frame(full), focal="Suffolk", measure="Share of something", unit="% of offences",
                               period_label="12 months to 30 June 2017", source=SYNTHETIC, short="something",
                               ew=20.0, previous=frame(previous, {"Dorset": "Annex A: no 2016 data"}),
                               previous_label="12 months to 30 June 2016", ew_previous=18.5)
    assert chart.png().startswith(b"\x89PNG")
    ax = chart.figure.axes[0]
    markers = [c for c in ax.collections if len(c.get_offsets())]
    assert markers and len(markers[0].get_offsets()) == 42  # diamonds: a shape cue, not only colour
    legend_labels = [t.get_text() for leg in chart.figure.legends for t in leg.get_texts()]
    assert any("30 June 2016" in t for t in legend_labels)
    assert "no value" in chart.alt and "Suffolk" in chart.alt  # the focal force has no current value
    assert "England and Wales 18.5%" in chart.alt.replace(":", "")
    texts = " ".join(t.get_text() for t in chart.figure.texts)
    assert "Dorset" in texts


def test_only_published_values_chart():
    values = {"Cambridgeshire": 40.1}
    chart = figures.force_bars(frame(values, {f: "not public" for f in FORCE_NAMES}), focal="Cambridgeshire",
                               measure="Things per 1 million population", unit="per 1 million population",
                               period_label="12 months to 30 June 2017", source=SYNTHETIC, short="things", ew=35.0)
    assert len(_bars(chart)) == 1
    assert "40.1" in chart.alt and "35.0" in chart.alt
    assert "42 forces" in " ".join(t.get_text() for t in chart.figure.texts)


def test_empty_chart_still_renders():
    chart = figures.force_bars(frame({}), focal="Kent", measure="Nothing", unit="per 100", period_label="12 months to 31 March 2018",
                               source=SYNTHETIC, short="nothing", ew=None)
    assert chart.png().startswith(b"\x89PNG")
    assert chart.rank is None and "no value" in chart.alt


def test_show_puts_alt_text_in_metadata(monkeypatch, full):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append((a, k)))
    chart = figures.force_bars(frame(full), focal="Kent", measure="M", unit="per 100", period_label="12 months to 31 March 2018",
                               source=SYNTHETIC, short="m", ew=10.0)
    chart.show()
    (bundle,), kwargs = shown[0]
    assert kwargs["metadata"]["image/png"]["alt"] == chart.alt
    assert kwargs["raw"] is True and bundle["image/png"]
