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

H200_FP32_FLOPS = 67e12  # the H200's peak FP32 (non-tensor-core) rate
H200_BYTES_PER_S = 4.8e12  # and its HBM3e bandwidth
BYTES_PER_IMAGE = 784 * 4  # a float32 image: 3,136 bytes read per image (weights stay in cache)


def run(args: argparse.Namespace) -> dict:
    """GPU: 1,000,000 host uint8 images streamed in batches: xpnn[cupy], xpnn[torch-cuda], nn.Sequential."""
    x8, _, net = mnist_or_exit()
    n, batch = 1_000_000, 100_000
    x = np.tile(x8, (n // len(x8), 1))
    flops = 2 * n * sum(int(net[f"W{i}"].size) for i in range(1, 4))
    candidates: dict[str, Callable[[], object]] = {}
    status = xpnn.backend_status()
    if status["cupy"].available:
        import cupy

        on_cupy = xpnn.to_backend(net, "cupy")
        candidates["xpnn[cupy]"] = synced(lambda: xpnn.predict(on_cupy, x, batch_size=batch, normalize=True))
        # Copy and compute apart: the upload alone, then the same images already on the GPU
        # (uint8, normalized there; and float32, as the roofline counts them).
        candidates["copy only: host uint8 -> GPU (cupy)"] = synced(lambda: cupy.asarray(x))
        x_dev8 = cupy.asarray(x)
        x_dev32 = x_dev8.astype(cupy.float32) / 255.0
        candidates["xpnn[cupy], data on the GPU (uint8)"] = synced(
            lambda: xpnn.predict(on_cupy, x_dev8, batch_size=batch, normalize=True)
        )
        candidates["xpnn[cupy], data on the GPU (float32)"] = synced(
            lambda: xpnn.predict(on_cupy, x_dev32, batch_size=batch)
        )
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
            x_t32 = torch.asarray(x, device="cuda").to(torch.float32) / 255.0

            def sequential_on_gpu() -> object:
                with torch.inference_mode():
                    return torch.cat([model(x_t32[i : i + batch]).argmax(dim=1) for i in range(0, n, batch)])

            candidates["torch nn.Sequential, data on the GPU (float32, baseline)"] = synced(sequential_on_gpu)
    if not candidates:
        why = "; ".join(f"{b}: {status[b].reason}" for b in ("cupy", "torch"))
        return {"title": "GPU", "target": "-", "markdown": f"No GPU usable here ({why}).", "times_s": {}}
    reference = np.asarray(book_forward(net, x8.astype(np.float32) / np.float32(255)).argmax(axis=1))
    for name, fn in candidates.items():
        if name.startswith("copy only"):
            continue
        assert np.array_equal(xpnn.to_numpy(fn())[: len(x8)], reference), (
            f"{name} disagrees with the book's code"
        )
    times = interleaved(candidates, number=args.number or 1, rounds=args.rounds or 7)
    # Rows with the data already on the GPU compare with nn.Sequential on GPU data; the rest with
    # nn.Sequential fed from the host.
    first = next(iter(times.values()))
    host_base = times.get("torch nn.Sequential (cuda, baseline)", first)
    gpu_base = times.get("torch nn.Sequential, data on the GPU (float32, baseline)", host_base)
    rows = [
        {
            "code": k,
            "ms": f"{v * 1e3:.1f}",
            "images/s": f"{n / v:,.0f}",
            "throughput vs baseline": f"{(gpu_base if 'on the GPU' in k else host_base) / v:.2f}×",
            "fp32 roofline": f"{flops / v / H200_FP32_FLOPS:.1%}",
            "HBM roofline": f"{n * BYTES_PER_IMAGE / v / H200_BYTES_PER_S:.1%}",
        }
        for k, v in times.items()
    ]
    return {
        "title": f"{n:,} MNIST images (batches of {batch:,}) on the GPU, float32: from the host, and already there",
        "target": "xpnn[cupy] ≥ 1.0× nn.Sequential on cuda in throughput, data on the GPU",
        "times_s": times,
        "markdown": table(
            rows, ["code", "ms", "images/s", "throughput vs baseline", "fp32 roofline", "HBM roofline"]
        ),
    }
