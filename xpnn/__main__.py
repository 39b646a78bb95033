"""``python -m xpnn``: the ``xpnn`` command (see :mod:`xpnn.cli`)."""

import sys

from .cli import main

sys.exit(main())
