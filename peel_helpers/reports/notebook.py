"""What the report notebooks call: parameter checks, then tables, notes and figures.

Every notebook's second code cell is ``p = nb.validate(force=force, period_end=period_end, ...)``
(see :mod:`peel_helpers.reports.params`).

Every display helper *returns* what it shows: a :class:`~peel_helpers.reports.tables.Table`,
a :class:`~peel_helpers.reports.figures.Chart` or a :class:`Note`, each rendering itself as the
last expression of a cell and keeping its data (``.data``) for an analyst to reuse. All numbers
come from :func:`peel_helpers.results`, so each keeps its basis (reproduced, published, supplied,
part of the window) wherever it appears.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from ..core.forces import resolve
from ..core.paths import ASSUMPTIONS_PATH, NOTEBOOKS_DIR
from ..core.periods import Period
from ..core.text import ENGLAND_AND_WALES, N_FORCES, flags_text, lower_first, md_escape
from . import tables
from .common import Note, rows_window, source_line  # noqa: F401  (Note and source_line: what notebooks use)
from .common import fills as _fills, periods_of as _periods, results_rows as _results
from .params import Params, validate  # noqa: F401  (the notebooks call nb.validate)
from .findings import key_findings  # noqa: F401  (the notebooks call them)
from .headline import force_in_numbers, panel  # noqa: F401
from .trends import outcome_quarters, outcome_quarters_table, trend  # noqa: F401

# --------------------------------------------------------------------------- display objects

def heading(p: Params, section: str) -> Note:
    """A heading naming the section, force and period."""
    period = p.period.label
    if p.comparison is not None:
        period += f", compared with the {lower_first(p.comparison.label)}"
    return Note(f"## {section}: {p.force.full_title}\n\n{period[:1].upper() + period[1:]}.", role="heading")


# --------------------------------------------------------------------------- tables

def values_table(p: Params, keys: list[str], periods: list[Period] | None = None):
    """The force and England and Wales for ``keys`` over ``periods``, dashes with reasons (a Table). A
    table with nothing in it is never printed: when neither the force nor England and Wales has a value,
    one sentence says why and what would fill it (a Note); when no force at all has one, nothing (the
    section's chart already says so in one sentence: see :func:`chart`). A window with no value for the
    force or England and Wales gets no lines: one sentence under the table says why."""
    from ..measures.registry import measure

    wanted = _periods(p, periods)
    rows = _results(forces=[p.name], measures=keys, periods=wanted)
    what = measure(keys[0]).label + (" and its parts" if len(keys) > 1 else "")
    if rows["value"].isna().all():
        anyone = _results(measures=keys, periods=wanted, aggregates=False)
        if anyone["value"].isna().all():
            return None
        mine = rows[rows["area"] == "force"]
        reasons = "; ".join(dict.fromkeys(str(r) for r in mine["reason"].dropna())) or "no value"
        when = " or the ".join(lower_first(q.label) for q in wanted)
        return Note(f"No value for {p.name} or England and Wales for {lower_first(what)} in the {when}: {reasons}; "
                    f"{_fills(keys[0])}.")
    keep = [q for q in wanted if rows.loc[rows["period_end"] == q.iso, "value"].notna().any()]
    table = tables.comparison(rows[rows["period_end"].isin([q.iso for q in keep])], p.name,
                              periods=[q.iso for q in keep], measures=keys,
                              caption=f"{what}: {p.name} and England and Wales")
    table.footnote = "\n".join(_no_value_line(p, rows, q) for q in wanted if q not in keep)
    return table


def _no_value_line(p: Params, rows: pd.DataFrame, period: Period) -> str:
    """'No value for Kent or England and Wales in the 12 months to 31 March 2017: <reason>.': a window of a
    values table with nothing in it, said once instead of a line of dashes per measure."""
    mine = rows[(rows["period_end"] == period.iso) & (rows["area"] == "force")]
    reason = next((str(r) for r in mine["reason"].dropna()), "no value")
    return f"No value for {p.name} or England and Wales in the {lower_first(period.label)}: {reason}."


def outcome_coverage(p: Params, *periods: Period) -> Note:
    """Which quarters of outcomes each window needs, which are loaded, and which file supplies the rest."""
    from ..measures import outcomes

    lines = []
    for period in _periods(p, periods):
        cov = outcomes.coverage(period)
        if cov["complete"]:
            lines.append(f"- **{cov['period']}**: all four quarters ({', '.join(cov['needed'])}) are loaded, "
                         "so the shares cover the whole window.")
            continue
        files = "; ".join(f"`{f['filename']}` (manifest entry `{f['key']}`) for {f['financial_year']}"
                          if f["filename"] else f"no file in the manifest covers {f['financial_year']}"
                          for f in cov["files"])
        shown = (f"The figure and tables show the shares over **{cov['window']}**, marked as part of the window; "
                 "they are not comparable with 12-month values." if cov["available"] else
                 "No share can be shown for this window.")
        lines.append(f"- **{cov['period']}**: missing {', '.join(cov['missing'])} (loaded: "
                     f"{', '.join(cov['available']) or 'none'}). No 12-month share is computed. {shown} The "
                     f"official file that supplies the missing quarters: {files}; `make data` fetches it on a "
                     "machine with internet.")
    return Note("**Crime outcomes coverage.**\n\n" + "\n".join(lines))


# --------------------------------------------------------------------------- charts

def chart(p: Params, key: str, *, compare: bool = False, intervals: bool = False):
    """The by-force figure for ``key`` (with the comparison period if ``compare``, and each value's 95%
    interval if ``intervals``), or one sentence saying there is nothing to draw and what would fill it.
    Returns a Chart or a Note."""
    from ..measures.registry import measure
    from .figures import ChartSpec, force_bars

    comparison = p.comparison if compare else None
    rows = _results(measures=[key], periods=[q for q in (p.period, comparison) if q is not None])
    if rows[rows["area"] == "force"]["value"].notna().sum() == 0:
        when = p.period.label + (f" or the {lower_first(comparison.label)}" if comparison else "")
        why = (": it comes from HMICFRS's data return, which is not published as open data"
               if measure(key).source == "data_return" else "")
        return Note(f"**No chart:** no force has a value for {lower_first(measure(key).label)} in the "
                    f"{lower_first(when)}{why}; {_fills(key)}.", no_data=True, role="figure")
    spec = ChartSpec(key, p.period.iso, p.name, comparison.iso if comparison else None, intervals=intervals)
    return force_bars(rows, spec, source=source_line(key))


def chart_guide(chart) -> Note | None:
    """How to read a by-force chart, in words generated from what it draws (the comparison window's
    diamonds and dashed line only where they are drawn); None for a chart that could not be drawn."""
    from .figures import Chart, guide_text

    return Note(guide_text(chart.data)) if isinstance(chart, Chart) else None


def funnel(p: Params, key: str | None = None):
    """The funnel plot for ``key`` (default ``p.measure``) in ``p.period``: every force against England
    and Wales with over-dispersed limits (a FunnelChart), or one sentence saying why there is nothing
    to compare. Returns a FunnelChart or a Note."""
    from ..measures.funnel import funnel as fit
    from ..measures.registry import measure
    from .figures import FunnelSpec, funnel_plot

    key = key or p.measure or "action_taken"
    rows = _results(measures=[key], periods=[p.period])
    f = fit(rows)
    if f.fit is None:
        counts = f.forces["vs_ew_method"].value_counts()
        why = "; ".join(f"{n} {'force' if n == 1 else 'forces'}: {reason}" for reason, n in counts.items())
        return Note(f"**No funnel plot:** no force can be set against England and Wales for "
                    f"{lower_first(measure(key).label)} in the {lower_first(p.period.label)} ({why}).", no_data=True,
                    role="figure")
    return funnel_plot(rows, FunnelSpec(key, p.period.iso, p.name), source=source_line(key))


def verdict(p: Params, key: str | None = None) -> Note:
    """The force against England and Wales for ``key`` (default ``p.measure``) in ``p.period``, in
    words: its value and place among the forces, both verdicts (against chance alone and against the
    usual spread between forces) with the limits in the value's unit."""
    from ..measures import verdicts
    from ..measures.registry import measure

    key = key or p.measure or "action_taken"
    rows = _results(measures=[key], periods=[p.period])
    mine = rows[(rows["area"] == "force") & (rows["force"] == p.name)]
    if mine.empty:
        return Note(f"**{p.name} against England and Wales.** No {lower_first(measure(key).label)} row for "
                    f"{p.name} in the {lower_first(p.period.label)}.")
    row = mine.iloc[0]
    text = " ".join(t for t in (verdicts.sentence(row, rows), verdicts.chance_sentence(row)) if t)
    return Note(f"**{p.name} against England and Wales, {lower_first(measure(key).short)}.** {text}")


def funnel_table(p: Params, key: str | None = None) -> tables.Table:
    """Each force's value, 95% interval and both verdicts against England and Wales, with their 99.8%
    limits, for ``key`` in ``p.period``."""
    from ..measures.funnel import funnel as fit
    from ..measures.registry import measure

    key = key or p.measure or "action_taken"
    f = fit(_results(measures=[key], periods=[p.period]))
    return tables.funnel_table(f.forces, f.aggregate, p.name,
                               caption=f"{measure(key).label}: every force against England and Wales, "
                                       f"{rows_window(f.forces, p.period)}")


def data_return_note(p: Params, key: str, *periods: Period) -> Note | None:
    """How many forces have a value for a data-return measure, of what basis, and how to supply the rest
    (None when no force has one in any of the windows: the section's chart then says so in one sentence)."""
    every = _results(measures=[key], periods=_periods(p, periods), aggregates=False)
    if every["value"].isna().all():
        return None
    lines = []
    for period in _periods(p, periods):
        rows = _results(measures=[key], periods=[period], aggregates=False)
        have = rows[rows["value"].notna()]
        kinds = ", ".join(f"{n} {b}" for b, n in have["basis"].value_counts().items())
        who = (", ".join(have["force"]) if 0 < len(have) <= 5 else f"{len(have)} of {N_FORCES} forces")
        mine = p.name in set(have["force"])
        lines.append(f"- {period.label}: values for {who if len(have) else 'no force'}"
                     f"{f' ({kinds})' if kinds else ''}; {'this includes' if mine else 'none for'} {p.name}.")
    return Note("**Data availability.** This measure comes from HMICFRS's own data return, which is not "
                "published as open data. The project carries the values the reports print, marked as "
                "published; a value from your own file is marked as supplied.\n\n" + "\n".join(lines) +
                "\n\nTo fill in every force, put a data-return file at `data/input/data_return.csv` or name it "
                "with `PEEL_DATA_RETURN` (layout in `data/input/README.md`) and rerun.")


def exclusions_note(key: str, *periods: Period) -> Note | None:
    """Which forces the England and Wales value leaves out, and why (None when it leaves out none)."""
    lines = []
    for period in periods:
        rows = _results(measures=[key], periods=[period], forces=[ENGLAND_AND_WALES])
        for row in rows[rows["area"] == "aggregate"].itertuples():
            if isinstance(row.excluded, str) and row.excluded and pd.notna(row.value):   # a sum that exists
                label = row.force if row.force != ENGLAND_AND_WALES else "The England and Wales value"
                lines.append(f"- {period.label}: {label} ({row.basis.replace('_', ' ')}) leaves out "
                             f"{row.excluded}.")
    return Note("**Left out of the England and Wales value.**\n\n" + "\n".join(lines)) if lines else None


# --------------------------------------------------------------------------- links and sources

def assumptions(section: str) -> Note:
    """Links to the items of data/ASSUMPTIONS.md that apply to this section (a notebook stem), as the
    sections' declaration (``notebooks/sections.toml``) lists them."""
    from ..core.sections import section as declared
    from ..data import published

    wanted = set(declared(section).assumptions)
    items = [[a.id, a.title, a.rag] for a in published.assumptions() if a.id in wanted]
    rel = os.path.relpath(ASSUMPTIONS_PATH, NOTEBOOKS_DIR).replace(os.sep, "/")
    if not items:
        return Note(f"Assumptions and caveats: see [{ASSUMPTIONS_PATH.name}]({rel}).", role="assumptions")
    lines = [f"- [{ident}: {title}]({rel}#{ident.lower()}) (RAG rating: {rag or 'not rated'})"
             for ident, title, rag in items]
    return Note("**Assumptions and caveats that apply here** (from `data/ASSUMPTIONS.md`):\n\n" + "\n".join(lines),
                role="assumptions", items=items)


def sources(*table_names: str) -> Note:
    """A footer naming every source file behind the section, with release and sha256."""
    from .. import data

    seen, lines = set(), []
    for name in table_names or (None,):
        for item in data.provenance(name):
            if item["key"] not in seen:
                seen.add(item["key"])
                lines.append(f"- {item['title']} ({item['publisher']}), {item['release']}: `{item['filename']}`, "
                             f"sha256 `{item['sha256']}`")
    return Note("**Sources.**\n\n" + "\n".join(lines), role="sources")


def data_return_sources(key: str) -> Note:
    """A footer for a data-return measure: where each value in the input comes from, with the files' sha256."""
    from ..measures import datareturn
    from ..measures.registry import measure

    mdef = measure(key)
    table = datareturn.load()
    rows = table[table["measure"].str.startswith(mdef.base.removesuffix("_total"))]
    lines = [f"- {md_escape(src)}" for src in sorted({str(s) for s in rows["source"].dropna()})]
    lines += [f"- {f['origin']} data-return file {md_escape(f['filename'])}, sha256 `{f['sha256']}`"
              for f in datareturn.files()]
    if mdef.uses_population:
        lines.append(f"- Population: {source_line('recorded_crime_per_1000').split('; ')[-1]}")
    return Note("**Sources.**\n\n" + "\n".join(lines), role="sources")


def records(rows: list[dict], columns: list[str], *, notes_column: str | None = "note", caption: str = "",
            empty: str | None = None):
    """A plain table of records (judgments, ledger rows): see :func:`peel_helpers.reports.tables.records`.
    A table without a row is never printed: ``empty`` is the sentence said in its place (why, and what
    would fill it), or, when ``empty`` is None, nothing, for a note above that already says so."""
    if not rows:
        return Note(empty) if empty else None
    return tables.records(rows, columns, notes_column=notes_column, caption=caption)


# --------------------------------------------------------------------------- exploring

def peer_table(p: Params, measure: str | None = None, peers: list[str] | None = None) -> tables.Table:
    """The chosen measure for the force, its peers and England and Wales, each value with its basis."""
    key = measure or p.measure or "recorded_crime_per_1000"
    names = [p.name] + [resolve(f).name for f in (peers if peers is not None else p.peers)]
    rows = _results(forces=names, measures=[key], periods=[p.period])
    return tables.by_force(rows, names, caption=f"{p.name} and peers, {lower_first(p.period.label)}")


def explain(p: Params, measure: str | None = None, force: str | None = None) -> Note:
    """Where one value comes from: its basis, window, counts, population year, caveats and source files."""
    from ..core.text import basis_sentence
    from ..measures import value
    from ..measures.registry import fmt, measure as get

    key = measure or p.measure or "recorded_crime_per_1000"
    who = force or p.name
    row = value(key, who, p.period)
    mdef = get(key)
    lines = [f"**{row['force']}, {lower_first(mdef.label)}, {lower_first(p.period.label)}: "
             f"{fmt(row['value'], mdef)}** (basis: {row['basis'].replace('_', ' ')}: {basis_sentence(row['basis'])})."]
    facts = {"Window": row["window"], "Count": row["numerator"], "Base": row["denominator"],
             "Population year": row["population_year"], "Forces summed": row["n_forces"], "Why": row["reason"],
             "Caveats": flags_text(row["flag"]), "How": row["note"], "Left out": row["excluded"], "Source": row["source"]}
    for label, val in facts.items():
        if val is not None and not pd.isna(val) and str(val):
            lines.append(f"- {label}: {val:,.0f}" if isinstance(val, float) else f"- {label}: {val}")
    return Note("\n".join(lines))


@dataclass
class Picker:
    """A force and measure picker (ipywidgets) that falls back to a static chart where widgets cannot
    run (the HTML export, nbconvert without widget state)."""

    widget: object
    static: object

    def _repr_mimebundle_(self, include=None, exclude=None):
        data, meta = self.static._repr_mimebundle_() if hasattr(self.static, "_repr_mimebundle_") else ({}, {})
        if isinstance(data, tuple):
            data, meta = data
        bundle = dict(data)
        view = getattr(self.widget, "_repr_mimebundle_", None)
        if view is not None:
            bundle.update({k: v for k, v in view().items() if k != "text/plain"})
        return bundle, meta


def picker(p: Params):
    """Pick any force and measure and see the standard chart for ``p.period``."""
    from dataclasses import replace

    from ..core.forces import FORCE_NAMES
    from ..measures.registry import MEASURES

    static = chart(p, p.measure or "recorded_crime_per_1000")
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        return static
    force_dd = widgets.Dropdown(options=list(FORCE_NAMES), value=p.name, description="Force")
    measure_dd = widgets.Dropdown(options=[(m.label, k) for k, m in MEASURES.items()],
                                  value=p.measure or "recorded_crime_per_1000", description="Measure")
    out = widgets.Output()

    def show(*_):
        with out:
            out.clear_output(wait=True)
            display(chart(replace(p, force=resolve(force_dd.value)), measure_dd.value))

    force_dd.observe(show, "value")
    measure_dd.observe(show, "value")
    show()
    return Picker(widgets.VBox([widgets.HBox([force_dd, measure_dd]), out]), static)


def ons_agreement() -> Note:
    """The headline check: our recorded crime rates and ASB rates against ONS's own published tables."""
    from ..measures import compare

    crime, asb, lines, ok = compare.validate()
    body = "\n".join(f"- {line.strip()}" if not line.startswith("  ") else f"  - {line.strip()}" for line in lines)
    verdict = "Every difference has a known cause." if ok else "**At least one difference is unexplained.**"
    return Note("**Agreement with ONS's own tables.** The strongest check of the method: the same measure, built "
                f"from the same definitions, set against the figures ONS publishes. {verdict}\n\n{body}")
