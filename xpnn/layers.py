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

from ._compat import namespace_of
from .functions import ACTIVATIONS, one_hot, softmax_parts

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
        return one_hot(t, n, dtype=dtype, xp=xp)

    @staticmethod
    def forward(a: Array, T: Array, *, xp: Any, w: Array = None) -> tuple[Array, Array]:
        """``(loss, y)``: the mean loss (a 0-d array) and the softmax ``y``; ``T`` is one-hot.

        ``w``, if given, weighs the rows: ``(N,)`` weights summing to 1 (the mean is ``1/N``).
        """
        s, e, se = softmax_parts(a, xp, axis=1)
        if w is not None:
            return xp.sum(w * (xp.log(se[:, 0]) - xp.sum(T * s, axis=1))), e / se
        n = a.shape[0]
        loss = (xp.sum(xp.log(se)) - xp.sum(T * s)) * (1.0 / n)
        return loss, e / se

    @staticmethod
    def backward(y: Array, T: Array, w: Array = None) -> Array:
        return (y - T) * (1.0 / y.shape[0]) if w is None else (y - T) * w[:, None]


class IdentityWithLoss:
    """The regression output: identity, then half the squared error summed over the outputs of
    a row, mean over the rows: ``0.5 * Σ (y - t)² / N``; backward ``(y - t) / N``.

    For one output that is scikit-learn's ``squared_error`` (``0.5 * mean((y - t)²)``); with
    ``k`` outputs scikit-learn reports this divided by ``k`` but steps along this gradient.
    ``w``, if given, weighs the rows (``(N,)``, summing to 1), as for :class:`SoftmaxWithLoss`.
    """

    @staticmethod
    def forward(a: Array, T: Array, *, xp: Any, w: Array = None) -> tuple[Array, Array]:
        d = a - T
        if w is not None:
            return xp.sum(w * xp.sum(d * d, axis=1)) * 0.5, a
        return xp.sum(d * d) * (0.5 / a.shape[0]), a

    @staticmethod
    def backward(y: Array, T: Array, w: Array = None) -> Array:
        return (y - T) * (1.0 / y.shape[0]) if w is None else (y - T) * w[:, None]


#: The output layers with their loss, by the loss's name.
LOSSES: dict[str, type] = {"cross_entropy": SoftmaxWithLoss, "squared_error": IdentityWithLoss}


def _unpack(
    params: Mapping[str, Array], x: Array, t: Array, activation: str, loss: str = "cross_entropy"
) -> tuple[list, list, Any, Array, Any]:
    n = sum(1 for k in params if k[:1] == "W")
    try:
        Ws = [params[f"W{i}"] for i in range(1, n + 1)]
        bs = [params[f"b{i}"] for i in range(1, n + 1)]
    except KeyError as e:
        raise ValueError(f"params need the keys W1..Wn and b1..bn; {e.args[0]!r} is missing") from None
    if n == 0 or len(params) != 2 * n:
        raise ValueError(f"params need the keys W1..Wn and b1..bn; got {sorted(params)}")
    spec = ACTIVATIONS.get(activation) if isinstance(activation, str) else None
    if spec is None:
        raise ValueError(f"unknown activation {activation!r}; training supports {', '.join(ACTIVATIONS)}")
    layer = type(activation, (_BookActivation,), {"name": activation})
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
    return Ws, bs, xp, x, layer


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
    """
    Ws, bs, xp, x, layer = _unpack(params, x, t, activation, loss)
    n = len(Ws)
    zs = [x]
    for i in range(n - 1):
        zs.append(layer.forward(Affine.forward(zs[i], Ws[i], bs[i]), xp=xp))
    a = Affine.forward(zs[-1], Ws[-1], bs[-1])
    out, T, w = _output(loss, t, a, sample_weight, xp)
    value, y = out.forward(a, T, xp=xp, w=w)
    dout = out.backward(y, T, w)
    grads: dict[str, Array] = {}
    for i in range(n - 1, -1, -1):
        dx, dW, db = Affine.backward(dout, zs[i], Ws[i], xp=xp, need_dx=i > 0)
        grads[f"W{i + 1}"], grads[f"b{i + 1}"] = dW, db
        if i > 0:
            dout = layer.backward(dx, zs[i], xp=xp)
    if weight_decay:
        lam = float(weight_decay)
        value = value + (0.5 * lam) * sum(xp.sum(W * W) for W in Ws)
        for i, W in enumerate(Ws, start=1):
            grads[f"W{i}"] = grads[f"W{i}"] + lam * W
    return value, {k: grads[k] for k in params}


def _output(loss: str, t: Array, a: Array, sample_weight: Array, xp: Any) -> tuple[Any, Array, Array]:
    """The output layer of ``loss``, the targets in ``a``'s dtype and the normalized row weights."""
    out = LOSSES[loss]
    if out is SoftmaxWithLoss:
        T = SoftmaxWithLoss.one_hot(t, a.shape[1], a.dtype, xp=xp)
    else:
        T = t if t.dtype == a.dtype else xp.astype(t, a.dtype)
    if sample_weight is None:
        return out, T, None
    if tuple(sample_weight.shape) != (a.shape[0],):
        raise ValueError(
            f"sample_weight must have shape ({a.shape[0]},), one weight per row; got {tuple(sample_weight.shape)}"
        )
    w = sample_weight if sample_weight.dtype == a.dtype else xp.astype(sample_weight, a.dtype)
    return out, T, w / xp.sum(w)


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
    Ws, bs, xp, z, layer = _unpack(params, x, t, activation, loss)
    for W, b in zip(Ws[:-1], bs[:-1]):
        z = layer.forward(Affine.forward(z, W, b), xp=xp)
    a = Affine.forward(z, Ws[-1], bs[-1])
    out, T, w = _output(loss, t, a, sample_weight, xp)
    value, _ = out.forward(a, T, xp=xp, w=w)
    if weight_decay:
        value = value + (0.5 * float(weight_decay)) * sum(xp.sum(W * W) for W in Ws)
    return value
