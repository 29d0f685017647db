"""``python -m peel_helpers`` is the same command as ``peel-reports``."""

import sys

from .batch.runner import main

sys.exit(main())
