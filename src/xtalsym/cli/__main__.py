"""``python -m xtalsym.cli``."""

import sys

from . import main

sys.exit(main())
