"""``python -m peel_helpers`` is the same command as ``peel-reports``."""

import sys

from .cli import main

sys.exit(main())
