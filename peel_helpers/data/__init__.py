"""The data layer: pinned source files -> readers -> validated tidy tables -> parquet cache.

``load(table)`` is what the other layers call; see :mod:`peel_helpers.data.cache`.
"""

from .cache import (UNREADABLE, build_cache, coverage, input_hashes, load, main, outcome_quarters, provenance, table_files,
                    table_key)

__all__ = ["UNREADABLE", "build_cache", "coverage", "input_hashes", "load", "main", "outcome_quarters", "provenance",
           "table_files", "table_key"]
