"""The measures layer: every number the report shows, for all 43 forces and England and Wales."""

from .compute import *  # noqa: F401,F403
from .compute import MEASURES, by_force, clear_caches, england_and_wales, force_value, ew_value, measure  # noqa: F401
