"""``python -m convzoo.cli``: the ``convzoo`` command (the bench workers run it this way)."""

import sys

from convzoo.cli import main

sys.exit(main())
