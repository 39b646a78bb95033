"""Benchmark: loading the MNIST test set: from the .npy cache against decoding the .gz files again.

python benchmarks/bench.py mnist-load
"""

from __future__ import annotations

import argparse
import os

from harness import (
    interleaved,
    mnist_or_exit,
    table,
)


def run(args: argparse.Namespace) -> dict:
    """Loading the MNIST test set: from the .npy cache against decoding the .gz files again."""
    import tempfile

    from xpnn.io import mnist

    mnist_or_exit()
    with tempfile.TemporaryDirectory() as empty:

        def decode() -> object:
            # An empty cache directory per call: every load decodes (and re-checks) the .gz files.
            os.environ["XPNN_CACHE_DIR"] = tempfile.mkdtemp(dir=empty)
            return mnist.load_mnist(split="test")

        cache = tempfile.mkdtemp(dir=empty)

        def cached() -> object:
            os.environ["XPNN_CACHE_DIR"] = cache
            return mnist.load_mnist(split="test")

        times = interleaved(
            {"decode .gz (baseline)": decode, "from the .npy cache": cached},
            number=args.number or 1,
            rounds=args.rounds or 15,
        )
    os.environ.pop("XPNN_CACHE_DIR", None)
    base = times["decode .gz (baseline)"]
    rows = [{"load": k, "ms": f"{v * 1e3:.1f}", "ratio": f"{v / base:.2f}×"} for k, v in times.items()]
    return {
        "title": "load_mnist(split='test'), normalized float32",
        "target": "the cache is faster than decoding",
        "times_s": times,
        "markdown": table(rows, ["load", "ms", "ratio"]),
    }
