"""The house style shared by every chart: colours (and their contrast on white), how each basis of a
value is drawn, the sizes of the figure's parts, the SVG settings, and wrapping of the text lines."""

from __future__ import annotations

import textwrap

# The Analysis Function colours, except the other forces' grey: #BFBFBF has 1.8:1 contrast on white, so a
# mid grey (3.4:1 on white, 3:1 against the focal blue) keeps every bar visible (WCAG 2.2, 1.4.11).
FOCUS, OTHER, ACCENT, TEXT, GRID = "#12436D", "#8C8C8C", "#F46A25", "#3D3D3D", "#D9D9D9"
CATEGORICAL = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
# basis -> how a bar of that basis is drawn (hatch pattern, face white?) and its legend words
BAR_STYLE = {
    "reproduced": {"hatch": None, "hollow": False},
    "published": {"hatch": "////", "hollow": True},
    "supplied": {"hatch": "\\\\\\\\", "hollow": True},
    "partial_window": {"hatch": "xxx", "hollow": False},
}
# the comparison period's diamonds: hollow for 12-month values, cross-hatched (as part-window bars
# are) for values over part of the window
DIAMOND = {False: {"marker": "D", "s": 20, "facecolor": "white", "edgecolor": TEXT, "linewidth": 1.1},
           True: {"marker": "D", "s": 34, "facecolor": "white", "edgecolor": TEXT, "linewidth": 1.0,
                  "hatch": "xxxxxx"}}
INTERVAL_NOTE = ("Lines through the bars: each value's 95% interval, the chance variation of a count (not sampling "
                 "error); a value published without counts has none.")
DPI, WIDTH_IN, ROW_IN, LEFT_IN, TITLE_IN, LINE_IN, WRAP = 100, 8.0, 0.2, 1.75, 0.42, 0.2, 118
CUT_RATIO = 3.0          # one force more than this many times the next: the value axis is cut (see axis_cut)
# SVG that is the same bytes for the same chart: fixed id salt (a chart shown in a notebook salts its ids
# with its own key instead, see base.chart_key), no date, text kept as text (and a short font list: each
# text element repeats it)
SVG_RC = {"svg.hashsalt": "peel-effectiveness", "svg.fonttype": "none",
          "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"]}
SVG_METADATA = {"Date": None, "Creator": None}
SVG_LIMIT = 1_000_000    # bytes: a chart whose SVG is heavier than this is shown as PNG (page weight)
IMAGE_TYPES = ("image/svg+xml", "image/png")   # how notebooks executed before charts became text/html show one


def contrast(colour, background="#FFFFFF") -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    from matplotlib.colors import to_rgb

    def luminance(c):
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in to_rgb(c)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(colour), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_colour(colour: str, minimum: float = 4.5) -> str:
    """``colour``, darkened just enough to read as text on white (4.5:1): labels keep their line's hue."""
    from matplotlib.colors import to_hex, to_rgb

    rgb = to_rgb(colour)
    for step in range(21):
        shade = to_hex([v * (1 - step / 20) for v in rgb])
        if contrast(shade) >= minimum:
            return shade
    return "#000000"



def wrap(lines: list[str]) -> list[str]:
    """Text lines wrapped to the figure's width (:data:`WRAP` characters)."""
    return [part for line in lines for part in (textwrap.wrap(line, WRAP) or [""])]
