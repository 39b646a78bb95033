"""Make mutmut's mutants in mutants/ without running any test: what remap.py and sample.py need.

``mutmut run`` first writes every mutant (a minute or two), then runs the whole test suite once to
map tests to functions (many minutes on 2 cores) before it tests a mutant. After a refactor,
``mutation/remap.py`` and ``mutation/sample.py`` only need the first step. This does only that,
with mutmut's own functions (those of mutmut 3.8, the version pyproject.toml pins). From the
repository root, with mutmut importable:

    python mutation/generate.py
    python mutation/remap.py --write
    python mutation/sample.py --fraction 0.1 --seed 3 --out mutants/drawn.txt

A later ``mutmut run`` (``nox -s mutation``) finds these mutants made and goes on from there.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from mutmut import __main__ as mutmut

    mutmut.set_mutant_under_test("mutant_generation")
    os.makedirs("mutants", exist_ok=True)
    mutmut.copy_src_dir()
    mutmut.copy_also_copy_files()
    mutmut.setup_source_paths()
    mutmut.store_lines_covered_by_tests()
    stats = mutmut.create_mutants(os.cpu_count() or 1)
    print(f"{stats.mutated} files mutated, {stats.unmodified} unchanged since the last run", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
