"""``python -m peel_helpers.data``: fetch, verify and cache the source data."""

import sys

from .cache import main

sys.exit(main())
