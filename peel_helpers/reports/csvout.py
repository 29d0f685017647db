"""The data behind a chart or table, as CSV a spreadsheet can open safely.

Rows travel with the executed notebooks: a chart or table puts the rows it draws in its output's
metadata (:func:`payload`), and the combined report writes them out beside itself
(:func:`frame_from_payload`, :func:`write_csv`) without running anything again.

Results rows keep every column a reader needs to judge a value (:data:`RESULTS_COLUMNS`), the
basis and flags included, plus the interval columns where the results table has them. Flags are
written as one cell, the separate flags joined by " | " (``core.text.flags_text``).

Spreadsheet safety (OWASP, "CSV injection"): a text cell that begins with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return could run as a formula when a spreadsheet opens the file, so
such a cell is written with a leading ``'``. Numbers are written as numbers, so a negative value
stays a negative number.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import pandas as pd

from ..core.files import atomic_write
from ..core.text import flags_text

RESULTS_COLUMNS = ("force", "area", "measure", "period_end", "value", "numerator", "denominator", "unit", "basis",
                   "window", "population_year", "flags", "reason", "note", "n_forces", "excluded", "source")
INTERVAL_COLUMNS = ("ci_low", "ci_high", "ci_method", "vs_ew", "vs_ew_chance", "vs_ew_centre", "vs_ew_low",
                    "vs_ew_high", "vs_ew_chance_low", "vs_ew_chance_high", "vs_ew_method")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_CHARS = frozenset(FORMULA_START)
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_text(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet could read it as a formula. A plain number
    ("-3.5") is left alone: it can only ever be read as that number."""
    if text[:1] in _FORMULA_CHARS and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def cell(value) -> str:
    """One CSV cell: numbers as numbers (no thousands separator, up to 15 significant digits), text
    made safe, missing values empty."""
    kind = type(value)
    if kind is str:
        return safe_text(value)
    if kind is float:
        return "" if value != value else format(value, ".15g")
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return safe_text(str(value))
        return "" if math.isnan(number) else format(number, ".15g")
    if isinstance(value, (list, tuple)):
        return safe_text(flags_text(value))
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return safe_text(str(value))


def results_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Results rows (``peel_helpers.results()`` columns, or quarterly outcome rows) in the CSV's
    columns: ``flag`` becomes ``flags``, a quarter's end becomes ``period_end``, interval columns kept
    when present, other columns left out."""
    frame = rows.copy()
    if "period_end" not in frame and "quarter_end" in frame:
        frame["period_end"] = frame["quarter_end"]
    if "flag" in frame and "flags" not in frame:
        frame["flags"] = [flags_text(v) for v in frame["flag"]]
    columns = [c for c in RESULTS_COLUMNS if c in frame] + [c for c in INTERVAL_COLUMNS if c in frame]
    return frame[columns].reset_index(drop=True)


def csv_text(frame: pd.DataFrame) -> str:
    """The CSV text of ``frame`` (header row, then one line per row), every cell through :func:`cell`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")   # RFC 4180; a CR or LF inside a cell is then quoted
    writer.writerow([safe_text(str(c)) for c in frame.columns])
    for row in frame.to_numpy(dtype=object).tolist():
        writer.writerow([cell(v) for v in row])
    return buf.getvalue()


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as a spreadsheet-safe CSV (UTF-8 with a byte-order mark, which spreadsheets
    need to read non-ASCII text such as en dashes), atomically."""
    return atomic_write(path, "\ufeff" + csv_text(frame))


# --------------------------------------------------------------------------- rows carried in notebook outputs

def payload(frame: pd.DataFrame, kind: str) -> dict:
    """``frame`` as JSON-ready data for an output's metadata; ``kind`` is "results" (results rows) or
    "records" (a table's own columns). The rows travel as one JSON string (pandas' "split" layout), so
    a notebook of many charts stays quick to copy and to read."""
    text = frame.reset_index(drop=True).to_json(orient="split", index=False, double_precision=15)
    return {"kind": kind, "split": text}


def frame_from_payload(data: dict) -> pd.DataFrame:
    """The rows :func:`payload` carried, as a DataFrame in the CSV's columns."""
    split = json.loads(data["split"]) if "split" in data else data
    frame = pd.DataFrame(split.get("data", []), columns=split.get("columns", []))
    return results_frame(frame) if data.get("kind") == "results" else frame
