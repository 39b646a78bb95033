"""The output layers with their loss (the book's ``SoftmaxWithLoss``, and the regression
``IdentityWithLoss``), the book's weight decay, and :data:`LOSSES`, the table of loss names.

Each loss layer is two pure functions of arrays: ``forward(a, T, *, xp, w=None) -> (loss, y)``
on the logits ``a`` and the targets ``T`` (one-hot rows for the cross-entropy), and
``backward(y, T, w=None) -> da``. :func:`targets` turns labels and ``sample_weight`` into what
they take. :meth:`xpnn.Sequential.loss_and_gradient` chains them after the layers: the one place
a loss and its gradient are computed, for every network of xpnn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..functions import one_hot, softmax_parts

__all__ = ["LOSSES", "IdentityWithLoss", "SoftmaxWithLoss", "decay_names", "targets", "weight_decay_term"]

Array = Any


class SoftmaxWithLoss:
    """Softmax then the mean cross-entropy against labels; backward ``(y - t) / N``.

    The loss is computed from the log-softmax, ``log Σ exp(a - max a) - (a - max a)[t]``: the
    exact cross-entropy, finite for any logits, whose gradient is exactly ``(y - t) / N``. (The
    book's ``cross_entropy_error`` adds 1e-7 inside the log instead; see
    :func:`xpnn.cross_entropy_error`.)

    >>> import numpy as np
    >>> loss, y = SoftmaxWithLoss.forward(np.zeros((1, 2)), np.array([[1.0, 0.0]]), xp=np)
    >>> round(float(loss), 6), y
    (0.693147, array([[0.5, 0.5]]))
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


def targets(loss: str, t: Array, a: Array, sample_weight: Array, xp: Any) -> tuple[Any, Array, Array]:
    """``(layer, T, w)``: the output layer of ``loss``, the targets in ``a``'s dtype (one-hot rows for
    the cross-entropy) and the row weights normalized to sum 1 (None without ``sample_weight``)."""
    out = LOSSES.get(loss) if isinstance(loss, str) else None
    if out is None:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if out is SoftmaxWithLoss:
        T = one_hot(t, a.shape[1], dtype=a.dtype, xp=xp)
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


def decay_names(names: Any) -> list[str]:
    """The arrays weight decay applies to: every weight matrix and conv kernel (``W1``, ``W2``, ...),
    not the biases or batch normalization's ``gamma``/``beta``, as the book's ``MultiLayerNet``."""
    return sorted((k for k in names if k[:1] == "W" and k[1:].isdigit()), key=lambda k: int(k[1:]))


def weight_decay_term(params: Mapping[str, Array], weight_decay: float, xp: Any) -> Any:
    """The book's ``0.5 * lambda * Σ W²`` over :func:`decay_names` (a 0-d array); its gradient is
    ``lambda * W``."""
    return (0.5 * float(weight_decay)) * sum(xp.sum(params[k] * params[k]) for k in decay_names(params))
