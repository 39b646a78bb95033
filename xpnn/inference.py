"""Inference on many inputs: ``predict``, ``predict_proba`` and ``accuracy``, in batches.

Inputs much larger than one batch (a host NumPy ``uint8`` array, say) are streamed: each batch
is uploaded, cast on the device and computed; only the small per-batch results stay on the
device, and they are gathered once at the end. Dask arrays stay lazy: their chunks are the
batches, and nothing is computed until the result is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ._backends import backend_of, to_numpy
from .functions import _softmax
from .network import (
    HIDDEN_ACTIVATIONS,
    Activation,
    Network,
    _activation,
    _network_for,
    prepare_input,
    run_layers,
)

__all__ = ["accuracy", "predict", "predict_proba"]

Array = Any


def _setup(
    net: Mapping[str, Array],
    x: Any,
    batch_size: int | None,
    backend: str | None,
    device: Any,
    activation: Any,
) -> tuple[Any, Network, Activation]:
    """``x`` as an array, the placed network and the hidden activation of a call."""
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or None (the default); got {batch_size!r}")
    x = _as_array(x)
    return x, _network_for(net, x, backend, device), _activation(activation, HIDDEN_ACTIVATIONS, "activation")


def _slices(n: int, batch_size: int, progress: bool) -> Iterator[slice]:
    step = batch_size
    starts = range(0, n, step)
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError as e:
            raise ImportError("progress=True needs tqdm: pip install 'xpnn[progress]'") from e
        starts = tqdm(starts, total=len(starts), unit="batch")
    for start in starts:
        yield slice(start, min(start + step, n))


def _outputs(
    network: Network,
    x: Any,
    batch_size: int | None,
    hidden: Activation,
    out: Activation,
    normalize: bool,
    progress: bool,
) -> Iterator[Array]:
    """The network's output per batch of ``x`` (one batch for a single input or a Dask array)."""
    impl = network._backend
    if len(x.shape) < 2 or impl.lazy:
        if impl.lazy and len(x.shape) >= 2:
            x = impl.chunked(x, network.device, batch_size)  # the chunks are the batches
        yield run_layers(network, prepare_input(network, x, normalize=normalize), hidden, out)
        return
    n = int(x.shape[0])
    for s in _slices(n, batch_size or impl.default_batch_rows(network.device) or max(n, 1), progress):
        yield run_layers(network, prepare_input(network, x[s, ...], normalize=normalize), hidden, out)


def _identity(a: Array, xp: Any) -> Array:
    return a


def _gather(xp: Any, parts: list[Array]) -> Array:
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def predict(
    net: Mapping[str, Array],
    x: Any,
    *,
    batch_size: int | None = None,
    backend: str | None = None,
    device: Any = None,
    activation: str | Activation = "sigmoid",
    normalize: bool = False,
    progress: bool = False,
) -> Array:
    """Class indices: the argmax of the network's output, per input, in batches of ``batch_size``.

    Softmax is skipped: it does not change the argmax. Placement follows :func:`xpnn.forward`;
    the result is an integer array of that backend, on its device (``xpnn.to_numpy`` brings it
    home). ``batch_size=None`` means the backend's default: batches of 1,024 rows on NumPy and
    PyTorch on the CPU (faster than one big batch there: each layer's activations stay in
    cache), one batch elsewhere.
    ``normalize=True`` divides ``uint8`` input by 255 on the device, after the upload (a quarter
    of the bytes of float32). ``progress=True`` shows a tqdm progress bar over the batches.
    """
    x, network, hidden = _setup(net, x, batch_size, backend, device, activation)
    xp = network.xp
    parts = [
        xp.argmax(y, axis=-1)
        for y in _outputs(network, x, batch_size, hidden, _identity, normalize, progress)
    ]
    return _gather(xp, parts)


def predict_proba(
    net: Mapping[str, Array],
    x: Any,
    *,
    batch_size: int | None = None,
    backend: str | None = None,
    device: Any = None,
    activation: str | Activation = "sigmoid",
    normalize: bool = False,
    progress: bool = False,
) -> Array:
    """Class probabilities: the softmax of the network's output, shape ``(N, n_classes)``.

    Arguments as for :func:`predict`.
    """
    x, network, hidden = _setup(net, x, batch_size, backend, device, activation)
    return _gather(network.xp, list(_outputs(network, x, batch_size, hidden, _softmax, normalize, progress)))


def accuracy(
    net: Mapping[str, Array],
    x: Any,
    t: Any,
    *,
    batch_size: int | None = None,
    backend: str | None = None,
    device: Any = None,
    activation: str | Activation = "sigmoid",
    normalize: bool = False,
    progress: bool = False,
) -> float:
    """The fraction of inputs whose predicted class is the label, as a Python float.

    ``t`` holds integer labels ``(N,)`` or one-hot labels ``(N, n_classes)``. Matches are
    counted on the device, batch by batch; one number comes back. Dask inputs are computed
    once, as one graph; where their chunk sizes are unknown, those are computed first.
    """
    x, t = _known_rows(_as_array(x)), _known_rows(_as_array(t))
    x, network, hidden = _setup(net, x, batch_size, backend, device, activation)
    xp = network.xp
    impl = network._backend
    n = int(x.shape[0]) if x.shape else 0
    t_shape = tuple(t.shape)
    if not t_shape or t_shape[0] != n:
        raise ValueError(
            f"{n} inputs but labels of shape {t_shape}: give one label (or one-hot row) per input"
        )
    if n == 0:
        raise ValueError("accuracy of no inputs is undefined")
    one_hot = len(t_shape) == 2
    correct = None
    start = 0
    for y in _outputs(network, x, batch_size, hidden, _identity, normalize, progress):
        rows = n if backend_of(y) == "dask" else int(y.shape[0])
        tb = impl.asarray(t[start : start + rows, ...], network.device)
        labels = xp.argmax(tb, axis=-1) if one_hot else tb
        pred = xp.argmax(y, axis=-1)
        hits = xp.count_nonzero(pred == xp.astype(labels, pred.dtype))
        correct = hits if correct is None else correct + hits
        start += rows
    return float(to_numpy(correct)) / n


def _known_rows(a: Any) -> Any:
    """A Dask array whose chunk sizes are unknown (after boolean filtering, say) with them computed.

    ``accuracy`` must match labels to inputs row by row, so it needs the counts: computing them
    runs the input's graph once more. ``predict`` and ``forward`` work with unknown sizes as they are.
    """
    if backend_of(a) == "dask" and any(s != s for s in a.shape):  # NaN: unknown
        a = a.copy()  # a new array object: the caller's keeps its own chunks
        a.compute_chunk_sizes()
    return a


def _as_array(x: Any) -> Any:
    """Arrays pass through; lists and scalars become NumPy arrays."""
    return x if hasattr(x, "shape") else np.asarray(x)
