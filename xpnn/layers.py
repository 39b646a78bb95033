"""The book's layers (ch. 5) with static ``forward``/``backward``, and the dict network's loss.

The loss layers ``SoftmaxWithLoss`` and ``IdentityWithLoss`` live in :mod:`xpnn.nn.losses`
(re-exported here); :func:`loss_and_gradient` and :func:`loss_value` are
:meth:`xpnn.Sequential.loss_and_gradient` / :meth:`~xpnn.Sequential.loss` of the layers
``[Affine(1), act, ..., Affine(n)]`` over a book-style dict, with its checks.

Each layer keeps the book's name and math, with ``forward`` and ``backward`` as static
functions of arrays: what the book keeps in ``self`` (the input, the ReLU mask, the softmax
output) is passed back in by the caller, and nothing is written in place (no
``dx[np.arange(N), t] -= 1``, no ``out[mask] = 0``). Labels become one-hot rows by comparison
with ``arange``, never by indexed assignment. So the same code runs on NumPy, CuPy, PyTorch,
JAX and array-api-strict.

:func:`loss_and_gradient` chains them: the whole forward and backward pass of a book-style
network, for one mini-batch.

>>> import numpy as np
>>> params = {"W1": np.array([[1.0, -1.0], [0.5, 0.5]]), "b1": np.array([0.0, 0.0])}
>>> loss, grads = loss_and_gradient(params, np.array([[1.0, 2.0]]), np.array([0]))
>>> round(float(loss), 6)
0.126928
>>> grads["b1"]
array([-0.11920292,  0.11920292])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .backends.compat import namespace_of
from .functions import ACTIVATIONS
from .nn.layers import mlp_layers
from .nn.losses import LOSSES, IdentityWithLoss, SoftmaxWithLoss
from .nn.sequential import loss_and_gradient_of, loss_of

__all__ = [
    "LOSSES",
    "Affine",
    "Identity",
    "IdentityWithLoss",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "Tanh",
    "loss_and_gradient",
    "loss_value",
]

Array = Any


class Affine:
    """``out = x @ W + b``; backward gives ``dx = dout @ W.T``, ``dW = x.T @ dout``, ``db = Σ dout``."""

    @staticmethod
    def forward(x: Array, W: Array, b: Array) -> Array:
        return x @ W + b

    @staticmethod
    def backward(
        dout: Array, x: Array, W: Array, *, xp: Any, need_dx: bool = True
    ) -> tuple[Array, Array, Array]:
        """``(dx, dW, db)``; ``dx`` is None when ``need_dx`` is False (the first layer's input)."""
        dx = dout @ W.T if need_dx else None
        return dx, x.T @ dout, xp.sum(dout, axis=0)


class _BookActivation:
    """A hidden activation with the book's static ``forward(x, *, xp)`` / ``backward(dout, out, *, xp)``,
    both read from its row of :data:`xpnn.functions.ACTIVATIONS`."""

    name = ""

    @classmethod
    def forward(cls, x: Array, *, xp: Any) -> Array:
        return ACTIVATIONS[cls.name].fn(x, xp)

    @classmethod
    def backward(cls, dout: Array, out: Array, *, xp: Any) -> Array:
        return ACTIVATIONS[cls.name].backward(dout, out, xp)


class Relu(_BookActivation):
    """``out = max(x, 0)``; backward passes ``dout`` where the output is positive, else 0."""

    name = "relu"


class Sigmoid(_BookActivation):
    """``out = 1 / (1 + exp(-x))`` (as ``tanh(x/2)/2 + 1/2``: no overflow); backward ``dout·(1-out)·out``."""

    name = "sigmoid"


class Tanh(_BookActivation):
    """``out = tanh(x)``; backward ``dout·(1 - out²)``."""

    name = "tanh"


class Identity(_BookActivation):
    """``out = x``; backward passes ``dout`` on (scikit-learn's ``activation="identity"``)."""

    name = "identity"


def _unpack(
    params: Mapping[str, Array], x: Array, t: Array, activation: str, loss: str = "cross_entropy"
) -> tuple[tuple[Any, ...], Array]:
    n = sum(1 for k in params if k[:1] == "W")
    try:
        Ws = [params[f"W{i}"] for i in range(1, n + 1)]
        for i in range(1, n + 1):
            params[f"b{i}"]  # a missing bias is named too
    except KeyError as e:
        raise ValueError(f"params need the keys W1..Wn and b1..bn; {e.args[0]!r} is missing") from None
    if n == 0 or len(params) != 2 * n:
        raise ValueError(f"params need the keys W1..Wn and b1..bn; got {sorted(params)}")
    spec = ACTIVATIONS.get(activation) if isinstance(activation, str) else None
    if spec is None:
        raise ValueError(f"unknown activation {activation!r}; training supports {', '.join(ACTIVATIONS)}")
    xp = namespace_of(Ws[0])
    dtype = Ws[0].dtype
    if len(x.shape) != 2 or x.shape[1] != Ws[0].shape[0]:
        raise ValueError(f"x must have shape (N, {Ws[0].shape[0]}) to fit W1; got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("no inputs: the loss and its gradient need a batch of at least one input and label")
    n_out = Ws[-1].shape[1]
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if loss == "squared_error" and tuple(t.shape) != (x.shape[0], n_out):
        raise ValueError(
            f"t must hold the targets, shape ({x.shape[0]}, {n_out}); got shape {tuple(t.shape)}"
        )
    if tuple(t.shape) not in ((x.shape[0],), (x.shape[0], n_out)):
        raise ValueError(
            f"t must hold {x.shape[0]} integer labels (shape ({x.shape[0]},)) or one-hot rows"
            f" (shape ({x.shape[0]}, {n_out})); got shape {tuple(t.shape)}"
        )
    if x.dtype != dtype:
        x = xp.astype(x, dtype)
    return mlp_layers(n, activation), x


def loss_and_gradient(
    params: Mapping[str, Array],
    x: Array,
    t: Array,
    *,
    activation: str = "sigmoid",
    weight_decay: float = 0.0,
    loss: str = "cross_entropy",
    sample_weight: Array = None,
) -> tuple[Array, dict[str, Array]]:
    """The loss and its gradient for one mini-batch: forward, then backpropagation.

    ``params`` is a book-style dict ``W1..Wn, b1..bn`` of arrays of one backend (the namespace
    and device come from them); ``x`` a floating ``(N, n_in)`` batch of the same backend (cast to
    the weights' dtype if it differs); ``t`` integer labels ``(N,)`` or one-hot rows
    ``(N, n_out)``. ``activation`` is ``"sigmoid"``, ``"relu"``, ``"tanh"`` or ``"identity"``
    for the hidden layers. ``loss="squared_error"`` makes the output the identity with
    :class:`IdentityWithLoss` (``t`` the targets, ``(N, n_out)``) instead of the softmax
    cross-entropy. ``sample_weight`` (``(N,)``, on the device) weighs the rows: the loss is
    ``Σ w_i l_i / Σ w_i`` instead of the mean.

    Returns ``(loss, grads)``: ``loss`` a 0-d array on the device, the mean softmax
    cross-entropy plus ``0.5 * weight_decay * Σ W²`` over the weight matrices (not the biases,
    as the book's ``MultiLayerNet``); ``grads`` a dict with the keys of ``params``. Everything
    stays on the device in the weights' dtype: no host round trip, nothing written in place.
    It is :meth:`xpnn.Sequential.loss_and_gradient` of the layers
    ``[Affine(1), act, ..., Affine(n)]`` over ``params`` (no copy, no placement).
    """
    layers, x = _unpack(params, x, t, activation, loss)
    value, grads, _ = loss_and_gradient_of(
        layers, params, x, t, params, loss=loss, weight_decay=weight_decay, sample_weight=sample_weight
    )
    return value, grads


def loss_value(
    params: Mapping[str, Array],
    x: Array,
    t: Array,
    *,
    activation: str = "sigmoid",
    weight_decay: float = 0.0,
    loss: str = "cross_entropy",
    sample_weight: Array = None,
) -> Array:
    """The loss of :func:`loss_and_gradient` alone (forward pass only), a 0-d array."""
    layers, x = _unpack(params, x, t, activation, loss)
    return loss_of(layers, params, x, t, loss=loss, weight_decay=weight_decay, sample_weight=sample_weight)
