"""The shared harness of xpnn's benchmarks: interleaved timing, machine facts, tables, baselines.

Each benchmark is one file ``bench_<name>.py`` in this directory with a ``run(args) -> dict``
function; ``bench.py`` runs them and writes ``results/``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import xpnn
from xpnn._timing import wait

#: Where results go by default: JSON, markdown and plots, one set per benchmark.
RESULTS = Path(__file__).parent / "results"


def interleaved(candidates: dict[str, Callable[[], object]], *, number: int, rounds: int) -> dict[str, float]:
    """Median seconds per call of each candidate, timed round-robin over ``rounds`` rounds."""
    for fn in candidates.values():  # warm-up: imports, caches, placement, JIT
        fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            # Let the previous candidate's thread pool (OpenBLAS, torch) stop spinning, so it does
            # not steal the 2 cores from this one: a settle pause, outside the timed region.
            time.sleep(0.05)
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


def mnist_or_exit() -> tuple[np.ndarray, np.ndarray, dict]:
    """The MNIST test set (uint8) and the book's weights, or a clear exit where they are absent."""
    try:
        x, t = xpnn.load_mnist(normalize=False, split="test")
        return x, t, xpnn.load_sample_network()
    except (xpnn.DataNotFoundError, xpnn.DataError) as e:
        raise SystemExit(f"bench: {e}\n(set XPNN_DATA_DIR to a directory with mnist/ and weights/)") from e


def synced(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn``, returning only once its result is computed (GPUs and JAX run asynchronously)."""
    return lambda: wait(fn())


def sequential(net: dict, device: str) -> object:
    """The book's network as PyTorch users write it: Linear + Sigmoid layers."""
    import torch

    n = len(net) // 2
    layers: list[torch.nn.Module] = []
    for i in range(1, n + 1):
        W, b = net[f"W{i}"], net[f"b{i}"]
        linear = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.Sigmoid()] if i < n else [linear]
    return torch.nn.Sequential(*layers).to(device).eval()


def torch_predict(model: object, x8: np.ndarray, device: str) -> object:
    """Upload uint8, normalize on the device, forward, argmax: what xpnn.predict does."""
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(x8).to(device).to(torch.float32) / 255.0
        return model(x).argmax(dim=1)  # type: ignore[operator]
