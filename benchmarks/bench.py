"""xpnn benchmarks: ratios against baselines measured in the same process, interleaved.

    python benchmarks/bench.py toy                 # toy-network forward vs the book's NumPy code
    python benchmarks/bench.py --list              # all benchmarks

Each benchmark is one file, ``benchmarks/bench_<name>.py``, with a ``run(args) -> dict``; the
shared harness (round-robin timing, machine facts, tables, the book's code) is ``harness.py``.
Each runs its candidates round-robin (so a noisy neighbour hits them alike), reports the median
per call, and its ratio to the benchmark's baseline. Results go to ``benchmarks/results/`` as
JSON and a markdown table (and a PNG where a benchmark plots).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from harness import RESULTS, machine

#: The benchmarks, in the order a full run takes them: name -> its module.
NAMES = [
    "toy",
    "per-image",
    "mnist-load",
    "mnist-infer",
    "sigmoid-shortcut",
    "batch-sweep",
    "stream-memory",
    "dask-scale",
    "gpu",
]


def _section(name: str) -> Callable[[argparse.Namespace], dict]:
    return importlib.import_module(f"bench_{name.replace('-', '_')}").run


def update_readme(results: Path) -> int:
    """Replace each ``<!-- name -->`` ... ``<!-- /name -->`` block of benchmarks/README.md with results/name.md."""
    import re

    readme = Path(__file__).parent / "README.md"
    text = readme.read_text()
    for md in sorted(results.glob("*.md")):
        name = md.stem
        body = md.read_text().replace("](batch-sweep.png)", "](results/batch-sweep.png)")
        pattern = re.compile(rf"(<!-- {re.escape(name)} -->\n).*?(<!-- /{re.escape(name)} -->)", re.S)
        text, count = pattern.subn(lambda m, body=body: m.group(1) + body + m.group(2), text)
        print(f"{name}: {'updated' if count else 'no block in benchmarks/README.md'}")
    readme.write_text(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="xpnn benchmarks (ratios within one run)")
    parser.add_argument("sections", nargs="*", help=f"benchmarks to run (default: all): {', '.join(NAMES)}")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--number", type=int, default=0, help="calls per timing (default: per section)")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default: per section)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write JSON, markdown and PNG")
    parser.add_argument(
        "--readme",
        action="store_true",
        help="copy the results' tables into benchmarks/README.md's <!-- name --> blocks and exit",
    )
    args = parser.parse_args(argv)
    if args.readme:
        return update_readme(args.out)
    if args.list:
        for name in NAMES:
            doc = _section(name).__doc__
            print(f"{name:17} {doc.splitlines()[0] if doc else ''}")
        return 0
    unknown = [s for s in args.sections if s not in NAMES]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(NAMES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine()
    for name in args.sections or NAMES:
        print(f"## {name}", flush=True)
        result = _section(name)(args)
        result["machine"] = info
        result["command"] = f"python benchmarks/bench.py {name}"
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        md = f"### {result['title']}\n\nTarget: {result['target']}\n\n{result['markdown']}\n\n"
        md += f"`{result['command']}` on {info['cores']} cores, {info.get('blas', '')}, {info['date']}\n"
        (args.out / f"{name}.md").write_text(md)
        print(md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
