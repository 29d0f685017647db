"""The measures layer: every number the report shows, for all 43 forces and England and Wales.

``results()`` is the one table every output reads; :data:`MEASURES` is the one registry.
"""

from .registry import FORCE_IN_NUMBERS, MEASURES, MeasureDef, fmt, measure
from .table import COLUMNS, check_periods, clear_caches, covered_periods, results, value

__all__ = ["COLUMNS", "FORCE_IN_NUMBERS", "MEASURES", "MeasureDef", "check_periods", "clear_caches", "covered_periods",
           "fmt", "measure", "results", "value"]
