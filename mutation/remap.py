"""Carry mutation/equivalent.toml over a refactor: find each stale entry's mutant under its new name.

A mutant's name is its module, its function and a number (``xpnn.export.x__rules__mutmut_164``).
Moving a module changes the first part; editing a function renumbers its mutants. An entry of
``equivalent.toml`` records the text its mutated line contains, so the same mutant can be found
again: among the mutants of a function of the same name (``x__rules``, ``xǁMLPClassifierǁfit``),
in any module, the one whose mutated line contains that text. Only a unique match is taken;
the rest are listed to be judged by hand. Patterns of ``elsewhere.toml`` that match no mutant are
listed too, with the modules where their functions now live.

Needs mutmut's mutants in mutants/ (``python mutation/generate.py`` makes them without running a
test; any ``mutmut run`` makes them too) and mutmut importable. From the repository root:

    python mutation/remap.py            # say what would change
    python mutation/remap.py --write    # rewrite the names in mutation/equivalent.toml

Then ``nox -s mutation`` and mutation/REPORT.md show the remapped entries with their diffs: read them.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import EQUIVALENT, MUTANTS, ROOT, diff_of, load_elsewhere, load_equivalents

_NUMBER = re.compile(r"__mutmut_(\d+)$")


def _number(name: str) -> int:
    found = _NUMBER.search(name)
    return int(found.group(1)) if found else -1


def function_of(name: str) -> str:
    """``x__rules`` for ``xpnn.export.x__rules__mutmut_164`` (mutmut's function names hold no dots)."""
    return _NUMBER.sub("", name.rsplit(".", 1)[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the names in equivalent.toml")
    args = parser.parse_args()
    metas = sorted((MUTANTS / "xpnn").rglob("*.py.meta"))
    if not metas:
        print("no mutants in mutants/: run `nox -s mutation` (or `mutmut run`) first", file=sys.stderr)
        return 1
    import os

    os.chdir(ROOT)  # mutmut's helpers resolve paths from the project root
    by_function: dict[str, list[tuple[str, Path]]] = defaultdict(list)  # function -> [(name, file)]
    path_of: dict[str, Path] = {}
    for meta in metas:
        path = Path(meta.relative_to(MUTANTS).as_posix().removesuffix(".meta"))
        for name in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]:
            by_function[function_of(name)].append((name, path))
            path_of[name] = path

    equivalents = load_equivalents()
    diffs: dict[str, str] = {}

    def diff(name: str) -> str:
        if name not in diffs:
            diffs[name] = diff_of(name, path_of[name])
        return diffs[name]

    # The stale entries, grouped by (function, line): k entries and exactly k new mutants of that
    # function with that line are paired in the order of their numbers (mutmut numbers in order).
    stale: dict[tuple[str, str], list[str]] = defaultdict(list)
    for old, entry in equivalents.items():
        line = entry.get("line", "")
        if not (old in path_of and line in diff(old)):
            stale[(function_of(old), line)].append(old)
    still = set(equivalents) - {old for olds in stale.values() for old in olds}
    renames: dict[str, str] = {}
    unresolved: list[str] = []
    for (function, line), olds in stale.items():
        found = [n for n, _ in by_function.get(function, []) if n not in still and line in diff(n)]
        if len(found) == len(olds):
            renames.update(zip(sorted(olds, key=_number), sorted(found, key=_number)))
        else:
            why = "no mutant of that function has that line" if not found else f"{len(found)} candidates"
            unresolved += [f"{old} (line {line!r}): {why}" for old in olds]

    for old, new in renames.items():
        print(f"{old} -> {new}")
    print(f"{len(renames)} entries renamed, {len(unresolved)} left to judge by hand", file=sys.stderr)
    for item in unresolved:
        print(f"  unresolved: {item}", file=sys.stderr)
    for entry in load_elsewhere():
        if not any(fnmatch.fnmatchcase(n, entry["pattern"]) for n in path_of):
            tail = entry["pattern"].rsplit(".", 1)[-1]
            homes = sorted(
                {str(path_of[n]) for n in path_of if fnmatch.fnmatchcase(n.rsplit(".", 1)[-1], tail)}
            )
            print(f"  elsewhere pattern matches nothing: {entry['pattern']} (now in: {homes or 'nowhere'})")
    if args.write and renames:
        text = EQUIVALENT.read_text(encoding="utf-8")
        text = re.sub(
            r'^mutant = "([^"]+)"$',
            lambda m: f'mutant = "{renames.get(m.group(1), m.group(1))}"',
            text,
            flags=re.MULTILINE,
        )
        EQUIVALENT.write_text(text, encoding="utf-8")
        print(f"wrote {EQUIVALENT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
