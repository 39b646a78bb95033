"""Benchmark: the 10k MNIST test set through the book's network: the book's code, NumPy, xpnn, PyTorch.

python benchmarks/bench.py mnist-infer
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np
from harness import (
    book_forward,
    interleaved,
    mnist_or_exit,
    sequential,
    synced,
    table,
    torch_predict,
)

import xpnn


def _gpu_candidates(x8: np.ndarray, t: np.ndarray, net: dict) -> dict[str, Callable[[], object]]:
    """xpnn on cupy and torch-cuda, and PyTorch's nn.Sequential on cuda, where a GPU is usable."""
    found: dict[str, Callable[[], object]] = {}
    status = xpnn.backend_status()
    if status["cupy"].available:
        gpu = xpnn.to_backend(net, "cupy")
        found["xpnn[cupy]"] = synced(lambda: xpnn.predict(gpu, x8, normalize=True))
    if status["torch"].available:
        import torch

        if torch.cuda.is_available():
            gpu_t = xpnn.to_backend(net, "torch", "cuda")
            found["xpnn[torch-cuda]"] = synced(lambda: xpnn.predict(gpu_t, x8, normalize=True))
            model = sequential(net, "cuda")
            found["torch nn.Sequential (cuda)"] = synced(lambda: torch_predict(model, x8, "cuda"))
    return found


def run(args: argparse.Namespace) -> dict:
    """The 10k MNIST test set through the book's network: the book's code, NumPy, xpnn, PyTorch."""
    x8, t, net = mnist_or_exit()
    x = x8.astype(np.float32) / np.float32(255)
    W1, W2, W3 = net["W1"], net["W2"], net["W3"]
    placed = xpnn.to_backend(net, "numpy")

    def book_batches(batch_size: int) -> np.ndarray:
        return np.concatenate(
            [
                np.argmax(book_forward(net, x[i : i + batch_size]), axis=1)
                for i in range(0, len(x), batch_size)
            ]
        )

    a1, a2 = x @ W1, (x @ W1) @ W2  # activations of the hidden layers' shapes, (10k, 50) and (10k, 100)
    candidates: dict[str, Callable[[], object]] = {
        "book per-image loop": lambda: book_batches(1),
        "book batch-100": lambda: book_batches(100),
        "hand-written NumPy, one 10k batch (baseline)": lambda: np.argmax(book_forward(net, x), axis=1),
        "bare matmul chain": lambda: x @ W1 @ W2 @ W3,
        "the tanh calls alone (1.5M elements)": lambda: (np.tanh(a1), np.tanh(a2)),
        "xpnn[numpy] predict(x float32)": lambda: xpnn.predict(placed, x),
        "xpnn[numpy] predict(x uint8, normalize=True)": lambda: xpnn.predict(placed, x8, normalize=True),
    }
    status = xpnn.backend_status()
    if status["torch"].available:
        import torch

        on_torch = xpnn.to_backend(net, "torch", "cpu")
        candidates["xpnn[torch] predict(x uint8, normalize=True)"] = lambda: xpnn.predict(
            on_torch, x8, normalize=True
        )
        model = sequential(net, "cpu")
        candidates["torch nn.Sequential (cpu)"] = lambda: torch_predict(model, x8, "cpu")
        torch.set_num_threads(os.cpu_count() or 1)
    if status["jax"].available:
        on_jax = xpnn.to_backend(net, "jax")
        candidates["xpnn[jax] predict(x uint8, normalize=True)"] = synced(
            lambda: xpnn.predict(on_jax, x8, normalize=True)
        )
    candidates.update(_gpu_candidates(x8, t, net))
    # every candidate must agree with the book before its time means anything
    reference = np.asarray(book_batches(100))
    for name, fn in candidates.items():
        if name not in ("bare matmul chain", "the tanh calls alone (1.5M elements)"):
            assert np.array_equal(xpnn.to_numpy(fn()), reference), f"{name} disagrees with the book's code"
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 15)
    base, chain = times["hand-written NumPy, one 10k batch (baseline)"], times["bare matmul chain"]
    rows = [
        {
            "code": k,
            "ms": f"{v * 1e3:.1f}",
            "images/s": f"{len(x) / v:,.0f}",
            "ratio": f"{v / base:.2f}×",
            "vs matmul chain": f"{v / chain:.2f}×",
        }
        for k, v in times.items()
    ]
    return {
        "title": "MNIST test set (10,000 images), book's network: medians, ratio to hand-written NumPy",
        "target": "xpnn[numpy] ≤ 1.0× hand-written NumPy, ≤ 1.5× the bare matmul chain",
        "times_s": times,
        "markdown": table(rows, ["code", "ms", "images/s", "ratio", "vs matmul chain"]),
    }
