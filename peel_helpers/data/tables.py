"""How each table of the data cache is built from its source files: the readers of
:mod:`peel_helpers.data.readers` per table, one release per financial year (outcomes) or mid-year
(population), each row naming the file it came from; and the coverage recorded with each table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import schemas
from ..core.errors import DataFileError, ParameterError
from ..core.periods import FinancialQuarter
from .manifest import SourceFile

TABLES = schemas.TABLES



def build_table(table: str, sources: list[SourceFile], paths: dict[str, Path]) -> pd.DataFrame:
    from . import readers

    if not sources:
        raise DataFileError(f"No source file for table {table!r} in data/manifest.toml: restore the manifest.")
    if table == "outcomes":
        return _build_outcomes(sources, paths)
    if table == "population":
        return _build_population(sources, paths)
    if table == "ons_published":
        frames = [readers.read_ons_published(paths[sf.key], source_key=sf.key) for sf in sources]
        out = pd.concat(frames, ignore_index=True).sort_values(["period_end", "measure", "body", "area"], kind="stable")
        return schemas.validate("ons_published", out.reset_index(drop=True), "ONS PFA data tables")
    path = paths[sources[0].key]
    if table == "recorded_crime":
        return readers.read_recorded_crime(path)
    if table == "asb":
        return readers.read_asb(path)
    if table == "pfa_lookup":
        return readers.read_pfa_lookup(path)
    raise ParameterError(f"Unknown table {table!r}: use one of {', '.join(TABLES)}.")  # pragma: no cover


def _build_population(sources: list[SourceFile], paths: dict[str, Path]) -> pd.DataFrame:
    """Mid-year populations from every source (Table P9 of one workbook, Table P3 of another); a
    mid-year given by two files comes from the newer release, so each row names one file."""
    from . import readers

    frames = sorted(((sf, readers.read_population(paths[sf.key], source_key=sf.key)) for sf in sources),
                    key=lambda pair: _release_order(pair[0]), reverse=True)
    parts, seen = [], set()
    for _sf, frame in frames:
        part = frame[~frame["mid_year"].isin(seen)]
        seen |= set(int(y) for y in frame["mid_year"].unique())
        parts.append(part)
    out = pd.concat(parts, ignore_index=True).sort_values(["force", "mid_year"], kind="stable")
    return schemas.validate("population", out.reset_index(drop=True), "ONS PFA data tables")


def _release_order(sf: SourceFile) -> tuple:
    return (sf.release_date, sf.required)


def _build_outcomes(sources: list[SourceFile], paths: dict[str, Path]) -> pd.DataFrame:
    """Read every outcomes source; each financial year comes from the newest release holding it."""
    from . import readers

    frames = {sf.key: readers.read_outcomes(paths[sf.key], source_key=sf.key) for sf in sources}
    by_key = {sf.key: sf for sf in sources}
    chosen: dict[str, str] = {}     # financial year -> source key
    for key, frame in frames.items():
        for fy in frame["financial_year"].unique():
            current = chosen.get(fy)
            if current is None or _release_order(by_key[key]) > _release_order(by_key[current]):
                chosen[fy] = key
    parts = []
    for key, frame in frames.items():
        years = [fy for fy, k in chosen.items() if k == key]
        if not years:
            continue
        part = frame if set(frame["financial_year"].unique()) <= set(years) else frame[frame["financial_year"].isin(years)]
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else schemas.empty("outcomes")
    out = out.sort_values(["financial_year", "quarter"], kind="stable").reset_index(drop=True)
    return out


def coverage_of(table: str, frame: pd.DataFrame) -> list:
    """JSON-friendly coverage recorded at build time (see :func:`coverage`)."""
    if table == "recorded_crime":
        dates = frame.loc[frame["body"] == "territorial", "period_end"].drop_duplicates().sort_values()
        return [d.date().isoformat() for d in dates]
    if table == "asb":
        dates = frame.loc[frame["incidents"].notna(), "year_ending"].drop_duplicates().sort_values()
        return [d.date().isoformat() for d in dates]
    if table == "population":
        return sorted(int(y) for y in frame["mid_year"].unique())
    if table == "ons_published":
        return [d.date().isoformat() for d in frame["period_end"].drop_duplicates().sort_values()]
    if table == "outcomes":
        pairs = frame[["financial_year", "quarter"]].drop_duplicates()
        quarters = sorted(FinancialQuarter.from_parts(fy, int(q)) for fy, q in pairs.itertuples(index=False))
        return [[q.financial_year, q.quarter] for q in quarters]
    return []
