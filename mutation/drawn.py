"""Print the names of the mutants drawn in mutation/sample.toml, for ``nox -s mutation -- NAMES``.

nox -s mutation -- $(python mutation/drawn.py)                  # every draw
nox -s mutation -- $(python mutation/drawn.py xpnn/io/)         # the draws of modules under a path
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample import load_draws

if __name__ == "__main__":
    prefixes = tuple(sys.argv[1:]) or ("",)
    print("\n".join(n for d in load_draws() if d["module"].startswith(prefixes) for n in d["drawn"]))
