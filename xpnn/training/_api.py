"""What a training call runs on, and the book's ch. 4-5 calls: ``loss``, ``gradient``,
``numerical_gradient``.

:func:`placed` is the one conversion of a training call: a layer network (:class:`xpnn.Sequential`)
as it is; a book-style dict or :class:`xpnn.Network` as a ``Network`` (the ``Sequential`` of its
layers ``[Affine(1), act, ..., Affine(n)]``) under the activation the call trains with. Everything after it (these
calls, :func:`xpnn.training.epochs`) sees a ``Sequential`` only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._dtypes import dtype_name
from ..backends import asarray, get_backend, to_numpy
from ..functions import network_activation
from ..network import Network, place
from ..nn.losses import LOSSES
from ..nn.sequential import Sequential
from ._checks import check_not_dask, decay, labels, step

__all__ = ["gradient", "loss", "numerical_gradient", "placed"]

Array = Any


def as_network(params: Mapping[str, Array], like: Network, activation: str) -> Network:
    """A :class:`Network` of the arrays ``params`` (already on ``like``'s backend and device), no copy."""
    layers = [(params[f"W{i}"], params[f"b{i}"]) for i in range(1, len(params) // 2 + 1)]
    impl, dev = get_backend(like.backend, like.device)
    return Network(layers, impl, dev, like.xp, activation=activation)


def placed(
    net: Any, x: Any, backend: str | None, device: Any, activation: str | None = None
) -> tuple[Sequential, Callable[[Sequential], Any], Any]:
    """``(network, finish, runnable)``: the network a training call runs on (``backend``; else a
    network's own place; else ``x``'s) as a :class:`Sequential`; the function that turns a trained
    one back into what the caller gave (a :class:`Network` carrying its activation, for a dict);
    and the placed network as :func:`xpnn.network.place` gives it (its own input checks)."""
    check_not_dask(x, backend)
    network = place(net, x, backend=backend, device=device)
    check_not_dask(None, network.backend)
    if isinstance(network, Network):
        act = network_activation(network, activation)
        # A Network is a Sequential ([Affine(1), act, ..., Affine(n)]): the same arrays under the
        # activation this call trains with; what training returns is then a Network already.
        return as_network(network.params, network, act), lambda trained: trained, network
    if not isinstance(network, Sequential):
        raise TypeError(
            "training needs a book-style dict, a Network or an xpnn.Sequential network of arrays;"
            f" got {type(network).__name__}"
        )
    if activation is not None:
        raise ValueError("a layer network's activations are its layers: leave out activation=")
    return network, lambda trained: trained, network


def _call_args(
    net: Any, x: Any, t: Any, activation: str | None, backend: str | None, device: Any, loss: str
) -> tuple[Sequential, Array, Array]:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    network, _, runnable = placed(net, x, backend, device, activation)
    xd = runnable.prepare_input(x)
    if len(xd.shape) != len(network.input_shape) + 1:
        want = ", ".join(map(str, network.input_shape))
        raise ValueError(f"x must be a batch of shape (N, {want}); got shape {tuple(xd.shape)}")
    if xd.shape[0] == 0:
        raise ValueError("no inputs: the loss and its gradient need a batch of at least one input and label")
    if loss == "squared_error":  # regression targets: real numbers, (N, n_out)
        td = asarray(t, backend=network.backend, device=network.device)
        if tuple(td.shape) != (xd.shape[0], network.n_out):
            raise ValueError(
                f"t must hold the targets, shape ({xd.shape[0]}, {network.n_out}); got shape {tuple(td.shape)}"
            )
        return network, xd, td
    return network, xd, labels(network, t, int(xd.shape[0]))


def _decay(weight_decay: Any) -> dict[str, Any]:
    """The ``weight_decay=`` a network's ``loss_and_gradient`` gets: none given means its own."""
    lam = decay(weight_decay)
    return {} if lam is None else {"weight_decay": lam}


def loss(
    net: Any,
    x: Any,
    t: Any,
    *,
    activation: str | None = None,
    weight_decay: float | None = None,
    backend: str | None = None,
    device: Any = None,
    loss: str = "cross_entropy",
) -> float:
    """The mean softmax cross-entropy of the network's output on ``x`` against ``t``, a Python float.

    ``t`` holds integer labels ``(N,)`` or one-hot rows. With ``weight_decay`` (λ) set,
    ``0.5 * λ * Σ W²`` over the weight matrices is added, as the book's ``MultiLayerNet``
    (None: the network's own ``weight_decay_lambda``, else 0).
    Placement follows :func:`xpnn.forward`; ``activation`` (``"sigmoid"`` or ``"relu"``)
    None means the network's own, else sigmoid. ``loss="squared_error"``: half the squared
    error of the identity output against targets ``t`` of shape ``(N, n_out)``.
    ``net`` may also be a layer network (:class:`xpnn.Sequential`): the loss at inference
    (batch normalization's running statistics, no dropout), as the book's ``loss(x, t)``.

    >>> from xpnn import random_network
    >>> net = random_network([4, 3], seed=0, dtype="float64")
    >>> round(loss(net, np.zeros((2, 4)), np.array([0, 2])), 4)  # log(3): all outputs equal
    1.0986
    """
    kw = _decay(weight_decay)
    network, xd, td = _call_args(net, x, t, activation, backend, device, loss)
    return float(to_numpy(network.loss(xd, td, loss=loss, **kw)))


def gradient(
    net: Any,
    x: Any,
    t: Any,
    *,
    activation: str | None = None,
    seed: int | None = 0,
    weight_decay: float | None = None,
    loss: str = "cross_entropy",
    backend: str | None = None,
    device: Any = None,
) -> dict[str, Array]:
    """The gradient of :func:`loss` by backpropagation: a dict with ``net``'s keys.

    The arrays belong to the computing backend, on its device, in the network's dtype.
    ``loss="squared_error"``: the identity output with ``0.5 * Σ (y - t)² / N``, ``t`` the
    targets ``(N, n_out)`` (see :class:`xpnn.layers.IdentityWithLoss`). A layer network's
    gradient is the training step's: batch normalization on the batch's statistics, dropout
    masks drawn from ``numpy.random.default_rng(seed)`` (the same masks as
    :func:`numerical_gradient` with that seed).

    >>> from xpnn import random_network
    >>> net = random_network([4, 3], seed=0, dtype="float64")
    >>> gradient(net, np.zeros((1, 4)), np.array([0]))["b1"].round(4)  # softmax(0) - one_hot
    array([-0.6667,  0.3333,  0.3333])
    """
    kw = _decay(weight_decay)
    network, xd, td = _call_args(net, x, t, activation, backend, device, loss)
    rng = np.random.default_rng(seed)
    return network.loss_and_gradient(xd, td, loss=loss, rng=rng, **kw)[1]


def numerical_gradient(
    net: Any,
    x: Any,
    t: Any,
    *,
    activation: str | None = None,
    h: float = 1e-4,
    weight_decay: float | None = None,
    backend: str | None = None,
    device: Any = None,
    seed: int | None = 0,
) -> dict[str, Array]:
    """The gradient of :func:`loss` by central differences, ``(L(w+h) - L(w-h)) / 2h`` per weight.

    The book's gradient check: slow (two forward passes per weight), for small networks only.
    ``net`` is never modified: each step builds new arrays. Same keys, backend and dtype as
    :func:`gradient` (for a layer network, the training step's loss: every pass draws the same
    dropout masks, from ``numpy.random.default_rng(seed)``).

    The check needs float64 weights: the book's mean differences of about 1e-13 to 1e-10
    (``ch05/gradient_check.py``) are float64 numbers. In float32 (``random_network``'s default)
    each loss is rounded to about 1e-7, so the quotient's error is about 1e-7 / h, near 1e-4
    for the default ``h=1e-4``: that is rounding, not a wrong gradient
    (``random_network(..., dtype="float64")``, or ``examples/gradient_check.py``).
    ``h`` must be finite and positive, no smaller than the dtype's resolution at the largest
    weight (else ``w + h`` rounds to ``w``) and no larger than ``max(1, max |w|)``; otherwise a
    ``ValueError`` says which bound it breaks.

    >>> from xpnn import random_network
    >>> net = random_network([4, 3], seed=0, dtype="float64")
    >>> numerical_gradient(net, np.zeros((1, 4)), np.array([0]))["b1"].round(4)
    array([-0.6667,  0.3333,  0.3333])
    """
    kw = _decay(weight_decay)
    network, xd, td = _call_args(net, x, t, activation, backend, device, "cross_entropy")
    xp, params = network.xp, network.params
    h = step(h, params, xp)

    def f(p: dict[str, Array]) -> float:
        moved = network.replace(p)
        value = moved.loss(xd, td, train=True, rng=np.random.default_rng(seed), **kw)
        return float(to_numpy(value))

    grads: dict[str, Array] = {}
    for key, p in params.items():
        shape = tuple(p.shape)
        size = math.prod(shape)
        positions = xp.arange(size, device=network.device)
        result = np.empty(size, dtype=np.float64)
        for k in range(size):
            delta = xp.reshape(xp.astype(positions == k, p.dtype), shape) * h
            result[k] = (f({key: p + delta}) - f({key: p - delta})) / (2.0 * h)
        grads[key] = asarray(
            result.reshape(shape).astype(dtype_name(p.dtype)),
            backend=network.backend,
            device=network.device,
        )
    return grads
