"""Benchmark: GPU: 1,000,000 host uint8 images streamed in batches: xpnn[cupy], xpnn[torch-cuda], nn.Sequential.

python benchmarks/bench.py gpu
"""

from __future__ import annotations

import argparse
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

H200_FP32_FLOPS = 67e12


def run(args: argparse.Namespace) -> dict:
    """GPU: 1,000,000 host uint8 images streamed in batches: xpnn[cupy], xpnn[torch-cuda], nn.Sequential."""
    x8, _, net = mnist_or_exit()
    n, batch = 1_000_000, 100_000
    x = np.tile(x8, (n // len(x8), 1))
    flops = 2 * n * sum(int(net[f"W{i}"].size) for i in range(1, 4))
    candidates: dict[str, Callable[[], object]] = {}
    status = xpnn.backend_status()
    if status["cupy"].available:
        on_cupy = xpnn.to_backend(net, "cupy")
        candidates["xpnn[cupy]"] = synced(lambda: xpnn.predict(on_cupy, x, batch_size=batch, normalize=True))
    if status["torch"].available:
        import torch

        if torch.cuda.is_available():
            on_torch = xpnn.to_backend(net, "torch", "cuda")
            candidates["xpnn[torch-cuda]"] = synced(
                lambda: xpnn.predict(on_torch, x, batch_size=batch, normalize=True)
            )
            model = sequential(net, "cuda")
            candidates["torch nn.Sequential (cuda, baseline)"] = synced(
                lambda: torch.cat(
                    [torch_predict(model, x[i : i + batch], "cuda") for i in range(0, n, batch)]
                )
            )
    if not candidates:
        why = "; ".join(f"{b}: {status[b].reason}" for b in ("cupy", "torch"))
        return {"title": "GPU", "target": "-", "markdown": f"No GPU usable here ({why}).", "times_s": {}}
    reference = np.asarray(book_forward(net, x8.astype(np.float32) / np.float32(255)).argmax(axis=1))
    for name, fn in candidates.items():
        assert np.array_equal(xpnn.to_numpy(fn())[: len(x8)], reference), (
            f"{name} disagrees with the book's code"
        )
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 7)
    base = times.get("torch nn.Sequential (cuda, baseline)", next(iter(times.values())))
    rows = [
        {
            "code": k,
            "ms": f"{v * 1e3:.1f}",
            "images/s": f"{n / v:,.0f}",
            "throughput vs baseline": f"{base / v:.2f}×",
            "fp32 roofline": f"{flops / v / H200_FP32_FLOPS:.1%}",
        }
        for k, v in times.items()
    ]
    return {
        "title": f"{n:,} MNIST images (host uint8, batches of {batch:,}) on the GPU, float32, transfers included",
        "target": "xpnn[cupy] ≥ 1.0× nn.Sequential on cuda in throughput",
        "times_s": times,
        "markdown": table(rows, ["code", "ms", "images/s", "throughput vs baseline", "fp32 roofline"]),
    }
