"""``python -m xpnn.cli``: the ``xpnn`` command."""

import sys

from . import main

sys.exit(main())
