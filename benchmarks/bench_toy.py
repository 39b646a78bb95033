"""Benchmark: the toy network's ``forward`` per call against the book's raw NumPy code.

python benchmarks/bench.py toy
"""

from __future__ import annotations

import argparse

import numpy as np
from harness import (
    book_forward,
    interleaved,
    table,
)

import xpnn


def run(args: argparse.Namespace) -> dict:
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
