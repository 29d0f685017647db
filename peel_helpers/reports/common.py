"""What every report helper shares: the :class:`Note` display object, the results rows, a measure's
source line and what would fill a measure that has no value."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.periods import Period


@dataclass
class Note:
    """Markdown that renders itself. ``no_data`` marks a section that has nothing to draw; the batch
    runner reads that mark (output metadata ``peel.no_data``) to label the index cell "no data".
    ``role`` (output metadata ``peel.role``) tells the combined report what the note is: a section's
    "heading", its "assumptions" or "sources" (gathered under "About the data"), or a "figure" that
    could not be drawn (it keeps its figure number). ``items`` (``peel.items``) carries what the
    note lists as data, e.g. the assumption ids, titles and ratings, so a page can link them itself."""

    text: str
    no_data: bool = False
    role: str = ""
    items: list | None = None

    def _repr_mimebundle_(self, include=None, exclude=None):
        meta = {k: v for k, v in (("no_data", self.no_data), ("role", self.role), ("items", self.items)) if v}
        return {"text/markdown": self.text, "text/plain": self.text}, ({"peel": meta} if meta else {})

    def __str__(self) -> str:
        return self.text



def results_rows(**kwargs) -> pd.DataFrame:
    from ..measures import results

    return results(**kwargs)


def periods_of(p: Params, periods) -> list[Period]:
    return [q for q in (periods or [p.period]) if q is not None]



def source_line(key: str) -> str:
    """'Source' text naming the release(s) behind a measure."""
    from .. import data
    from ..measures import datareturn
    from ..measures.registry import measure

    mdef = measure(key)
    tables_used = {"recorded_crime": ["recorded_crime", "population"], "outcomes": ["outcomes"],
                   "asb_incidents": ["asb", "population"]}.get(mdef.computes, ["population"] if mdef.uses_population
                                                              else [])
    parts = []
    if mdef.source == "data_return":
        text = "HMICFRS data return (values published in the PEEL 2017 reports"
        parts.append(text + (", plus a supplied data-return file)" if datareturn.user_file() else ")"))
    for name in tables_used:
        parts += [f"{i['title']}, {i['release']}" for i in data.provenance(name)]
    return "; ".join(dict.fromkeys(parts))


def fills(key: str) -> str:
    from ..measures.registry import measure

    if measure(key).source == "data_return":
        return ("a data-return file (data/input/data_return.csv, or PEEL_DATA_RETURN; layout in "
                "data/input/README.md) would fill it")
    return "the official file named in the coverage note above would fill it"


def rows_window(rows: pd.DataFrame, period: Period) -> str:
    """The months the values in ``rows`` cover, for a title that names what the rows hold: 'the 12 months
    to 30 June 2017' ('12 months to ...' as the label writes it), or, for values over part of it,
    'April–June 2017 only: 1 of 4 quarters (part of the 12 months to 30 June 2017)'."""
    label = period.label[:1].lower() + period.label[1:]
    have = rows[rows["value"].notna()] if "value" in rows else rows
    windows = sorted({w for w in have.get("window", pd.Series(dtype=object)) if isinstance(w, str)}
                     - {period.label})
    partial = have["basis"].eq("partial_window").any() if "basis" in have else False
    if not windows or not partial:
        return label
    return f"{'; '.join(windows)} (part of the {label})"
