"""The dense chain ``Affine -> act -> ... -> Affine``: how :class:`xpnn.Sequential` runs it fast.

A network whose layers are affine layers with one hidden activation between them (the book's
ch. 3-5 network, :func:`xpnn.nn.layers.mlp_layers`; ``MultiLayerNet`` without batch
normalization or dropout) is recognised once by :func:`dense_chain`. Inference then runs the
book's loop over the ``(W, b)`` pairs of that sequence (:func:`run_layers`) instead of one
``Layer.forward`` call per layer, and a sigmoid chain takes the exact shortcut of
:func:`fold_sigmoid` (benchmarks: per-image, sigmoid-shortcut). Both give the very numbers the
layers give; they are an optimisation of the one fold over the layers, not a second model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..functions import Activation
from .layers import ActivationLayer, Affine, Layer

__all__ = ["dense_chain", "dense_pairs", "fold_sigmoid", "run_layers", "run_sigmoid_folded"]

Array = Any


def dense_chain(layers: Sequence[Layer]) -> tuple[tuple[tuple[str, str], ...], str | None] | None:
    """``(((W name, b name), ...), activation)`` when ``layers`` are ``Affine``, then pairs of one
    activation layer and an ``Affine``; ``activation`` is that layer's name (None for a single
    ``Affine``). None for any other sequence.

    >>> from xpnn.nn.layers import mlp_layers
    >>> dense_chain(mlp_layers(2, "relu"))
    ((('W1', 'b1'), ('W2', 'b2')), 'relu')
    """
    affine, acts = layers[0::2], layers[1::2]
    if len(layers) % 2 == 0 or not all(type(layer) is Affine for layer in affine):
        return None
    kinds = {type(layer) for layer in acts}
    if len(kinds) > 1 or not all(isinstance(layer, ActivationLayer) for layer in acts):
        return None
    names = tuple(layer.param_names() for layer in affine)
    activation = acts[0].activation if acts else None  # type: ignore[attr-defined]
    return names, activation  # type: ignore[return-value]


def dense_pairs(layers: Sequence[Layer], arrays: Mapping[str, Array]) -> list[tuple[Array, Array]]:
    """``[(W1, b1), ..., (Wn, bn)]``: the arrays of a dense chain's affine layers, in order
    (``ValueError`` for layers that are no dense chain)."""
    chain = dense_chain(layers)
    if chain is None:
        kinds = "-".join(layer.kind for layer in layers)
        raise ValueError(f"layers {kinds} are no dense chain (Affine, then activation and Affine pairs)")
    return [(arrays[w], arrays[b]) for w, b in chain[0]]


def run_layers(
    layers: Sequence[tuple[Array, Array]], x: Array, hidden: Activation, out: Activation, xp: Any
) -> Array:
    """The book's loop: ``out(affine(...hidden(affine(x))...))`` through the ``(W, b)`` pairs."""
    for W, b in layers[:-1]:
        x = hidden(x @ W + b, xp)
    W, b = layers[-1]
    return out(x @ W + b, xp)


def fold_sigmoid(layers: Sequence[tuple[Array, Array]]) -> tuple[tuple[Array, Array], ...]:
    """The pairs rescaled so that a sigmoid chain runs as ``tanh(x @ W + b) + 1`` per layer.

    ``sigmoid(a) = (tanh(a/2) + 1) / 2``, and scaling by a power of two is exact in binary
    floating point, so every ``/2`` moves into the weights: ``W1/2, b1/2``, then ``W2/4, b2/2``,
    ..., and ``Wn/2, bn``. Each hidden layer is then 3 elementwise passes instead of 5, with the
    very same numbers (exact unless a scaled weight falls below the dtype's smallest normal
    number: never in practice for float32, float64 and bfloat16; float16 weights under about
    2e-4 can lose low bits).
    """
    last = len(layers) - 1
    return tuple(
        (W * ((1.0 if i == 0 else 0.5) * (1.0 if i == last else 0.5)), b * (1.0 if i == last else 0.5))
        for i, (W, b) in enumerate(layers)
    )


def run_sigmoid_folded(layers: Sequence[tuple[Array, Array]], x: Array, out: Activation, xp: Any) -> Array:
    """:func:`run_layers` with sigmoid, on pairs from :func:`fold_sigmoid`."""
    for W, b in layers[:-1]:
        x = xp.tanh(x @ W + b) + 1.0
    W, b = layers[-1]
    return out(x @ W + b, xp)
