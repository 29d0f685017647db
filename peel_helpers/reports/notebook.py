"""What the report notebooks call: parameter checks, tables with dashes, notes, figures, links.

Every notebook's second code cell is ``p = validate(force=force, period_end=period_end, ...)``.
It resolves the force (any spelling :func:`peel_helpers.core.forces.resolve` accepts), parses the
period ends and rejects parameter names the notebook does not take (papermill only warns
about those). Inside a kernel it also installs a handler that shows any
:class:`~peel_helpers.core.errors.PeelError` as one ``ERROR: ...`` line instead of a traceback;
the cell still fails, so papermill still marks the run as failed.

The display helpers keep the notebooks thin: each takes the validated parameters and shows
one table, note or figure.
"""

from __future__ import annotations

import ast
import difflib
import html
import os
from dataclasses import dataclass, field

from ..core.errors import ParameterError, PeelError, PeriodError
from ..core.forces import Force, resolve
from ..core.paths import ASSUMPTIONS_PATH, NOTEBOOKS_DIR
from ..core.periods import Period
from ..core.text import DASH

# Every parameter any notebook takes, with what it means (the runner and tests use this too).
PARAMETERS = {
    "force": "force name, full title, slug or ONS code (any spelling)",
    "period_end": "last day of the 12 months reported, a quarter end, e.g. 2017-06-30",
    "comparison_period_end": "end of the 12 months to compare with; empty means the previous 12 months",
}


# --------------------------------------------------------------------------- parameters

@dataclass(frozen=True)
class Params:
    """Validated notebook parameters."""

    force: Force
    period: Period
    comparison: Period | None = None
    raw: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.force.name

    def as_metadata(self) -> dict:
        out = {"force": self.force.name, "period_end": self.period.iso}
        if self.comparison is not None:
            out["comparison_period_end"] = self.comparison.iso
        return out


def _one_line_errors(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: a PeelError becomes one line, the cell still fails.

    The line is sent as the cell's error output (name, message and a one-line "traceback"),
    so Jupyter shows ``ERROR: <message>`` and papermill still records the failure.
    """
    stb = [f"ERROR: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def install_error_handler() -> bool:
    """Show PeelErrors as one line in this kernel. Returns False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((PeelError,), _one_line_errors)
    return True


def _injected_names() -> set[str]:
    """Names papermill injected into this kernel (its cell starts with '# Parameters')."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return set()
    shell = get_ipython()
    if shell is None:
        return set()
    names: set[str] = set()
    for source in shell.user_ns.get("In", []):
        if not isinstance(source, str) or not source.lstrip().startswith("# Parameters"):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def check_names(given, accepted) -> None:
    """Raise a one-line ParameterError for the first name in ``given`` not in ``accepted``."""
    accepted = list(accepted)
    for name in sorted(set(given) - set(accepted)):
        close = difflib.get_close_matches(name, accepted, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParameterError(
            f"Unknown parameter {name!r}: this notebook takes {', '.join(accepted)}.{hint} "
            "Check the -p/--parameters names (papermill --help-notebook lists them)."
        )


def parse_period(value, what: str = "period_end") -> Period:
    if not isinstance(value, str) and not hasattr(value, "year"):
        raise ParameterError(f"{what} must be a date string like '2017-06-30', not {value!r}.")
    try:
        return Period.parse(value)
    except PeriodError as err:
        raise PeriodError(f"{what}: {err}") from None


def validate(**params) -> Params:
    """Check a notebook's parameters; return them resolved. One-line errors only."""
    install_error_handler()
    check_names(params, PARAMETERS)
    check_names(_injected_names(), params)
    if "force" not in params or "period_end" not in params:
        raise ParameterError("validate() needs force= and period_end=: pass the notebook's parameters.")
    force = params["force"]
    if not isinstance(force, str) or not force.strip():
        raise ParameterError(f"force must be a force name such as 'Cambridgeshire', not {force!r}.")
    resolved = resolve(force)
    period = parse_period(params["period_end"])
    comparison = None
    if "comparison_period_end" in params:
        value = params["comparison_period_end"]
        comparison = period.previous if value in ("", None) else parse_period(value, "comparison_period_end")
        if comparison.end >= period.end:
            raise ParameterError(
                f"comparison_period_end {comparison.iso} is not before period_end {period.iso}: "
                "give an earlier quarter end, or leave it empty for the previous 12 months."
            )
    return Params(resolved, period, comparison, dict(params))


# --------------------------------------------------------------------------- display primitives

def lower_first(text: str) -> str:
    """'12 months to 30 June 2017' stays as is; 'Investigations ...' becomes 'investigations ...'."""
    return text[:1].lower() + text[1:]


def _display(obj=None, **kwargs):
    from IPython.display import display

    display(obj, **kwargs)


def markdown(text: str) -> None:
    from IPython.display import Markdown

    _display(Markdown(text))


def _html(markup: str, plain: str) -> None:
    _display({"text/html": markup, "text/plain": plain}, raw=True)


def heading(p: Params, section: str) -> None:
    """A heading naming the section, force and period."""
    period = p.period.label
    if p.comparison is not None:
        period += f", compared with the {lower_first(p.comparison.label)}"
    markdown(f"## {section}: {p.force.full_title}\n\n{period[:1].upper() + period[1:]}.")


def table(rows: list[dict], columns: list[str], *, notes_column: str | None = "note", caption: str = "") -> None:
    """An HTML table; a notes column becomes numbered notes under the table (each text once)."""
    notes: list[str] = []
    body = []
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col)
            text = DASH if value is None or value == "" or (isinstance(value, float) and value != value) else str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        if notes_column:
            marks = []
            for note in [n for n in str(row.get(notes_column) or "").split("; ") if n]:
                if note not in notes:
                    notes.append(note)
                if str(notes.index(note) + 1) not in marks:
                    marks.append(str(notes.index(note) + 1))
            cells.append(f"<td>{', '.join(marks)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns) + ("<th>Note</th>" if notes_column else "")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    note_list = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    markup = (f'<table class="peel-table">{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
              + (f'<ol class="peel-notes">{note_list}</ol>' if notes else ""))
    plain = "\n".join(" | ".join(str(r.get(c) or DASH) for c in columns) for r in rows)
    if notes:
        plain += "\n" + "\n".join(f"{i + 1}. {n}" for i, n in enumerate(notes))
    _html(markup, plain)


# --------------------------------------------------------------------------- sections

def _measures():
    from .. import measures

    return measures


def force_in_numbers(p: Params) -> None:
    """Every Force in numbers panel: force vs England and Wales, with the period and notes."""
    m = _measures()
    frame = m.force_in_numbers(p.force, p.period)
    rows = []
    for rec in frame.to_dict("records"):
        rows.append({"Measure": rec["measure"], "Unit": rec["unit"], "Period": rec["period"],
                     p.name: rec[p.name], "England and Wales": rec["England and Wales"],
                     "Source": rec["source"], "note": rec["note"] if isinstance(rec["note"], str) else ""})
    table(rows, ["Measure", "Unit", "Period", p.name, "England and Wales", "Source"],
          caption=f"Force in numbers: {p.name} and England and Wales, {lower_first(p.period.label)}")


def outcome_coverage(p: Params, *periods: Period) -> None:
    """Which quarters of outcomes each window needs, which are missing, and which file supplies them."""
    m = _measures()
    lines = []
    for period in periods or (p.period,):
        cov = m.outcome_coverage(period)
        if cov["complete"]:
            lines.append(f"- **{cov['period']}**: all four quarters ({', '.join(cov['needed'])}) are in the "
                         "loaded outcomes data, so the proportions cover the whole window.")
            continue
        files = "; ".join(
            f"`{f['filename']}` (manifest entry `{f['key']}`) for {f['financial_year']}" if f["filename"]
            else f"no file in the manifest covers {f['financial_year']}" for f in cov["files"])
        have = ", ".join(cov["available"]) or "none"
        lines.append(f"- **{cov['period']}**: missing {', '.join(cov['missing'])} (loaded: {have}). "
                     f"No proportion is shown for this window, because a part-year share would not be "
                     f"comparable. The official file that supplies the missing quarters: {files}. "
                     "Fetch it with `python -m peel_helpers.data --include-optional` and rerun.")
    markdown("**Crime outcomes coverage.**\n\n" + "\n".join(lines))


def values_table(p: Params, keys: list[str], periods: list[Period] | None = None) -> None:
    """Force and England and Wales values for ``keys`` over ``periods``, dashes with reasons."""
    m = _measures()
    rows = []
    for key in keys:
        for period in periods or [p.period]:
            fv, ew = m.force_value(key, p.force, period), m.ew_value(key, period)
            notes = [x for x in [fv.reason, *fv.flags] if x]
            if ew.value is None and ew.reason:
                notes.append(f"England and Wales: {ew.reason}")
            rows.append({"Measure": fv.label, "Period": period.label, p.name: fv.display,
                         "England and Wales": ew.display, "note": "; ".join(notes)})
    table(rows, ["Measure", "Period", p.name, "England and Wales"])


def source_line(key: str) -> str:
    """'Source: ...' text naming the release(s) behind a measure."""
    m = _measures()
    mdef = m.measure(key)
    if mdef.kind == "data_return":
        text = "HMICFRS data return (values published in the PEEL 2017 reports"
        if os.environ.get("PEEL_DATA_RETURN") or (NOTEBOOKS_DIR.parent / "data" / "input" / "data_return.csv").is_file():
            text += ", plus a supplied data-return file"
        text += ")"
        if mdef.uses_population:
            text += "; " + _provenance_text("population")
        return text
    return "; ".join(_provenance_text(t) for t in mdef.tables)


def _provenance_text(table_name: str) -> str:
    from .. import data

    return "; ".join(f"{item['title']}, {item['release']}" for item in data.provenance(table_name))


def chart(p: Params, key: str, short: str, *, compare: bool = False, notes: tuple[str, ...] = ()) -> None:
    """The by-force figure for ``key`` (both periods with ``compare``), shown as a PNG with alt text."""
    from . import figures

    m = _measures()
    mdef = m.measure(key)
    current = m.by_force(key, p.period)
    ew = m.england_and_wales(key, p.period)
    kwargs = {}
    if compare and p.comparison is not None:
        kwargs = {"previous": m.by_force(key, p.comparison), "previous_label": p.comparison.label,
                  "ew_previous": m.england_and_wales(key, p.comparison).value}
    fig = figures.force_bars(current, focal=p.name, measure=mdef.label, unit=mdef.unit, period_label=p.period.label,
                             source=source_line(key), short=short, ew=ew.value, notes=notes,
                             decimals=mdef.decimals, **kwargs)
    fig.show()  # shown here, not returned, so the notebook does not display it twice


def data_return_note(p: Params, key: str, *periods: Period) -> None:
    """Say how many forces have values for a data-return measure, and how to supply the rest."""
    m = _measures()
    lines = []
    for period in periods or (p.period,):
        frame = m.by_force(key, period)
        have = frame[frame["status"] == "ok"]["force"].tolist()
        mine = p.name in have
        if len(have) == 43:
            lines.append(f"- {period.label}: every force has a value.")
            continue
        who = ("only " + ", ".join(have)) if 0 < len(have) <= 5 else f"{len(have)} of 43 forces"
        lines.append(f"- {period.label}: values exist for {who if have else 'no force'}; "
                     f"{'this includes' if mine else 'there is none for'} {p.name}.")
    markdown(
        "**Data availability.** This measure comes from HMICFRS's own data return, which is not published "
        "as open data. The project carries the values the reports print, so the figure draws what exists "
        "and lists the other forces under it.\n\n" + "\n".join(lines) + "\n\nTo fill in every force, put a "
        "data-return file at `data/input/data_return.csv` or name it with `PEEL_DATA_RETURN` "
        "(layout in `data/input/README.md`) and rerun."
    )


def exclusions_note(key: str, period: Period) -> None:
    """Forces the England and Wales value leaves out, with the reasons."""
    agg = _measures().england_and_wales(key, period)
    if agg.excluded.empty:
        return
    if len(agg.excluded) > 12:
        if agg.included:
            markdown(f"The England and Wales value for the {lower_first(period.label)} uses the "
                     f"{len(agg.included)} forces with data; {len(agg.excluded)} have none.")
        else:
            markdown(f"No England and Wales value for the {lower_first(period.label)}: no force has data.")
        return
    items = "\n".join(f"- {r.force}: {r.reason}" for r in agg.excluded.itertuples())
    markdown(f"Left out of the England and Wales value for the {lower_first(period.label)}:\n\n{items}")


# --------------------------------------------------------------------------- links and sources

def _assumption_items(section: str) -> list[tuple[str, str, str, str]]:
    from ..data import published

    try:
        return list(published.assumptions_for(section))
    except ParameterError:  # nothing in the log names this section: link the whole log instead
        return []


def assumptions(section: str) -> None:
    """Links to the items of data/ASSUMPTIONS.md that apply to this section (a notebook stem)."""
    items = _assumption_items(section)
    rel = os.path.relpath(ASSUMPTIONS_PATH, NOTEBOOKS_DIR).replace(os.sep, "/")
    if not items:
        markdown(f"Assumptions and caveats: see [{ASSUMPTIONS_PATH.name}]({rel}).")
        return
    lines = [f"- [{ident}: {title}]({href}) (RAG rating: {rag or 'not rated'})" for ident, title, rag, href in items]
    markdown("**Assumptions and caveats that apply here** (from `data/ASSUMPTIONS.md`):\n\n" + "\n".join(lines))


def sources(*tables: str) -> None:
    """A footer naming every source file behind the section, with release and hash."""
    from .. import data

    seen, lines = set(), []
    for table_name in tables or (None,):
        for item in data.provenance(table_name):
            if item["key"] in seen:
                continue
            seen.add(item["key"])
            lines.append(f"- {item['title']} ({item['publisher']}), {item['release']}: `{item['filename']}`, "
                         f"sha256 `{item['sha256'][:12]}…`")
    markdown("**Sources.**\n\n" + "\n".join(lines))


def data_return_sources(key: str) -> None:
    """A footer for a data-return measure: where each value in the input comes from."""
    m = _measures()
    mdef = m.measure(key)
    lines = []
    try:
        from ..measures import datareturn

        frame = datareturn.load()
        rows = frame[frame["measure"].astype("string").str.startswith(mdef.family).fillna(False)]
        for src in sorted({str(s) for s in rows["source"].dropna()}):
            lines.append(f"- {src}")
    except ImportError:
        pass
    if mdef.uses_population:
        lines.append(f"- Population: {_provenance_text('population')}")
    markdown("**Sources.**\n\n" + ("\n".join(lines) if lines else "- HMICFRS data return: no values supplied."))
