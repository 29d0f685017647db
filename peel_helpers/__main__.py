"""``python -m peel_helpers`` is the same command as ``peel-reports``."""

import sys

from .runner import main

sys.exit(main())
