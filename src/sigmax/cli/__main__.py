"""``python -m sigmax.cli``."""

import sys

from . import run

sys.exit(run())
