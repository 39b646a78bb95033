"""The book's batch table: the shapes of a batch through a network (:func:`shape_trace`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from ._book_dict import init_network, layer_arrays  # noqa: F401  (the doctests' init_network)
from .functions import check_affine_shapes
from .nn.base import Layer, Params, Shape, WeightedLayer
from .nn.layers import mlp_layers
from .nn.sequential import Sequential, is_layer_network

__all__ = ["format_shape_trace", "shape_trace"]

Array = Any
Trace = list[tuple[str, tuple[int, ...]]]


def shape_trace(net: Mapping[str, Array] | Sequential, x: Any) -> Trace:
    """The shapes of a batch through the network, as the book's batch table.

    ``net`` is any network: the book's dict or a placed :class:`xpnn.Network` give the book's
    table (``X``, each ``W``, ``Y``); a layer network (:class:`xpnn.Sequential`, ``SimpleConvNet``,
    ``DeepConvNet``, ``MultiLayerNet``) gives ``X``, a row per weighted layer and per layer that
    changes the shape (``Convolution1``, ``Pooling1``, ``Affine2``, ...), then ``Y``. Both fold
    each layer's ``output_shape`` over ``net.layers`` (a dict's: :func:`xpnn.nn.layers.mlp_layers`).
    Nothing is computed, so it is instant for any network; a broken chain raises ``ValueError``
    naming the layer and what it expected.

    >>> shape_trace(init_network(), np.zeros((100, 2)))
    [('X', (100, 2)), ('W1', (2, 3)), ('W2', (3, 2)), ('W3', (2, 2)), ('Y', (100, 2))]
    >>> from xpnn.nn import Affine, Relu
    >>> params = {"W1": np.ones((4, 3)), "b1": np.zeros(3), "W2": np.eye(3, 2), "b2": np.zeros(2)}
    >>> shape_trace(Sequential([Affine(1), Relu(), Affine(2)], params, input_shape=(4,)), np.zeros((5, 4)))
    [('X', (5, 4)), ('Affine1', (5, 3)), ('Affine2', (5, 2)), ('Y', (5, 2))]
    """
    x_shape = tuple(int(n) for n in np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)
    if is_layer_network(net):
        return _layer_trace(net, x_shape)
    # The book's dict or its placed Network (anything else: layer_arrays' TypeError).
    net = cast(Mapping[str, Array], net)
    pairs = layer_arrays(net)
    check_affine_shapes(x_shape, tuple(pairs[0][0].shape), tuple(pairs[0][1].shape), layer="1")
    layers = net.layers if isinstance(net, Sequential) else mlp_layers(len(pairs))
    rows: Trace = [("X", x_shape)]
    rows += [(f"W{i}", tuple(W.shape)) for i, (W, _) in enumerate(pairs, start=1)]
    out = _fold(layers, net, x_shape[-1:], x_shape)[-1][3]
    rows.append(("Y", (*x_shape[:-1], *out)))
    return rows


def _layer_trace(net: Sequential, x_shape: tuple[int, ...]) -> Trace:
    """``X``, a row per weighted or shape-changing layer, ``Y``: for one input or a batch of them."""
    batch = () if len(x_shape) == len(net.input_shape) else x_shape[:1]
    one = tuple(int(n) for n in x_shape[len(batch) :])
    steps = _fold(net.layers, {**net.params, **net.state}, one, x_shape)
    if one != net.input_shape:  # it chains (an Affine flattens), yet is not the input the network takes
        raise ValueError(
            f"input of shape {x_shape} does not fit this network: it takes one input {net.input_shape}"
            f" or a batch (N, {', '.join(map(str, net.input_shape))})"
        )
    rows: Trace = [("X", x_shape)]
    rows += [(name, (*batch, *out)) for layer, name, before, out in steps if _row(layer, before, out)]
    rows.append(("Y", (*batch, *steps[-1][3])))
    return rows


def _row(layer: Layer, before: Shape, out: Shape) -> bool:
    """Whether the table shows ``layer``: it has weights (a convolution that keeps the shape too)
    or changes the shape (not an activation, dropout or batch normalization)."""
    return isinstance(layer, WeightedLayer) or out != before


def _fold(
    layers: Sequence[Layer], params: Params, shape: Shape, x_shape: tuple[int, ...]
) -> list[tuple[Layer, str, Shape, Shape]]:
    """``(layer, name, input shape, output shape)`` of each layer in turn, from one input of
    ``shape``; ``ValueError`` naming the first layer that does not take what it is given.

    A weighted layer is named by its index, as its weights (``Affine2``: ``W2``, ``b2``); any
    other by its count among its kind (``Pooling1``, the first pooling)."""
    steps: list[tuple[Layer, str, Shape, Shape]] = []
    counts: dict[str, int] = {}
    for i, layer in enumerate(layers, start=1):
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        k = layer.index if isinstance(layer, WeightedLayer) else counts[layer.kind]
        name = f"{layer.kind}{k}"
        try:
            out = layer.output_shape(shape, params)
        except ValueError as e:
            raise ValueError(f"input of shape {x_shape} breaks the chain at layer {i}, {name}: {e}") from None
        steps.append((layer, name, shape, out))
        shape = out
    return steps


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
