"""The book's batch table: the shapes of a batch through a network (:func:`shape_trace`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._book_dict import init_network, layer_arrays  # noqa: F401  (the doctests' init_network)
from .functions import check_affine_shapes

__all__ = ["format_shape_trace", "shape_trace"]

Array = Any


def shape_trace(net: Mapping[str, Array], x: Any) -> list[tuple[str, tuple[int, ...]]]:
    """The shapes of a batch through the network, as the book's batch table.

    Nothing is computed; only the shapes are followed, and a broken chain raises ``ValueError``.

    >>> shape_trace(init_network(), np.zeros((100, 2)))
    [('X', (100, 2)), ('W1', (2, 3)), ('W2', (3, 2)), ('W3', (2, 2)), ('Y', (100, 2))]
    """
    layers = layer_arrays(net)
    x_shape = tuple(int(n) for n in np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)
    check_affine_shapes(x_shape, tuple(layers[0][0].shape), tuple(layers[0][1].shape), layer="1")
    rows: list[tuple[str, tuple[int, ...]]] = [("X", x_shape)]
    rows += [(f"W{i}", tuple(W.shape)) for i, (W, _) in enumerate(layers, start=1)]
    rows.append(("Y", (*x_shape[:-1], int(layers[-1][0].shape[1]))))
    return rows


def format_shape_trace(trace: list[tuple[str, tuple[int, ...]]]) -> str:
    """The trace as the book prints it: a row of names over a row of shapes.

    >>> print(format_shape_trace(shape_trace(init_network(), np.zeros((100, 2)))))
    X         W1      W2      W3      ->  Y
    100 x 2   2 x 3   3 x 2   2 x 2   ->  100 x 2
    """
    shapes = [" x ".join(map(str, s)) for _, s in trace]
    names = [n for n, _ in trace]
    widths = [max(len(a), len(b)) for a, b in zip(names, shapes)]

    def row(cells: list[str]) -> str:
        body = "   ".join(c.ljust(w) for c, w in zip(cells[:-1], widths[:-1]))
        return f"{body}   ->  {cells[-1]}"

    return row(names) + "\n" + row(shapes)
