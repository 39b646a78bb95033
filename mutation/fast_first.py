"""A pytest plugin for ``nox -s mutation``: against a mutant, run the fastest of its tests first.

mutmut hands pytest the tests that reach the mutated function in no particular order and stops at
the first failure (``-x``), so a mutant that a 0.1 s test kills may first wait for a 20 s one.
This orders the tests by the durations mutmut recorded in its stats run (``mutmut-stats.json``,
in the ``mutants/`` directory where the tests run). Outside a mutant run it does nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    stats = Path("mutmut-stats.json")
    if mutant in ("", "stats", "mutant_generation") or not stats.is_file():
        return
    durations = json.loads(stats.read_text(encoding="utf-8")).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
