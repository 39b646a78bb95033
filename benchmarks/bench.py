"""xpnn benchmarks: ratios against baselines measured in the same process, interleaved.

    python benchmarks/bench.py toy                 # toy-network forward vs the book's NumPy code
    python benchmarks/bench.py --list              # all sections

Each section runs its candidates round-robin (so a noisy neighbour hits them alike), reports the
median per call, and its ratio to the section's baseline. Results go to ``benchmarks/results/``
as JSON and a markdown table (and a PNG where a section plots).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import xpnn

RESULTS = Path(__file__).parent / "results"
SECTIONS: dict[str, Callable[[argparse.Namespace], dict]] = {}


def section(fn: Callable[[argparse.Namespace], dict]) -> Callable[[argparse.Namespace], dict]:
    SECTIONS[fn.__name__.replace("_", "-")] = fn
    return fn


def interleaved(candidates: dict[str, Callable[[], object]], *, number: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each candidate, timed round-robin over ``rounds`` rounds."""
    for fn in candidates.values():  # warm-up: imports, caches, placement, JIT
        fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    return {name: statistics.median(s) for name, s in samples.items()}


def machine() -> dict[str, object]:
    info: dict[str, object] = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            f"{p['internal_api']} {p.get('version')} ({p['num_threads']} threads)" for p in threadpool_info()
        ]
    except ImportError:
        pass
    return info


def book_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def book_forward(network: dict, x: np.ndarray) -> np.ndarray:
    """The book's ``forward`` (ch. 3.4.3), verbatim in spirit: ``np.dot`` and ``1/(1+exp(-x))``."""
    W1, W2, W3 = network["W1"], network["W2"], network["W3"]
    b1, b2, b3 = network["b1"], network["b2"], network["b3"]
    a1 = np.dot(x, W1) + b1
    z1 = book_sigmoid(a1)
    a2 = np.dot(z1, W2) + b2
    z2 = book_sigmoid(a2)
    a3 = np.dot(z2, W3) + b3
    return a3


def table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


@section
def toy(args: argparse.Namespace) -> dict:
    """The toy network's ``forward`` per call against the book's raw NumPy code."""
    net = xpnn.init_network()
    x = np.array([1.0, 0.5])
    placed = xpnn.to_backend(net, "numpy")
    times = interleaved(
        {
            "book NumPy forward (baseline)": lambda: book_forward(net, x),
            "xpnn.forward(dict, x)": lambda: xpnn.forward(net, x),
            "xpnn.forward(to_backend(dict), x)": lambda: xpnn.forward(placed, x),
        },
        number=args.number or 2000,
        rounds=args.rounds or 25,
    )
    base = times["book NumPy forward (baseline)"]
    rows = [
        {"code": k, "µs per call": f"{v * 1e6:.2f}", "ratio": f"{v / base:.2f}×"} for k, v in times.items()
    ]
    return {
        "title": "Toy network, one forward call (2-3-2-2, float64, NumPy)",
        "target": "xpnn ≤ 1.5× the book's NumPy code",
        "times_s": times,
        "markdown": table(rows, ["code", "µs per call", "ratio"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="xpnn benchmarks (ratios within one run)")
    parser.add_argument("sections", nargs="*", help=f"sections to run (default: all): {', '.join(SECTIONS)}")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--number", type=int, default=0, help="calls per timing (default: per section)")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default: per section)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write JSON, markdown and PNG")
    args = parser.parse_args(argv)
    if args.list:
        for name, fn in SECTIONS.items():
            print(f"{name:14} {fn.__doc__.splitlines()[0] if fn.__doc__ else ''}")
        return 0
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    info = machine()
    for name in args.sections or list(SECTIONS):
        print(f"## {name}", flush=True)
        result = SECTIONS[name](args)
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
