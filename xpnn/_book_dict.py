"""The book's network format: the dict ``{'W1', 'b1', ..., 'Wn', 'bn'}`` and its one check.

:func:`layer_arrays` is the check every entry point runs on a dict (keys, array-ness, dtype,
shapes that chain), with the errors that name what is wrong; :func:`init_network` is the
book's 3-layer toy network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._dtypes import floating_dtype
from ._inputs import check_real
from .functions import check_affine_shapes

__all__ = ["init_network", "layer_arrays"]

Array = Any


def init_network() -> dict[str, np.ndarray]:
    """The book's 3-layer toy network (2-3-2-2), as NumPy float64 arrays.

    >>> import xpnn
    >>> xpnn.forward(init_network(), [1.0, 0.5])
    array([0.31682708, 0.69627909])
    """
    return {
        "W1": np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
        "b1": np.array([0.1, 0.2, 0.3]),
        "W2": np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]),
        "b2": np.array([0.1, 0.2]),
        "W3": np.array([[0.1, 0.3], [0.2, 0.4]]),
        "b3": np.array([0.1, 0.2]),
    }


#: ``{2n: (("W1", "b1"), ..., ("Wn", "bn"))}``: the keys of an n-layer dict, spelled once.
_KEY_PAIRS = {2 * n: tuple((f"W{i}", f"b{i}") for i in range(1, n + 1)) for n in range(1, 33)}
_KEY_NAMES = {size: [k for pair in pairs for k in pair] for size, pairs in _KEY_PAIRS.items()}


def layer_arrays(net: Mapping[str, Array]) -> list[tuple[Array, Array]]:
    """``[(W1, b1), ..., (Wn, bn)]`` of a book-style dict, after checking keys and shapes.

    Raises ``ValueError`` naming the missing or unexpected keys, or the shapes that do not chain.
    """
    if type(net) is dict and len(net) in _KEY_PAIRS and all(k in net for k in _KEY_NAMES[len(net)]):
        # The common case, kept short: exactly the keys W1..Wn, b1..bn. Shapes are still checked.
        layers = [(net[w], net[b]) for w, b in _KEY_PAIRS[len(net)]]
        if all(hasattr(W, "shape") and hasattr(b, "shape") for W, b in layers):
            n_in = layers[0][0].shape[0] if len(layers[0][0].shape) == 2 else None
            for i, (W, b) in enumerate(layers, start=1):
                _check_weight(W, f"W{i}")
                _check_weight(b, f"b{i}")
                check_affine_shapes((n_in,), tuple(W.shape), tuple(b.shape), layer=str(i))
                n_in = W.shape[1]
            return layers
    if not isinstance(net, Mapping):
        raise TypeError(f"a network is a dict of W1..Wn, b1..bn arrays; got {type(net).__name__}")
    n = sum(1 for k in net if isinstance(k, str) and k[:1] == "W" and k[1:].isdigit())
    expected = [f"{p}{i}" for i in range(1, n + 1) for p in "Wb"]
    if n == 0 or set(net) != set(expected):
        missing = set(expected) - set(net)
        extra = set(net) - set(expected)
        raise ValueError(
            "a network needs the keys W1..Wn and b1..bn and nothing else;"
            + (f" missing {_some_names(sorted(missing, key=_natural))}" if missing else "")
            + (f" unexpected {_some_names(sorted(map(str, extra), key=_natural))}" if extra else "")
            + ("" if n else " (no W keys at all)")
        )
    not_arrays = [k for k in expected if not hasattr(net[k], "shape")]
    if not_arrays:
        raise TypeError(
            f"network weights must be arrays; {_some_names(not_arrays)} are not (use np.asarray, or"
            " xpnn.load_weights)"
        )
    layers = [(net[f"W{i}"], net[f"b{i}"]) for i in range(1, n + 1)]
    n_in = None
    for i, (W, b) in enumerate(layers, start=1):
        _check_weight(W, f"W{i}")
        _check_weight(b, f"b{i}")
        W_shape = tuple(W.shape)
        n_in = W_shape[0] if n_in is None and len(W_shape) == 2 else n_in
        check_affine_shapes((n_in,), W_shape, tuple(b.shape), layer=str(i))
        n_in = W_shape[1]
    return layers


def _check_weight(a: Array, key: str) -> None:
    """Weights are real numbers (complex, text or objects are never cast silently), and a NumPy
    float of more than 64 bits (longdouble) is refused by the one dtype rule before any upload."""
    check_real(a, f"weight {key}")
    dtype = a.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize > 8:
        floating_dtype(np, dtype)


def _natural(key: str) -> tuple[str, int, str]:
    """Sort key: ``b2`` before ``b10``."""
    return (key[:1], len(key), key)


#: Key names an error quotes before "... and N more" (as ``xpnn.load_weights``'s errors).
_MAX_NAMES = 5


def _some_names(names: list[str]) -> str:
    """``['W3', 'W4', ... and 2,995 more]``: the first few names (each cut short), then a count."""
    shown = [k if len(k) <= 40 else k[:37] + "..." for k in names[:_MAX_NAMES]]
    rest = len(names) - len(shown)
    return "[" + ", ".join(map(repr, shown)) + (f", ... and {rest:,} more" if rest else "") + "]"
