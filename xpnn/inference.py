"""Inference on many inputs: ``predict``, ``predict_proba`` and ``accuracy``, in batches.

All of xpnn's batching policy lives here. Inputs much larger than one batch (a host NumPy
``uint8`` array, say) are streamed: each batch is uploaded, cast on the device and computed;
only the small per-batch results stay on the device, and they are gathered once at the end.
Dask arrays stay lazy: their chunks are the batches, and nothing is computed until the result
is asked for.

Networks are used only through :class:`xpnn.runnable.Runnable` (what :func:`xpnn.network.place`
returns), so a compiled network runs through the same batching and checks as a
:class:`xpnn.Network`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ._inputs import as_input, class_labels, image_shape_hint, warn_if_unscaled
from .backends import TABLE, asarray, missing_extra, to_numpy
from .backends.compat import array_namespace, is_dask_array
from .network import place
from .runnable import Runnable

__all__ = ["accuracy", "check_training_input", "predict", "predict_proba"]

Array = Any


def _batch_rows(batch_size: Any) -> int | None:
    if batch_size is None:
        return None
    try:
        rows = operator.index(batch_size)  # int, NumPy integers; not floats, not bools
    except TypeError:
        rows = 0
    if isinstance(batch_size, (bool, np.bool_)) or rows < 1:
        raise ValueError(f"batch_size must be a positive integer or None (the default); got {batch_size!r}")
    return rows


def _as_input(x: Any, normalize: bool | None) -> Any:
    """``x`` as an array of real numbers (lists become NumPy); ``normalize=True`` only for integers."""
    x = as_input(x)
    if normalize and array_namespace(x).isdtype(x.dtype, "real floating"):
        raise ValueError(
            f"normalize=True divides integer images (uint8, 0..255) by 255, but the input is already"
            f" {x.dtype}: leave normalize out for floating input"
        )
    return x


def _batch_ndim(network: Runnable) -> int:
    """The rank of a batch: 2 for a network of vectors (``n_in`` an int), else 1 + ``len(n_in)``."""
    n_in = network.n_in
    return 1 + (len(n_in) if isinstance(n_in, tuple) else 1)


def _check_rank(x: Any, n_in: int) -> None:
    if len(x.shape) not in (1, 2):
        raise ValueError(
            f"input must be one image (n_in,) or a batch (N, n_in); got shape {tuple(x.shape)}"
            + image_shape_hint(tuple(x.shape), n_in)
        )


#: What to do about raw pixels in predict, predict_proba and accuracy (see ``warn_if_unscaled``).
_NORMALIZE_ADVICE = (
    "Pass normalize=True to divide integer images by 255 on the device (floats: divide them"
    " yourself), or normalize=False to say the network takes these values as they are."
)


def _setup(
    net: Any, x: Any, batch_size: Any, backend: str | None, device: Any, normalize: bool | None
) -> tuple[int | None, Any, Runnable, bool]:
    """The batch size, ``x`` checked, the network of a call, and ``normalize`` as a bool.

    ``normalize=None`` (the default) means "not said": raw pixels then warn, once per call.
    """
    rows = _batch_rows(batch_size)
    x = _as_input(x, normalize)
    network = place(net, x, backend=backend, device=device)
    if not isinstance(network.n_in, tuple):  # a network of vectors; CNNs check their own input
        _check_rank(x, network.n_in)
    if normalize is None:
        warn_if_unscaled(x, _NORMALIZE_ADVICE)
    return rows, x, network, bool(normalize)


def check_training_input(net: Any, x: Any, x_test: Any = None) -> Any:
    """``x`` as ``train`` takes it (lists become NumPy), after the checks ``predict`` makes.

    Refuses what is not real numbers (``TypeError``), ``load_mnist()``'s pairs, and images
    that are not flat rows (``ValueError`` saying how to flatten them); then warns once
    (:class:`UnscaledInputWarning`) if ``x`` or ``x_test`` looks like raw pixels.
    """
    x = as_input(x, "x")
    test: Any = None if x_test is None else as_input(x_test, "x_test")
    W1: Any = net["W1"] if isinstance(net, Mapping) and "W1" in net else None  # a Network's too
    W1_shape = tuple(getattr(W1, "shape", ()))
    for name, a in (("x", x), ("x_test", test)):
        hint = "" if a is None or len(W1_shape) != 2 else image_shape_hint(tuple(a.shape), int(W1_shape[0]))
        if hint and len(a.shape) != 2:
            raise ValueError(f"{name} of shape {tuple(a.shape)} does not fit W1 of shape {W1_shape}{hint}")
    if is_dask_array(x) or (len(x.shape) != 2 and isinstance(net, Mapping)):
        return x  # train refuses Dask arrays and a dict's other ranks, and saying so comes first
    advice = (
        "train has no normalize: divide by 255 first (x / 255), or load with load_mnist(normalize=True);"
        " to train on these values on purpose, warnings.simplefilter('ignore', xpnn.UnscaledInputWarning)"
    )
    if not warn_if_unscaled(x, advice, what="x") and test is not None:
        warn_if_unscaled(test, advice, what="x_test")
    return x


def _slices(n: int, batch_size: int, progress: bool) -> Iterator[slice]:
    starts = range(0, n, batch_size)
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError as e:
            raise ImportError(
                f"{missing_extra('progress=True', 'progress')}; tqdm cannot be imported here ({e})"
            ) from e
        starts = tqdm(starts, total=len(starts), unit="batch")
    for start in starts:
        yield slice(start, min(start + batch_size, n))


def _dask_batches(x: Any, rows: int | None) -> Any:
    """``x`` as a Dask array chunked along its rows only, ``rows`` at a time (else Dask's choice)."""
    import dask.array as da

    if is_dask_array(x):
        return x.rechunk({0: rows}) if rows else x
    return da.from_array(to_numpy(x), chunks=(rows or "auto", *(-1,) * (len(x.shape) - 1)))


def _outputs(
    network: Runnable,
    x: Any,
    batch_size: int | None,
    activation: Any,
    output: str,
    normalize: bool,
    progress: bool,
) -> Iterator[Array]:
    """The network's output per batch of ``x`` (one batch for a single input or a Dask array).

    Every output is checked to be finite: NaN or infinity in the logits (a NaN pixel, a NaN
    weight) would otherwise become a confident class. The check is one pass over the
    ``N x n_out`` outputs (the first layer reads ``N x n_in``), and waits for the device once,
    after the last batch; on Dask it runs when the result is computed.
    """

    batch = _batch_ndim(network)  # the rank of a batch of inputs (2 for vectors, 4 for images)
    if len(x.shape) == batch and x.shape[0] == 0:
        output = "identity"  # softmax of no rows is no rows (and Dask's max fails on them)

    def run(batch: Any) -> Array:
        return network.run(
            network.prepare_input(batch, normalize=normalize), activation=activation, output=output
        )

    if TABLE[network.backend].lazy and len(x.shape) == batch:  # Dask
        y = run(_dask_batches(x, batch_size or network.default_batch_rows))  # the chunks are the batches
        yield y.map_blocks(_raise_if_not_finite, dtype=y.dtype, meta=y._meta)
        return
    xp = network.xp
    finite = []
    n = int(x.shape[0]) if len(x.shape) == batch else 0
    if len(x.shape) < batch or n == 0:
        batches: Iterator[Any] = iter([x])
    else:
        rows = batch_size or network.default_batch_rows or n
        batches = (x[s, ...] for s in _slices(n, rows, progress))
    for batch in batches:
        y = run(batch)
        finite.append(xp.all(xp.isfinite(y), axis=-1) if len(y.shape) > 1 else xp.all(xp.isfinite(y)))
        yield y
    _raise_if_not_finite_rows(xp, finite)


def _raise_if_not_finite_rows(xp: Any, finite: list[Array], start: int = 0) -> None:
    """``finite``: per batch, whether each row's outputs are finite; raise naming the first that is not."""
    rows = finite[0] if len(finite) == 1 else xp.concat([xp.reshape(f, (-1,)) for f in finite])
    if bool(xp.all(rows)):
        return
    row = start + int(np.argmin(to_numpy(rows).reshape(-1)))
    raise ValueError(
        f"the network's output for input row {row} is not finite (NaN or infinity):"
        " check that input and the weights for NaN or infinite values"
    )


def _raise_if_not_finite(y: Array, block_info: Any = None) -> Array:
    """``y`` (one Dask chunk of outputs), after checking that it is finite."""
    start = 0
    if block_info is not None:  # name the row of the whole array, where the chunk sizes are known
        start = block_info[0]["array-location"][0][0]
        start = start if start == start else 0
    xp = array_namespace(y)
    _raise_if_not_finite_rows(xp, [xp.all(xp.isfinite(y), axis=-1)], start)
    return y


def _gather(xp: Any, parts: list[Array]) -> Array:
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def predict(
    net: Mapping[str, Array] | Runnable,
    x: Any,
    *,
    batch_size: int | None = None,
    backend: str | None = None,
    device: Any = None,
    activation: str | None = None,
    normalize: bool | None = None,
    progress: bool = False,
) -> Array:
    """Class indices: the argmax of the network's output, per input, in batches of ``batch_size``.

    Softmax is skipped: it does not change the argmax. Placement follows :func:`xpnn.forward`;
    the result is an integer array of that backend, on its device (``xpnn.to_numpy`` brings it
    home). ``x`` is one input ``(n_in,)`` (the result is 0-d) or a batch ``(N, n_in)`` (the
    result has shape ``(N,)``; an empty batch gives an empty result). ``batch_size=None``
    means the network's default: batches of 1,024 rows on NumPy and PyTorch on the CPU
    (faster than one big batch there: each layer's activations stay in cache), one batch
    elsewhere. ``activation=None`` means the network's own (``to_backend(..., activation=)``),
    else the book's sigmoid.
    ``normalize=True`` divides ``uint8`` input by 255 on the device, after the upload (a quarter
    of the bytes of float32); ``normalize=False`` takes the values as they are. Left out, raw
    pixels (integers above 1, or floats above 1 and none below 0: one ``max`` where ``x``
    lives; on Dask, an integer dtype) give one :class:`xpnn.UnscaledInputWarning` per call,
    since networks take pixels in ``[0, 1]``. ``progress=True`` shows a tqdm progress bar over the batches.

    Input must be real numbers (bool, integer, floating): anything else is a ``TypeError``, and
    so is ``load_mnist()``'s ``(images, labels)`` pair in place of ``x``.

    A ``ValueError`` names the first input row whose output is NaN or infinite (on Dask: the
    first in the chunk that found one, when the result is computed).

    >>> import numpy as np, xpnn
    >>> predict(xpnn.init_network(), np.array([[1.0, 0.5], [-1.0, 0.0]]))
    array([1, 1])
    """
    rows, x, network, normalize = _setup(net, x, batch_size, backend, device, normalize)
    xp = network.xp
    parts = [_argmax(xp, y) for y in _outputs(network, x, rows, activation, "identity", normalize, progress)]
    return _gather(xp, parts)


def _argmax(xp: Any, y: Array) -> Array:
    if is_dask_array(y) and y.shape[0] == 0:  # Dask's argmax fails on zero rows; the answer is known
        return xp.astype(y[:, 0], xp.int64)
    return xp.argmax(y, axis=-1)


def predict_proba(
    net: Mapping[str, Array] | Runnable,
    x: Any,
    *,
    batch_size: int | None = None,
    backend: str | None = None,
    device: Any = None,
    activation: str | None = None,
    normalize: bool | None = None,
    progress: bool = False,
) -> Array:
    """Class probabilities: the softmax of the network's output, shape ``(N, n_classes)``.

    Arguments as for :func:`predict`.

    >>> import numpy as np, xpnn
    >>> predict_proba(xpnn.init_network(), np.array([[1.0, 0.5]]))
    array([[0.40625907, 0.59374093]])
    """
    rows, x, network, normalize = _setup(net, x, batch_size, backend, device, normalize)
    parts = list(_outputs(network, x, rows, activation, "softmax", normalize, progress))
    return _gather(network.xp, parts)


def accuracy(
    net: Mapping[str, Array] | Runnable,
    x: Any,
    t: Any,
    *,
    batch_size: int | None = None,
    backend: str | None = None,
    device: Any = None,
    activation: str | None = None,
    normalize: bool | None = None,
    progress: bool = False,
) -> float:
    """The fraction of inputs whose predicted class is the label, as a Python float.

    ``t`` holds integer labels ``(N,)`` in ``[0, n_classes)`` (integral floats are fine) or
    one-hot rows ``(N, n_classes)`` (exactly one 1 per row); anything else is a ``ValueError``
    that says what is wrong (``(N, 1)`` labels: ravel them; soft rows ``[0.5, 0.5]``), a dtype
    that is not numbers a ``TypeError``: the check ``train`` makes too. Labels are checked where
    they live, moved to the device once,
    and matches are counted there, batch by batch; one number comes back. Dask inputs are
    computed once, as one graph; where their chunk sizes are unknown, those are computed first.
    Accuracy of no inputs is a ``ValueError``.

    >>> import numpy as np, xpnn
    >>> accuracy(xpnn.init_network(), np.array([[1.0, 0.5], [-1.0, 0.0]]), np.array([1, 0]))
    0.5
    """
    rows, x, network, normalize = _setup(net, _known_rows(x), batch_size, backend, device, normalize)
    if len(x.shape) == _batch_ndim(network) - 1:  # one input: a batch of one, with its label or one-hot row
        x = array_namespace(x).reshape(x, (1, *x.shape))
        t = to_numpy(t)
        t = np.reshape(t, (1, -1) if t.ndim == 1 and t.shape[0] > 1 else (1,))
    n = int(x.shape[0])
    labels = class_labels(to_numpy(t) if is_dask_array(t) else t, n, network.n_out)
    if n == 0:
        raise ValueError("accuracy of no inputs is undefined: give at least one input and its label")
    xp = network.xp
    labels = asarray(labels, backend=network.backend, device=network.device)
    correct = None
    start = 0
    for y in _outputs(network, x, rows, activation, "identity", normalize, progress):
        batch = n if is_dask_array(y) else int(y.shape[0])
        pred = xp.argmax(y, axis=-1)
        hits = xp.count_nonzero(pred == xp.astype(labels[start : start + batch], pred.dtype))
        correct = hits if correct is None else correct + hits
        start += batch
    return float(to_numpy(correct)) / n


def _known_rows(a: Any) -> Any:
    """A Dask array whose chunk sizes are unknown (after boolean filtering, say) with them computed.

    ``accuracy`` must match labels to inputs row by row, so it needs the counts: computing them
    runs the input's graph once more. ``predict`` and ``forward`` work with unknown sizes as they are.
    """
    if is_dask_array(a) and any(s != s for s in a.shape):  # NaN: unknown
        a = a.copy()  # a new array object: the caller's keeps its own chunks
        a.compute_chunk_sizes()
    return a
