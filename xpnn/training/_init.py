"""New networks for training: :func:`random_network` (the book's ``weight_init_std``, He, Xavier)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._dtypes import floating_dtype
from ..nn.multilayer import WEIGHT_INITS  # the one table of the book's weight scales
from ._checks import check_seed, integer

__all__ = ["WEIGHT_INITS", "random_network"]


def random_network(
    sizes: Sequence[int], *, weight_init: str | float = "he", seed: int | None = None, dtype: Any = "float32"
) -> dict[str, np.ndarray]:
    """A new network of layer widths ``sizes`` (input first), as a book-style dict of NumPy arrays.

    Weights are drawn from a normal distribution with standard deviation ``sqrt(2/n)`` for
    ``weight_init="he"``, ``sqrt(1/n)`` for ``"xavier"`` (``n`` the layer's inputs), or the
    float given (the book's ``0.01``); biases are zero. The draw comes from
    ``numpy.random.default_rng(seed)`` in float64 and is then cast to ``dtype``, so a seed gives
    the same network (up to that rounding) for every backend and dtype.

    >>> net = random_network([784, 50, 10], weight_init=0.01, seed=0)
    >>> {k: (v.shape, str(v.dtype)) for k, v in net.items()}
    {'W1': ((784, 50), 'float32'), 'b1': ((50,), 'float32'), 'W2': ((50, 10), 'float32'), 'b2': ((10,), 'float32')}
    """
    sizes = [integer("sizes", s) for s in sizes]
    check_seed(seed)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs at least two positive layer widths (input first); got {sizes}")
    if isinstance(weight_init, str):
        if weight_init.lower() not in WEIGHT_INITS:
            raise ValueError(
                f"unknown weight_init {weight_init!r}; choose 'he', 'xavier' or a standard deviation (0.01)"
            )
        std = WEIGHT_INITS[weight_init.lower()]
    elif (
        isinstance(weight_init, (int, float))
        and not isinstance(weight_init, bool)
        and math.isfinite(weight_init)
        and weight_init >= 0
    ):
        std = lambda n: float(weight_init)  # noqa: E731
    else:
        raise ValueError(
            f"weight_init must be 'he', 'xavier' or a finite standard deviation >= 0; got {weight_init!r}"
        )
    dtype = np.dtype(floating_dtype(np, dtype))  # the one dtype rule (xpnn._dtypes.floating_dtype)
    rng = np.random.default_rng(seed)
    net: dict[str, np.ndarray] = {}
    for i in range(1, len(sizes)):
        n_in, n_out = sizes[i - 1], sizes[i]
        with np.errstate(over="ignore"):  # an overflow is reported below, in words
            net[f"W{i}"] = (rng.standard_normal((n_in, n_out)) * std(n_in)).astype(dtype)
        if not np.isfinite(net[f"W{i}"]).all():
            raise ValueError(
                f"weight_init={weight_init!r} overflows {dtype.name} (its largest value is"
                f" {float(np.finfo(dtype).max):.4g}): choose a smaller standard deviation"
            )
        net[f"b{i}"] = np.zeros(n_out, dtype=dtype)
    return net
