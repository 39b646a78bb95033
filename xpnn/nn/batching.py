"""How many rows a network runs at a time when a call gives none, and its lazy (Dask) pass.

Measured (benchmarks: batch-sweep, mnist-infer, convnet): on CPUs batches of about a thousand
rows beat one big batch, since each layer's activations then stay in cache; a layer network's
batch is also bounded by the bytes its activations and im2col patches hold (:data:`BATCH_BYTES`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..backends import TABLE
from ..backends.compat import array_namespace
from .base import Layer

__all__ = [
    "BATCH_BYTES",
    "CPU_BATCH_ROWS",
    "MAX_BATCH_ROWS",
    "dense_batch_rows",
    "layer_batch_rows",
    "run_dask",
]

Array = Any

#: The bytes a default batch may hold in activations and im2col patches: 256 MiB keeps the
#: peak of DeepConvNet inference (float64) well under 1 GB on every backend.
BATCH_BYTES = 256 << 20
#: The most rows a default batch of a layer network has (on CPUs, about a thousand are fastest).
MAX_BATCH_ROWS = 1024
#: Rows per batch of the book's ch. 3 network on CPU devices; GPUs, JAX, Dask and
#: array-api-strict take one batch.
CPU_BATCH_ROWS = 1024


def dense_batch_rows(backend: str, device: Any) -> int | None:
    """The ch. 3 network's default: :data:`CPU_BATCH_ROWS` on NumPy and PyTorch CPU, else one batch."""
    if TABLE[backend].cpu_batches and getattr(device, "type", device) == "cpu":
        return CPU_BATCH_ROWS
    return None


def layer_batch_rows(
    layers: Sequence[Layer], arrays: Mapping[str, Array], input_shape: tuple[int, ...], itemsize: int
) -> int:
    """Rows per batch whose activations and patches fit :data:`BATCH_BYTES` (at most :data:`MAX_BATCH_ROWS`)."""
    peak, shape = 0, input_shape
    for layer in layers:
        out = layer.output_shape(shape, arrays)
        peak = max(peak, math.prod(shape) + math.prod(out) + layer.scratch(shape, arrays))
        shape = out
    return max(1, min(MAX_BATCH_ROWS, BATCH_BYTES // (peak * itemsize)))


def run_dask(x: Array, infer: Any, out: Any, n_in: int, n_out: int, dtype: Any, meta: Any) -> Array:
    """``out(infer(chunk))`` for each chunk of rows of the Dask array ``x`` (``n_in`` input axes)."""
    x = x.rechunk({i: -1 for i in range(1, n_in + 1)})

    def block(chunk: Any) -> Any:
        return out(infer(chunk), array_namespace(chunk))

    return x.map_blocks(
        block, drop_axis=list(range(2, n_in + 1)), chunks=(x.chunks[0], (n_out,)), dtype=dtype, meta=meta
    )
