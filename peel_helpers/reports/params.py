"""Notebook parameters: one check for every notebook's ``parameters`` cell.

``validate(force=force, period_end=period_end, ...)`` resolves the force (any spelling
:func:`peel_helpers.core.forces.resolve` accepts), parses the period ends, checks that some source
covers the period, and rejects parameter names the notebook does not take (papermill only warns
about those). Inside a kernel it also installs a handler that shows any
:class:`~peel_helpers.core.errors.PeelError` as one ``ERROR: ...`` line instead of a traceback;
the cell still fails, so papermill still marks the run as failed.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field

from ..core.errors import ParameterError, PeelError, PeriodError
from ..core.forces import Force, resolve
from ..core.periods import Period


# Every parameter any notebook takes, with what it means (the runner and tests use this too).
PARAMETERS = {
    "force": "force name, full title, slug or ONS code (any spelling)",
    "period_end": "last day of the 12 months reported, a quarter end, e.g. 2017-06-30",
    "comparison_period_end": "end of the 12 months to compare with; empty means the previous 12 months",
    "measure": "a measure key from peel_helpers.measures.MEASURES, e.g. recorded_crime_per_1000",
    "peers": "comma-separated forces to compare with (any spelling); empty means none",
}


# --------------------------------------------------------------------------- parameters

@dataclass(frozen=True)
class Params:
    """Validated notebook parameters."""

    force: Force
    period: Period
    comparison: Period | None = None
    raw: dict = field(default_factory=dict)
    measure: str | None = None
    peers: tuple[str, ...] = ()

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
    _check_covered(period, "period_end")
    measure_key = _measure(params["measure"]) if "measure" in params else None
    peers = tuple(resolve(f.strip()).name for f in str(params.get("peers") or "").split(",") if f.strip())
    return Params(resolved, period, comparison, dict(params), measure_key, peers)


def _measure(value) -> str:
    from ..measures.registry import measure

    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"measure must be a measure key such as 'recorded_crime_per_1000', not {value!r}.")
    return measure(value.strip()).key


def _check_covered(period: Period, what: str) -> None:
    """A period no source covers would give a page of dashes: stop with one line instead."""
    from ..measures.table import covered_periods

    covered = covered_periods()
    if period not in covered:
        raise PeriodError(f"{what}: no source covers the {period.label}; the data cover period ends "
                          f"{covered[0].iso} to {covered[-1].iso} (yearly before 2007, quarterly after). "
                          "Pick a period inside that range.")
