"""``python -m spicepy``: the same CLI as the ``spicepy`` command."""

import sys

from spicepy.cli import main

sys.exit(main())
