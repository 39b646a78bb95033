"""Timing helpers for the ``xpnn`` command, the examples and the benchmarks (not for the library core).

GPUs and JAX run asynchronously: a clock read right after a call measures the queueing, not
the work. :func:`wait` returns an array once it is computed; :func:`timed` times a function
that way. Nothing here is imported by the library's computing modules.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from .backends.compat import is_cupy_array, is_jax_array, is_torch_array

__all__ = ["describe_device", "peak_rss_mib", "synchronize", "timed", "wait"]


def synchronize(device: Any) -> None:
    """Wait for the work queued on ``device`` (a CuPy or CUDA PyTorch device; else nothing to do)."""
    if type(device).__module__.startswith("cupy"):
        device.synchronize()
    elif getattr(device, "type", None) == "cuda" and type(device).__module__.startswith("torch"):
        import torch

        torch.cuda.synchronize(device)


def wait(x: Any) -> Any:
    """``x``, once it is computed (for timing): JAX arrays block, CuPy and CUDA tensors synchronize."""
    if is_jax_array(x):
        return x.block_until_ready()
    if is_cupy_array(x) or is_torch_array(x):
        synchronize(x.device)
    return x


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall time of ``fn()`` over ``repeat`` runs, each ended by :func:`wait`; and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = wait(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def describe_device(backend: str, device: Any) -> str:
    """``device`` as a person reads it: ``'cpu'``, ``'cuda:0 (NVIDIA H200)'``."""
    if backend == "cupy":
        import cupy

        name = cupy.cuda.runtime.getDeviceProperties(device.id)["name"]
        return f"cuda:{device.id} ({name.decode() if isinstance(name, bytes) else name})"
    if backend == "torch" and device.type == "cuda":
        import torch

        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def peak_rss_mib() -> float:
    """This process's peak resident memory, in MiB (Linux: VmHWM, this process alone)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024
