"""Helpers for reproducing HMICFRS 'PEEL: Police effectiveness 2017' from official open data.

The package is layered; each layer imports only from the ones before it:

``core``      errors, paths, the 43 forces, reporting periods, display text
``data``      pinned source files -> readers -> validated tidy tables -> parquet cache
``measures``  rate maths, Annex A rules, every measure by force and for England and Wales
``reports``   figures, tables, notebook helpers, the reproduction ledger, HTML export
``batch``     the batch runner (``peel-reports``)

``from peel_helpers import results`` gives the one long results table every report reads: force ×
measure × period, each value with its basis (reproduced, published, supplied, part of the window)
and its source. Notebooks import from here; the logic lives here and is tested in ``tests/``.
"""

from .core.errors import PeelError
from .core.forces import FORCES, FORCE_NAMES, Force, resolve
from .core.periods import DEFAULT_PERIODS, REPORT_PERIOD, Period

__all__ = ["FORCES", "FORCE_NAMES", "Force", "MEASURES", "PeelError", "Period", "REPORT_PERIOD", "DEFAULT_PERIODS",
           "preload", "resolve", "results"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``results`` and ``MEASURES`` load the measures layer (and pandas) only when first used, so that
    ``import peel_helpers`` stays cheap for the command line."""
    if name in ("results", "MEASURES"):
        from . import measures

        return getattr(measures, name)
    raise AttributeError(f"module 'peel_helpers' has no attribute {name!r}")


def preload(quarters: bool = True) -> None:
    """Import the notebook stack and read what every report needs (the results table, and with
    ``quarters`` the quarterly outcome counts the trends section draws), so that a process forked from
    this one starts ready. Safe to call more than once; it starts no thread and opens no socket."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas  # noqa: F401
    import seaborn  # noqa: F401

    from . import data
    from .measures import outcomes, results
    from .reports import figures, notebook  # noqa: F401

    results()
    if quarters:
        outcomes.by_quarter(["action_taken"])
    data.load("pfa_lookup")
