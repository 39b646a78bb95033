"""Benchmark: the sigmoid shortcut (powers of two folded into the weights) against sigmoid as written.

    python benchmarks/bench.py sigmoid-shortcut

Issue 9 keeps the shortcut only if it gains at least 5 % on NumPy. ``activation="sigmoid"``
takes it; a function of one array (``lambda a: xpnn.sigmoid(a)``) computes the same numbers
the plain way, ``tanh(x/2)/2 + 1/2`` after each layer.
"""

from __future__ import annotations

import argparse

from harness import interleaved, mnist_or_exit, table

import xpnn


def run(args: argparse.Namespace) -> dict:
    """The sigmoid shortcut against sigmoid as written, on NumPy: predict on the MNIST test set."""
    x8, _, net = mnist_or_exit()
    placed = xpnn.to_backend(net, "numpy")

    def plain(a: object) -> object:
        return xpnn.sigmoid(a)

    candidates = {}
    for batch in (None, 100):
        label = "default batches" if batch is None else f"batch_size={batch}"
        candidates[f"plain sigmoid, {label}"] = lambda b=batch: xpnn.predict(
            placed, x8, batch_size=b, normalize=True, activation=plain
        )
        candidates[f"shortcut, {label}"] = lambda b=batch: xpnn.predict(
            placed, x8, batch_size=b, normalize=True
        )
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 15)
    rows = []
    for name, seconds in times.items():
        plain_time = times[name.replace("shortcut", "plain sigmoid")]
        gain = f"{(plain_time - seconds) / plain_time:.1%}" if name.startswith("shortcut") else ""
        rows.append({"code": name, "ms": f"{seconds * 1e3:.1f}", "gain over plain": gain})
    return {
        "title": "Sigmoid shortcut, 10,000 MNIST test images on NumPy, float32",
        "target": "≥ 5 % faster than plain sigmoid, else delete the shortcut",
        "times_s": times,
        "markdown": table(rows, ["code", "ms", "gain over plain"]),
    }
