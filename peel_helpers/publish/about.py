"""The "About the data" section of a combined report: the Annex A rules and caveats that apply to
one force and window, what the basis markers mean, and the assumptions and sources the sections
cite. Read from the rules files (``data/exclusions.csv``, ``data/caveats.csv``) and the notes the
executed sections carry; nothing is computed again.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from ..core.contract import REPORT_RESULTS_CSV
from ..core.periods import Period
from ..core.text import BASES, DASH, lower_first
from ..measures.registry import MEASURES


@lru_cache(maxsize=8)
def _rules(period_iso: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every exclusion and caveat for every measure in the window and the 12 months before it
    (columns force, measure, period_end and reason/source or flag/assumption)."""
    from ..measures import rules

    period = Period.parse(period_iso)
    pairs = [rules.rules_for(q) for q in (period, period.previous)]
    return (pd.concat([e for e, _ in pairs], ignore_index=True).drop_duplicates(["measure", "period_end", "force"]),
            pd.concat([c for _, c in pairs], ignore_index=True).drop_duplicates())


@lru_cache(maxsize=8)
def _overlapping(period_iso: str) -> pd.DataFrame:
    """The exclusions of the other 12-month windows that share months with this one: those ending 3, 6
    or 9 months before or after it (the window itself and the 12 months before it are in :func:`_rules`)."""
    from ..measures import rules

    period = Period.parse(period_iso)
    ends = [d.date() for d in pd.date_range(period.end - pd.DateOffset(months=11), period.end + pd.DateOffset(months=11),
                                            freq="QE") if d.date() != period.end]
    frames = [rules.rules_for(Period.parse(e))[0] for e in ends]
    return pd.concat(frames, ignore_index=True).drop_duplicates(["measure", "period_end", "force"])


def _shared_months(force: str, period_iso: str) -> list[str]:
    """A rule of a window that shares months with this one, said where a reader of this window's values
    would otherwise not know of it (Suffolk's 2017 outcomes, in the 12 months to 31 March 2018)."""
    excl = _overlapping(period_iso)
    lines = []
    for _, words, when, labels in _grouped(excl[excl["force"] == force], "reason"):
        keys = [k for k in MEASURES if MEASURES[k].label in labels]
        quarters = (" The crime outcomes by quarter (Trends) leave out its quarters inside that window."
                    if any(MEASURES[k].outcome_types for k in keys) else "")
        lines.append(f"- **A window that shares months with this one**: Annex A left {force} out of "
                     f"{', '.join(lower_first(m) for m in labels)} for the {lower_first(when)}: {words}. No rule "
                     f"leaves it out of this window: any value of its shown here includes those months.{quarters}")
    return lines


def _grouped(frame: pd.DataFrame, text: str) -> list[tuple[str, str, str, list[str]]]:
    """(force, text, period label, measure labels) for each rule, its measures listed together."""
    out = []
    for (force, words, period), group in frame.groupby(["force", text, "period_end"], sort=False):
        labels = list(dict.fromkeys(MEASURES[k].label for k in group["measure"]))
        out.append((force, words, Period.parse(period).label, labels))
    return out


def _assumption_link(ident: str, href: str) -> str:
    return f"[{ident}]({href}#{ident.lower()})" if ident else ""


def annex_a(force: str, period_iso: str, href: str) -> str:
    """Markdown: the Annex A exclusions and caveats that touch ``force`` in the window (and the 12
    months before it, which Figures 1 and 2 compare with), then the forces the England and Wales values
    leave out."""
    excl, cav = _rules(period_iso)
    mine = [f"- **Left out** of {', '.join(lower_first(m) for m in labels)} for the {lower_first(when)}: "
            f"{words}." for _, words, when, labels in _grouped(excl[excl["force"] == force], "reason")]
    mine += [f"- **Caveat** on {', '.join(lower_first(m) for m in labels)} for the {lower_first(when)}: {words}."
             for _, words, when, labels in _grouped(cav[cav["force"] == force], "flag")]
    mine += _shared_months(force, period_iso)
    links = sorted(set(cav.loc[cav["force"] == force, "assumption"].dropna()))
    if links:
        mine.append(f"- Assumptions log: {', '.join(_assumption_link(i, href) for i in links)}.")
    lines = ["### Annex A rules for this force and window", "",
             *(mine or [f"- No Annex A rule leaves {force} out of a measure or qualifies its values in this "
                        "window or the 12 months before it."]), "",
             "### Forces left out of the England and Wales values", ""]
    others = _grouped(excl, "reason")
    lines += [f"- {who}: {', '.join(lower_first(m) for m in labels)}, {lower_first(when)}: {words}."
              for who, words, when, labels in others] or ["- None in this window."]
    lines += ["", "An England and Wales value is the sum of the counts of every force the rules leave in, divided "
              "by the sum of their bases; a sum over fewer forces than the rules allow is labelled \"N of 43 "
              "forces\", never \"England and Wales\"."]
    return "\n".join(lines)


def basis_key() -> str:
    """Markdown: what each value's basis means and how the report marks it."""
    marks = {"reproduced": "the number alone", "not_available": f"a dash ({DASH}), with the reason in a note"}
    lines = ["### How each value is marked", ""]
    for basis, (marker, words, sentence) in BASES.items():
        shown = marks.get(basis) or f"marker **{marker}** in tables; drawn differently in charts"
        lines.append(f"- **{words}** ({shown}): {sentence}.")
    return "\n".join(lines)


def gathered(title: str, notes: list[tuple[str, str]]) -> str:
    """Markdown: the assumptions or sources notes of every section under one heading, each list item
    once, in the sections' order. ``notes`` holds (section title, note markdown) pairs."""
    seen, lines = set(), [f"### {title}", ""]
    for _, text in notes:
        for line in text.splitlines():
            item = line.strip()
            if item.startswith("- ") and item not in seen:
                seen.add(item)
                lines.append(item)
    if len(lines) == 2:
        lines.append(f"- {DASH}")
    return "\n".join(lines)


def about_markdown(force: str, period: Period, notes: dict[str, list[str]], href: str,
                   results_csv: str = REPORT_RESULTS_CSV, releases: list[str] | None = None) -> list[str]:
    """The cells of "About the data": where the numbers come from (the releases of the data behind the
    report), the Annex A rules for this force and window, what the basis markers mean, and the
    assumptions and sources the sections cite (``notes``: each section's notes markdown, by role)."""
    from ..core.text import md_escape

    data = ["### Data releases", "", *(f"- {md_escape(r)}" for r in (releases or []))] if releases else []
    return ["Every number in this report comes from one results table, and each keeps its basis. The data "
            f"behind each chart and table is linked under it, and [every value this report uses]({results_csv}) "
            f"is one CSV. The [assumptions and caveats log]({href}) explains each item cited below."
            + ("\n\n" + "\n".join(data) if data else ""),
            annex_a(force, period.iso, href), basis_key(),
            gathered("Assumptions and caveats", [("", n) for n in notes.get("assumptions", [])]),
            gathered("Sources", [("", n) for n in notes.get("sources", [])])]
