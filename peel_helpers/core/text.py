"""Display text shared by every layer: the dash for "no value", number formatting, the England and
Wales label and the words that name a value's basis.

A value's *basis* says where it came from; every table, chart, alt text and ledger row takes its
wording from :data:`BASES`, so the label cannot drift between layers.
"""

from __future__ import annotations

import re

import pandas as pd

DASH = "\u2013"
ENGLAND_AND_WALES = "England and Wales"
N_FORCES = 43

# basis -> (marker used in tables, short label, sentence for footnotes and alt text)
BASES: dict[str, tuple[str, str, str]] = {
    "reproduced": ("", "reproduced", "computed by this project from the official open data"),
    "published": ("P", "published", "copied from the HMICFRS report, not reproduced from data"),
    "supplied": ("S", "supplied", "from the user's HMICFRS data-return file"),
    "partial_window": ("W", "part of the window",
                       "computed over only part of the 12-month window, so not comparable with a 12-month value"),
    "not_available": ("", "not available", "no value"),
}
# basis values that carry a number
VALUED = ("reproduced", "published", "supplied", "partial_window")


def format_value(value, unit: str, decimals: int | None = 1, signed: bool = False) -> str:
    """``23.4%`` for percentage units, ``71.3`` otherwise (``+`` sign if ``signed``); a dash for no value.
    ``decimals=None`` writes whole counts without decimals ("578") and anything else with one."""
    if value is None or pd.isna(value):
        return DASH
    if decimals is None:
        whole = float(value) == int(value) and "%" not in unit and "per" not in unit
        decimals = 0 if whole else 1
    text = f"{value:+,.{decimals}f}" if signed else f"{value:,.{decimals}f}"
    return text + "%" if unit.strip().startswith("%") else text


def aggregate_label(n_forces, n_allowed) -> str:
    """"England and Wales" only when the sum covers every force the rules allow; otherwise
    "N of 43 forces", so that a partial sum is never mistaken for the national value."""
    if n_forces is None or pd.isna(n_forces) or n_allowed is None or int(n_forces) >= int(n_allowed):
        return ENGLAND_AND_WALES
    return f"{int(n_forces)} of {N_FORCES} forces"


def basis_marker(basis: str) -> str:
    """The one-letter table marker for a basis ("" for reproduced values and dashes)."""
    return BASES.get(str(basis), ("", "", ""))[0]


def basis_words(basis: str) -> str:
    """A few words naming the basis, for alt text and legends ("published", "supplied", ...)."""
    return BASES.get(str(basis), ("", str(basis), ""))[1]


def basis_sentence(basis: str) -> str:
    """What the basis means, for footnotes."""
    return BASES.get(str(basis), ("", "", str(basis)))[2]


def flag_items(value) -> list[str]:
    """The flags of one results row (its ``flag`` column) as a list of separate strings.

    The column holds a list per row; a flag may itself contain "; " or ",", so flags are never
    joined into one string and split again. None, NA and an empty list mean no flag."""
    if value is None or isinstance(value, float) and pd.isna(value) or value is pd.NA:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if isinstance(v, str) and v]


FLAG_SEPARATOR = " | "


def flags_text(value, sep: str = FLAG_SEPARATOR) -> str:
    """A row's flags as one line (a CSV cell, a sentence): the items joined by ``sep`` ("" for none).
    The default separator appears in no flag, so the items can be told apart."""
    return sep.join(flag_items(value))


def lower_first(text: str) -> str:
    """'Investigations ...' becomes 'investigations ...'; '12 months to ...' is unchanged."""
    return text[:1].lower() + text[1:]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&\"'=])")


def md_escape(text) -> str:
    """``text`` as plain words inside markdown: every character markdown or HTML could read as markup
    (``<``, ``&``, ``*``, ``[``, a backslash, ...) is backslash-escaped, so a file name, a path or a
    note from a user's file shows as itself and never becomes a tag, a link or a script."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", str(text))
