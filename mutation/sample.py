"""Draw a seeded random sample of the mutants not yet run, for a mutation run that fits the time.

A full ``nox -s mutation`` over xpnn/ is ~9,000 mutants: hours on 2 cores. mutmut runs the mutants
it is given; this picks which. From each module's mutants that have no result yet (in ``mutants/``),
it draws ``--fraction`` of them at random (at least ``--min`` per module, all if fewer), records the
draw in ``mutation/sample.toml`` and prints the names, one per line, for ``mutmut run``.

mutation/report.py then scores a module as what ran before the draw (known exactly) plus the draw's
kill rate extended to the mutants not drawn, with a 95 % interval: an estimate, and it says so.

    python mutation/sample.py --fraction 0.3 --seed 1 --out mutants/sample.txt
    python mutation/sample.py --fraction 0.5 --seed 2 xpnn/network.py xpnn/inference.py

Run from the repository root after mutmut generated the mutants (``nox -s mutation -- --sample F``
does both).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import random
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
SAMPLE = ROOT / "mutation" / "sample.toml"
ELSEWHERE = ROOT / "mutation" / "elsewhere.toml"


def load_draws() -> list[dict]:
    """Earlier draws: ``[{"module", "seed", "fraction", "population", "drawn": [names]}]``."""
    if not SAMPLE.is_file():
        return []
    return tomllib.loads(SAMPLE.read_text(encoding="utf-8")).get("draw", [])


def _toml(draws: list[dict]) -> str:
    lines = [
        "# Random draws of mutants by mutation/sample.py (see its docstring); mutation/report.py reads",
        "# them to extend each draw's kill rate to the `population` of mutants not yet run when drawn.",
        "",
    ]
    for d in draws:
        lines += [
            "[[draw]]",
            f"module = {json.dumps(d['module'])}",
            f"seed = {d['seed']}",
            f"fraction = {d['fraction']}",
            f"population = {d['population']}",
            "drawn = [",
            *(f"    {json.dumps(name, ensure_ascii=False)}," for name in d["drawn"]),
            "]",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module paths such as xpnn/network.py (default: all)")
    parser.add_argument("--fraction", type=float, required=True, help="share of each module's unrun mutants")
    parser.add_argument("--seed", type=int, required=True, help="seed of the draw (recorded)")
    parser.add_argument("--min", type=int, default=30, help="at least this many per module (default: 30)")
    parser.add_argument("--out", type=Path, help="write the names to this file (default: standard output)")
    args = parser.parse_args()
    if not 0 < args.fraction <= 1:
        parser.error(f"--fraction must be in (0, 1]; got {args.fraction}")
    metas = sorted((MUTANTS / "xpnn").rglob("*.py.meta"))
    if not metas:
        parser.error("no mutants in mutants/: generate them first (nox -s mutation -- --sample F does)")
    draws = load_draws()
    elsewhere = []  # code no test of this run can reach: not worth drawing
    if ELSEWHERE.is_file():
        elsewhere = [
            e["pattern"] for e in tomllib.loads(ELSEWHERE.read_text(encoding="utf-8")).get("elsewhere", [])
        ]
    already = {name for d in draws for name in d["drawn"]}
    wanted = {m.removesuffix(".py.meta") for m in args.modules}
    names = []
    for meta in metas:
        module = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
        if wanted and module.removesuffix(".py") not in {w.removesuffix(".py") for w in wanted}:
            continue
        results = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        unrun = sorted(
            name
            for name, code in results.items()
            if code is None
            and name not in already
            and not any(fnmatch.fnmatchcase(name, p) for p in elsewhere)
        )
        if not unrun:
            continue
        k = min(len(unrun), max(args.min, math.ceil(args.fraction * len(unrun))))
        drawn = sorted(random.Random(f"{args.seed}:{module}").sample(unrun, k))
        draws.append(
            {
                "module": module,
                "seed": args.seed,
                "fraction": args.fraction,
                "population": len(unrun),
                "drawn": drawn,
            }
        )
        names += drawn
        print(f"{module}: {k} of {len(unrun)} not yet run", file=sys.stderr)
    SAMPLE.write_text(_toml(draws), encoding="utf-8")
    if args.out:
        args.out.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    else:
        print("\n".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
