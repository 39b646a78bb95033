"""Training's argument checks: each argument judged once, before the first step, with a message
saying what to do. Nothing here trains."""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._inputs import class_labels
from ..backends import TABLE, asarray, backend_of, to_numpy

Array = Any

#: The one refusal of every training entry point on Dask (``train``, ``train_network``, the CLI's own).
NO_DASK = (
    "xpnn does not train on Dask arrays: train on NumPy or CuPy (x.compute() brings a Dask"
    " array home), then predict on Dask with the trained network"
)


def integer(name: str, value: Any) -> int:
    """``value`` as a Python int (NumPy integers too); anything else, bool or 2.5, is a ValueError."""
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise ValueError(f"{name} must hold integers; got {value!r}")


def positive_counts(**counts: Any) -> dict[str, int | None]:
    """``batch_size=``, ``iters=``, ``epochs=`` ... as Python ints >= 1 (None stays None), else a ValueError."""
    out: dict[str, int | None] = {}
    for name, value in counts.items():
        try:
            count = None if value is None else integer(name, value)
        except ValueError:
            count = 0
        if count is not None and count < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
        out[name] = count
    return out


def check_seed(seed: Any) -> None:
    """``seed`` as ``numpy.random.default_rng`` takes it, else an error naming ``seed``.

    None, a non-negative integer (NumPy integers too), a ``SeedSequence``, a ``BitGenerator`` or
    a ``Generator``; a negative integer is a ``ValueError``, anything else (``1.5``, ``"a"``,
    ``True``) a ``TypeError`` (NumPy's own messages do not say which argument is wrong).
    """
    if seed is None or isinstance(
        seed, (np.random.SeedSequence, np.random.BitGenerator, np.random.Generator)
    ):
        return
    try:
        value = None if isinstance(seed, (bool, np.bool_)) else operator.index(seed)
    except TypeError:
        value = None
    if value is None:
        raise TypeError(
            "seed must be a non-negative integer, None, or a numpy.random.Generator / SeedSequence;"
            f" got {type(seed).__name__} {shown(seed)}"
        )
    if value < 0:
        raise ValueError(f"seed must be a non-negative integer or None; got {shown(seed)}")


def shown(value: Any) -> str:
    """``repr(value)``, cut short: an error message quotes what it got, never 400 digits of it."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text):,} characters)"


def non_negative(name: str, value: Any) -> float:
    """A rate or a decay (``lr``, ``weight_decay``) as a Python float: finite and >= 0, else ValueError.

    The one check of ``loss``, ``gradient``, ``numerical_gradient`` and ``train``.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        try:
            result = float(value)
        except OverflowError:  # an int too large for a float (10**400)
            result = math.inf
        if math.isfinite(result) and result >= 0.0:
            return result
    raise ValueError(f"{name} must be a non-negative finite number; got {shown(value)}")


def decay(value: Any) -> float | None:
    """``weight_decay`` checked; None stays None (the network's own: ``MultiLayerNet``'s lambda, else 0)."""
    return None if value is None else non_negative("weight_decay", value)


def step(h: Any, params: Mapping[str, Array], xp: Any) -> float:
    """``h`` as a Python float, if ``w ± h`` is a meaningful central-difference step in the weights' dtype.

    Finite and positive; at least the dtype's resolution at the largest weight (below it,
    ``w + h`` rounds to ``w`` and the quotient is rounding noise); at most the weights' scale,
    ``max(1, max |w|)`` (above it the quotient measures a secant, not the derivative, and a huge
    step overflows the loss).
    """
    if not isinstance(h, numbers.Real) or isinstance(h, (bool, np.bool_)):
        raise ValueError(f"h must be a positive finite step; got {h!r}")
    h = float(h)
    if not (math.isfinite(h) and h > 0.0):
        raise ValueError(f"h must be a positive finite step; got {h}")
    dtype = next(iter(params.values())).dtype
    info = xp.finfo(dtype)
    largest = max(float(to_numpy(xp.max(xp.abs(p)))) for p in params.values())
    low = max(float(info.eps) * largest, float(info.smallest_normal))
    high = max(1.0, largest)
    if h < low:
        raise ValueError(
            f"h={h} is too small for {dtype}: w + h rounds to w for the largest weights ({largest:.3g});"
            f" use h >= {low:.2g}, or float64 weights for the book's gradient check"
        )
    if h > high:
        raise ValueError(
            f"h={h} is too large for a derivative: it exceeds the weights' scale max(1, max |w|) ="
            f" {high:.3g}; the book uses h=1e-4"
        )
    return h


def check_finite_rows(name: str, a: Array, xp: Any) -> None:
    """Refuse NaN or infinity in ``a`` (a batch, one row per input), naming its first bad row: one
    vectorised pass on the device."""
    if not xp.isdtype(a.dtype, "real floating"):
        return  # integers and booleans hold no NaN
    rows = a if len(a.shape) == 2 else xp.reshape(a, (int(a.shape[0]), -1))
    finite_rows = xp.all(xp.isfinite(rows), axis=1)
    if bool(xp.all(finite_rows)):
        return
    bad = np.flatnonzero(~to_numpy(finite_rows))  # the error path only: one flag per row comes home
    first = int(bad[0])
    what = "NaN" if np.isnan(to_numpy(rows[first, ...])).any() else "infinity"
    others = f" ({len(bad) - 1:,} more rows hold NaN or infinity)" if len(bad) > 1 else ""
    raise ValueError(
        f"{name} row {first} has {what}{others}: drop or repair those rows before training"
        f" (np.isfinite({name}).all(axis=1) marks the good ones)"
    )


def check_not_dask(x: Any, backend: str | None) -> None:
    """Refuse training on Dask (``backend``, or ``x``'s library): :data:`NO_DASK`."""
    if not all(TABLE[n].trainable for n in (backend, backend_of(x)) if n in TABLE):  # Dask
        raise ValueError(NO_DASK)


def labels(network: Any, t: Any, n: int, name: str = "t") -> Array:
    """``t`` checked by the one label check (:func:`xpnn.accuracy`'s), as class indices on the network's device.

    Soft rows (``[0.5, 0.5]``), NaN and out-of-range labels are refused here, before any step.
    """
    return asarray(
        class_labels(t, n, network.n_out, name=name), backend=network.backend, device=network.device
    )


def data(name: str, x: Any, network: Any) -> Array:
    """``x`` on the network's device as it is (cast batch by batch later), checked: its shape, finite."""
    X = asarray(x, backend=network.backend, device=network.device)
    n_in = network.input_shape
    if tuple(X.shape[1:]) != n_in or X.shape[0] < 1:
        fits = "to fit W1" if len(n_in) == 1 else "to fit the network's input"
        want = ", ".join(map(str, n_in))
        raise ValueError(f"{name} must have shape (N, {want}) {fits}; got {tuple(X.shape)}")
    check_finite_rows(name, X, network.xp)
    return X


def finite_params(network: Any) -> None:
    """Refuse starting weights that hold NaN or infinity."""
    xp = network.xp
    for key, value in network.params.items():
        if not bool(xp.all(xp.isfinite(value))):
            raise ValueError(
                f"the network's {key} holds NaN or infinity: training cannot start from it"
                " (draw a new one with xpnn.random_network)"
            )
