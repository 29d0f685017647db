"""Display text shared by every layer: the dash for "no value", number formatting, and labels."""

from __future__ import annotations

import pandas as pd

DASH = "–"


def format_value(value, unit: str, decimals: int = 1, signed: bool = False) -> str:
    """``23.4%`` for percentage units, ``71.3`` otherwise (``+`` sign if ``signed``); a dash for no value."""
    if value is None or pd.isna(value):
        return DASH
    text = f"{value:+,.{decimals}f}" if signed else f"{value:,.{decimals}f}"
    return text + "%" if unit.strip().startswith("%") else text
