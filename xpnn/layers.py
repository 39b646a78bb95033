"""The book's layers (ch. 5): Affine, Relu, Sigmoid and SoftmaxWithLoss, as pure functions.

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

from ._compat import device, namespace_of

__all__ = ["ACTIVATIONS", "Affine", "Relu", "Sigmoid", "SoftmaxWithLoss", "loss_and_gradient", "loss_value"]

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


class Relu:
    """``out = max(x, 0)``; backward passes ``dout`` where the output is positive, else 0.

    The book keeps a mask; here the forward output is the mask (``out > 0`` exactly where
    ``x > 0``).
    """

    @staticmethod
    def forward(x: Array, *, xp: Any) -> Array:
        return xp.maximum(x, 0.0)

    @staticmethod
    def backward(dout: Array, out: Array, *, xp: Any) -> Array:
        return xp.where(out > 0.0, dout, 0.0)


class Sigmoid:
    """``out = 1 / (1 + exp(-x))`` (as ``tanh(x/2)/2 + 1/2``: no overflow); backward ``dout·(1-out)·out``."""

    @staticmethod
    def forward(x: Array, *, xp: Any) -> Array:
        return xp.tanh(x * 0.5) * 0.5 + 0.5

    @staticmethod
    def backward(dout: Array, out: Array, *, xp: Any) -> Array:
        return dout * (1.0 - out) * out


#: Hidden-layer activations with a backward pass, by name.
ACTIVATIONS: dict[str, type] = {"sigmoid": Sigmoid, "relu": Relu}


class SoftmaxWithLoss:
    """Softmax then the mean cross-entropy against labels; backward ``(y - t) / N``.

    The loss is computed from the log-softmax, ``log Σ exp(a - max a) - (a - max a)[t]``: the
    exact cross-entropy, finite for any logits, whose gradient is exactly ``(y - t) / N``. (The
    book's ``cross_entropy_error`` adds 1e-7 inside the log instead; see
    :func:`xpnn.cross_entropy_error`.)
    """

    @staticmethod
    def one_hot(t: Array, n: int, dtype: Any, *, xp: Any) -> Array:
        """Integer labels ``(N,)`` as one-hot rows ``(N, n)`` of ``dtype``; one-hot input is cast."""
        if len(t.shape) == 2:
            return t if t.dtype == dtype else xp.astype(t, dtype)
        return xp.astype(t[:, None] == xp.arange(n, device=device(t)), dtype)

    @staticmethod
    def forward(a: Array, T: Array, *, xp: Any) -> tuple[Array, Array]:
        """``(loss, y)``: the mean loss (a 0-d array) and the softmax ``y``; ``T`` is one-hot."""
        s = a - xp.max(a, axis=1, keepdims=True)
        e = xp.exp(s)
        se = xp.sum(e, axis=1, keepdims=True)
        n = a.shape[0]
        loss = (xp.sum(xp.log(se)) - xp.sum(T * s)) * (1.0 / n)
        return loss, e / se

    @staticmethod
    def backward(y: Array, T: Array) -> Array:
        return (y - T) * (1.0 / y.shape[0])


def _unpack(
    params: Mapping[str, Array], x: Array, t: Array, activation: str
) -> tuple[list, list, Any, Array, Any]:
    n = sum(1 for k in params if k[:1] == "W")
    try:
        Ws = [params[f"W{i}"] for i in range(1, n + 1)]
        bs = [params[f"b{i}"] for i in range(1, n + 1)]
    except KeyError as e:
        raise ValueError(f"params need the keys W1..Wn and b1..bn; {e.args[0]!r} is missing") from None
    if n == 0 or len(params) != 2 * n:
        raise ValueError(f"params need the keys W1..Wn and b1..bn; got {sorted(params)}")
    layer = ACTIVATIONS.get(activation) if isinstance(activation, str) else None
    if layer is None:
        raise ValueError(f"unknown activation {activation!r}; training supports {', '.join(ACTIVATIONS)}")
    xp = namespace_of(Ws[0])
    dtype = Ws[0].dtype
    if len(x.shape) != 2 or x.shape[1] != Ws[0].shape[0]:
        raise ValueError(f"x must have shape (N, {Ws[0].shape[0]}) to fit W1; got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError("no inputs: the loss and its gradient need a batch of at least one input and label")
    n_out = Ws[-1].shape[1]
    if tuple(t.shape) not in ((x.shape[0],), (x.shape[0], n_out)):
        raise ValueError(
            f"t must hold {x.shape[0]} integer labels (shape ({x.shape[0]},)) or one-hot rows"
            f" (shape ({x.shape[0]}, {n_out})); got shape {tuple(t.shape)}"
        )
    if x.dtype != dtype:
        x = xp.astype(x, dtype)
    return Ws, bs, xp, x, layer


def loss_and_gradient(
    params: Mapping[str, Array],
    x: Array,
    t: Array,
    *,
    activation: str = "sigmoid",
    weight_decay: float = 0.0,
) -> tuple[Array, dict[str, Array]]:
    """The loss and its gradient for one mini-batch: forward, then backpropagation.

    ``params`` is a book-style dict ``W1..Wn, b1..bn`` of arrays of one backend (the namespace
    and device come from them); ``x`` a floating ``(N, n_in)`` batch of the same backend (cast to
    the weights' dtype if it differs); ``t`` integer labels ``(N,)`` or one-hot rows
    ``(N, n_out)``. ``activation`` is ``"sigmoid"`` or ``"relu"`` for the hidden layers.

    Returns ``(loss, grads)``: ``loss`` a 0-d array on the device, the mean softmax
    cross-entropy plus ``0.5 * weight_decay * Σ W²`` over the weight matrices (not the biases,
    as the book's ``MultiLayerNet``); ``grads`` a dict with the keys of ``params``. Everything
    stays on the device in the weights' dtype: no host round trip, nothing written in place.
    """
    Ws, bs, xp, x, layer = _unpack(params, x, t, activation)
    n = len(Ws)
    zs = [x]
    for i in range(n - 1):
        zs.append(layer.forward(Affine.forward(zs[i], Ws[i], bs[i]), xp=xp))
    a = Affine.forward(zs[-1], Ws[-1], bs[-1])
    T = SoftmaxWithLoss.one_hot(t, Ws[-1].shape[1], a.dtype, xp=xp)
    loss, y = SoftmaxWithLoss.forward(a, T, xp=xp)
    dout = SoftmaxWithLoss.backward(y, T)
    grads: dict[str, Array] = {}
    for i in range(n - 1, -1, -1):
        dx, dW, db = Affine.backward(dout, zs[i], Ws[i], xp=xp, need_dx=i > 0)
        grads[f"W{i + 1}"], grads[f"b{i + 1}"] = dW, db
        if i > 0:
            dout = layer.backward(dx, zs[i], xp=xp)
    if weight_decay:
        lam = float(weight_decay)
        loss = loss + (0.5 * lam) * sum(xp.sum(W * W) for W in Ws)
        for i, W in enumerate(Ws, start=1):
            grads[f"W{i}"] = grads[f"W{i}"] + lam * W
    return loss, {k: grads[k] for k in params}


def loss_value(
    params: Mapping[str, Array],
    x: Array,
    t: Array,
    *,
    activation: str = "sigmoid",
    weight_decay: float = 0.0,
) -> Array:
    """The loss of :func:`loss_and_gradient` alone (forward pass only), a 0-d array."""
    Ws, bs, xp, z, layer = _unpack(params, x, t, activation)
    for W, b in zip(Ws[:-1], bs[:-1]):
        z = layer.forward(Affine.forward(z, W, b), xp=xp)
    a = Affine.forward(z, Ws[-1], bs[-1])
    loss, _ = SoftmaxWithLoss.forward(a, SoftmaxWithLoss.one_hot(t, Ws[-1].shape[1], a.dtype, xp=xp), xp=xp)
    if weight_decay:
        loss = loss + (0.5 * float(weight_decay)) * sum(xp.sum(W * W) for W in Ws)
    return loss
