"""Helpers for reproducing HMICFRS 'PEEL: Police effectiveness 2017' from official open data.

Notebooks import from here; the logic lives here and is tested in ``tests/``.
"""

from .core.errors import PeelError
from .core.forces import FORCES, FORCE_NAMES, Force, resolve
from .core.periods import DEFAULT_PERIODS, REPORT_PERIOD, Period

__all__ = ["FORCES", "FORCE_NAMES", "Force", "PeelError", "Period", "REPORT_PERIOD", "DEFAULT_PERIODS", "resolve"]
__version__ = "0.1.0"
