"""Benchmark: the book's per-image loop: its own NumPy code, a plain dict, and placed networks.

    python benchmarks/bench.py per-image

The base is the book's own ch. 3 code (``sigmoid = 1 / (1 + exp(-x))``, ``np.dot``) on the
dict; issue 19's target is ``forward(dict, x)`` on NumPy within 1.5x of it (a dict is checked
once, then remembered by the identity, shape and dtype of its arrays). Issue 9 decided the
upload cache by this loop: ``forward(dict, x, backend="torch")`` places the weights on every
call (there is no hidden cache), ``forward(to_backend(dict, "torch"), x)`` uses weights placed
once. A MNIST-sized random network (784-50-100-10, float32), 1,000 images.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from harness import interleaved, table

import xpnn


def _network(sizes: tuple[int, ...]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    net = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        net[f"W{i}"] = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        net[f"b{i}"] = (rng.standard_normal(n_out) * 0.1).astype(np.float32)
    return net


def _book_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def book_forward(network: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The book's ch. 3 ``forward`` (3 layers, sigmoid, identity output), as printed."""
    W1, W2, W3 = network["W1"], network["W2"], network["W3"]
    b1, b2, b3 = network["b1"], network["b2"], network["b3"]
    z1 = _book_sigmoid(np.dot(x, W1) + b1)
    z2 = _book_sigmoid(np.dot(z1, W2) + b2)
    return np.dot(z2, W3) + b3


def run(args: argparse.Namespace) -> dict:
    """The book's per-image loop: forward(dict, x, backend=...) per call against to_backend once."""
    net = _network((784, 50, 100, 10))
    x = np.random.default_rng(1).standard_normal((1000, 784)).astype(np.float32)
    candidates = {
        "book's forward(network, x) (NumPy)": lambda: [book_forward(net, row) for row in x],
        "forward(dict, x) (NumPy)": lambda: [xpnn.forward(net, row) for row in x],
    }
    for name in ("numpy", "torch"):
        if not xpnn.backend_status()[name].available:
            continue
        placed = xpnn.to_backend(net, name)
        candidates[f"forward(to_backend(dict, {name!r}), x)"] = lambda p=placed: [
            xpnn.forward(p, row) for row in x
        ]
        candidates[f"forward(dict, x, backend={name!r})"] = lambda b=name: [
            xpnn.forward(net, row, backend=b) for row in x
        ]
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 9)
    base = next(iter(times.values()))
    rows = [
        {"code": k, "µs per image": f"{v / len(x) * 1e6:.1f}", "ratio": f"{v / base:.2f}×"}
        for k, v in times.items()
    ]
    return {
        "title": "The book's per-image loop, 1,000 images, 784-50-100-10 float32",
        "target": "forward(dict, x) on NumPy <= 1.5x the book's code; to_backend once is the fast way elsewhere",
        "times_s": times,
        "markdown": table(rows, ["code", "µs per image", "ratio"]),
    }
