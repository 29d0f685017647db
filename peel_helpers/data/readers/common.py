"""Helpers every reader shares: file labels, header keys, footnote markers, and the classification of
area rows (a territorial force, a known non-territorial body or total, or an error naming the row)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ...core import forces
from ...core.errors import DataFileError

_FOOTNOTE = re.compile(r"^(?P<name>.*?[A-Za-z\)])\s*(?P<notes>\d+(?:\s*,\s*\d+)*)\s*$")


def file_label(path: Path | str) -> str:
    """The file name, as messages name a file."""
    return Path(path).name


def header_key(text: object) -> str:
    """'Force outcomes for offences recorded in quarter' -> 'force_outcomes_for_offences_recorded_in_quarter'."""
    return re.sub(r"[^a-z0-9]+", "_", str(text).strip().lower().lstrip("\ufeff")).strip("_")


def split_footnotes(name: object) -> tuple[str, str | None]:
    """'City of London10' -> ('City of London', '10'); 'ENGLAND AND WALES6,7,8' -> (..., '6,7,8')."""
    text = " ".join(str(name).split())
    m = _FOOTNOTE.match(text)
    if not m:
        return text, None
    return m.group("name").strip(), re.sub(r"\s+", "", m.group("notes"))


# ---------------------------------------------------------------------------------------------
# Classification of area rows

def body_of(name: object, code: object = None) -> str | None:
    """'territorial', 'british_transport_police', 'fraud_body', 'aggregate', or None if unknown."""
    why = forces.classify(name, code)
    if why is None:
        return None
    if why == "territorial":
        return "territorial"
    key = forces.normalise(str(name))
    if key.startswith("british transport police") or key == "btp":
        return "british_transport_police"
    if "fraud" in key or "fraud" in why.lower():
        return "fraud_body"
    return "aggregate"


def unrecognised(source: str, label: str) -> DataFileError:
    return DataFileError(
        f"{source}: row {label!r} is neither one of the 43 territorial forces nor a known non-territorial "
        "body or total; check that the file is the pinned release, or teach peel_helpers/forces.py the spelling."
    )


def canonical(source: str, name: object, code: object = None) -> tuple[str, str | None]:
    """(body, canonical force name or None) for one area row; raises if the row is unrecognised."""
    body = body_of(name, code)
    if body is None:
        raise unrecognised(source, f"{name}" + (f" ({code})" if code else ""))
    if body != "territorial":
        return body, None
    by_code = forces.lookup(code) if code else None
    by_name = forces.lookup(name)
    if by_code is not None and by_name is not None and by_code != by_name:
        raise DataFileError(f"{source}: row {name!r} has code {code} which belongs to {by_code.name}; "
                            "the file is inconsistent; check it is the pinned release.")
    force = by_code or by_name or forces.resolve(name)
    return body, force.name


def require_all_forces(source: str, found: set[str], what: str) -> None:
    missing = [f for f in forces.FORCE_NAMES if f not in found]
    if missing:
        raise DataFileError(f"{source}: {what} has no rows for {', '.join(missing)}; "
                            "check that the file is the pinned release.")


def to_int64(values: pd.Series, source: str, column: str) -> pd.Series:
    """Numbers (or numeric text) -> Int64; any non-integer value is an error naming it."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype("Int64")
    num = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & (num.isna() | (num.astype("Float64") % 1 != 0).fillna(False))
    if bad.any():
        first = values[bad].iloc[0]
        raise DataFileError(f"{source}: column {column!r} holds {first!r}, which is not a whole number; "
                            "check that the file is the pinned release.")
    return num.astype("Float64").round().astype("Int64")


def sheet_names(path: Path | str) -> list[str]:
    from python_calamine import CalamineWorkbook

    return list(CalamineWorkbook.from_path(str(path)).sheet_names)

