"""Readers: one module per official file layout, each returning one long, tidy, validated table.

============================  ===============================================================
module                        layout
============================  ===============================================================
:mod:`.recorded_crime`        ONS recorded crime at police force area level (open-data CSV)
:mod:`.ons_tables`            ONS police force area data tables (workbooks, Tables P1..P10):
                              populations, anti-social behaviour, ONS's own published rates
:mod:`.outcomes`              Home Office crime outcomes (CSV copy or official workbook)
:mod:`.lookup`                ONS lookup of districts to police force areas
:mod:`.common`                what they share: labels, footnote markers, area classification
============================  ===============================================================

Every row that names an area is classified through :mod:`peel_helpers.core.forces`:

* a territorial force gets its canonical name (``forces.resolve``);
* a known non-territorial row (British Transport Police, the fraud reporting bodies, national
  and regional totals) is labelled or dropped on purpose;
* anything else stops the build with a one-line error naming the row, so that a new spelling
  or a new kind of row can never slip in or out unnoticed.

Table layouts and column meanings are documented in ``data/README.md``; dtypes and value checks
live in :mod:`peel_helpers.data.schemas`.
"""

from __future__ import annotations

from .common import body_of, sheet_names, split_footnotes
from .lookup import read_pfa_lookup
from .ons_tables import AreaTable, ONS_MEASURES, read_area_table, read_asb, read_ons_published, read_population
from .outcomes import read_outcomes
from .recorded_crime import FRAUD_OFFENCE, read_recorded_crime

# Bump when any reader's output changes, so that existing caches are rebuilt (the data cache keys
# every table on it).
READER_VERSION = "2"

__all__ = ["AreaTable", "FRAUD_OFFENCE", "ONS_MEASURES", "READER_VERSION", "body_of", "read_area_table", "read_asb",
           "read_ons_published", "read_outcomes", "read_pfa_lookup", "read_population", "read_recorded_crime",
           "sheet_names", "split_footnotes"]
