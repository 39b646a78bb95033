"""Benchmark: images/s against batch size, per backend (the 10k test set, uint8 in, classes out); a PNG plot.

python benchmarks/bench.py batch-sweep
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from harness import (
    interleaved,
    mnist_or_exit,
    synced,
    table,
)

import xpnn


def run(args: argparse.Namespace) -> dict:
    """Images/s against batch size, per backend (the 10k test set, uint8 in, classes out); a PNG plot."""
    x8, _, net = mnist_or_exit()
    sizes = [10, 100, 1000, 10_000]
    backends = [b for b in ("numpy", "torch", "jax", "cupy") if xpnn.backend_status()[b].available]
    candidates: dict[str, Callable[[], object]] = {}
    for name in backends:
        placed = xpnn.to_backend(net, name)
        for size in sizes:
            fn = lambda placed=placed, size=size: xpnn.predict(placed, x8, batch_size=size, normalize=True)  # noqa: E731
            candidates[f"{name}|{size}"] = synced(fn)
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 5)
    rates = {k: len(x8) / v for k, v in times.items()}
    rows = [
        {"batch size": f"{size:,}", **{b: f"{rates[f'{b}|{size}']:,.0f}" for b in backends}} for size in sizes
    ]
    plot = _plot_sweep(rates, backends, sizes, args.out / "batch-sweep.png")
    return {
        "title": "Images/s against batch size (10,000 MNIST test images, uint8 in, normalized on the device)",
        "target": "(a picture of where batching stops paying)",
        "times_s": times,
        "markdown": table(rows, ["batch size", *backends])
        + f"\n\n![images/s against batch size]({plot.name})",
    }


def _plot_sweep(rates: dict[str, float], backends: list[str], sizes: list[int], path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=110)
    ax = fig.add_subplot()
    for b in backends:
        ax.plot(sizes, [rates[f"{b}|{s}"] for s in sizes], marker="o", label=f"xpnn[{b}]")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("images/s")
    ax.set_title(f"xpnn.predict, 10k MNIST images, {os.cpu_count()} CPU cores", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path
