"""The forward and backward pass through a sequence of layers: pure functions of the layers,
the arrays and the input (:class:`xpnn.Sequential` runs them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import WeightedLayer
from .layers import Layer

__all__ = ["backward_layers", "forward_layers"]

Array = Any


def forward_layers(
    layers: Sequence[Layer], params: Mapping[str, Array], x: Array, *, train: bool = False, rng: Any = None
) -> tuple[Array, list[Any]]:
    """``(y, caches)``: ``x`` through every layer in order, and each layer's cache."""
    caches = []
    for layer in layers:
        x, cache = layer.forward(params, x, train=train, rng=rng)
        caches.append(cache)
    return x, caches


def _infer(layers: Sequence[Layer], params: Mapping[str, Array], x: Array) -> Array:
    """:func:`forward_layers` at inference, each cache dropped as soon as its layer is done."""
    for layer in layers:
        x, _ = layer.forward(params, x)
    return x


def backward_layers(
    layers: Sequence[Layer],
    params: Mapping[str, Array],
    caches: Sequence[Any],
    dy: Array,
    *,
    need_dx: bool = True,
) -> tuple[Array, dict[str, Array]]:
    """``(dx, grads)``: ``dy`` back through the layers, last first; ``grads`` of every parameter.

    ``need_dx=False`` (training: nothing needs the input's gradient) lets a first weighted layer
    skip that work (``Affine``: a matmul; ``Convolution``: a matmul and the col2im, or the native
    input-gradient kernel); ``dx`` is then None.
    """
    grads: dict[str, Array] = {}
    for i in range(len(layers) - 1, -1, -1):
        layer, cache = layers[i], caches[i]
        if i == 0 and not need_dx and isinstance(layer, WeightedLayer):
            grads.update(layer.param_grads(params, cache, dy))
            return None, grads
        dy, g = layer.backward(params, cache, dy)
        grads.update(g)
    return dy, grads
