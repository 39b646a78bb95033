"""Training a layer network (the book's ch. 7-8 ``Trainer``): mini-batches, an optimizer, epochs.

The math is :meth:`Sequential.loss_and_gradient` (pure forward and backward) and an optimizer
of :mod:`xpnn.optimizers` (pure ``init``/``update``); this loop only draws the mini-batches on
the host, moves each to the network's device and keeps the history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..backends import TABLE, asarray, to_numpy
from ..optimizers import Optimizer, get_optimizer
from .sequential import Sequential

__all__ = ["train_network"]


def train_network(
    net: Sequential,
    x: Any,
    t: Any,
    *,
    optimizer: str | Optimizer = "adam",
    lr: float = 0.001,
    batch_size: int = 100,
    epochs: int = 1,
    seed: int | None = 0,
    normalize: bool = False,
    x_test: Any = None,
    t_test: Any = None,
    on_epoch: Callable[[dict[str, Any]], object] | None = None,
) -> tuple[Sequential, dict[str, list]]:
    """Train ``net`` on images ``x`` ``(N, *net.n_in)`` and integer labels ``t``; the book's ``Trainer``.

    Each epoch visits the data once in an order drawn from ``numpy.random.default_rng(seed)``
    (the same generator draws the dropout masks), in mini-batches of ``batch_size`` (the last
    may be smaller). ``optimizer`` is a name from :mod:`xpnn.optimizers` (the book's Adam,
    learning rate ``lr``, by default) or an object with ``init``/``update``. ``normalize=True``
    divides ``uint8`` images by 255 on the device. Batch normalization's running statistics are
    carried along.

    Returns ``(network, history)``: a new network on ``net``'s backend (``net`` is unchanged) and
    ``{"epoch", "loss", "test_acc"}`` lists with one Python number per epoch (``loss`` the mean
    mini-batch loss; ``test_acc`` with ``x_test`` and ``t_test`` only).
    """
    if not isinstance(net, Sequential):
        raise TypeError(
            f"train_network trains an xpnn.Sequential network; got {type(net).__name__} (see xpnn.train)"
        )
    if not TABLE[net.backend].trainable:  # Dask
        raise ValueError(
            "training does not run on Dask: train on NumPy, PyTorch or JAX, then predict on Dask"
        )
    if (x_test is None) != (t_test is None):
        raise ValueError("give both x_test and t_test, or neither")
    for name, value in (("batch_size", batch_size), ("epochs", epochs)):
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    x = x if isinstance(x, np.ndarray) else to_numpy(x)  # batches are drawn on the host
    labels = to_numpy(t)
    n = int(x.shape[0])
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"t must hold {n} integer labels (shape ({n},)); got shape {labels.shape}, dtype {labels.dtype}"
        )
    if n == 0:
        raise ValueError("no training inputs: give at least one image and its label")
    opt = get_optimizer(optimizer, lr=lr)
    rng = np.random.default_rng(seed)
    params = net.params
    opt_state = opt.init(params)
    history: dict[str, list] = {"epoch": [], "loss": []}
    if x_test is not None:
        history["test_acc"] = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        total, count = None, 0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            xb = net.prepare_input(x[idx], normalize=normalize)
            tb = asarray(labels[idx], backend=net.backend, device=net.device)
            loss, grads, state = net.loss_and_gradient(xb, tb, rng=rng)
            params, opt_state = opt.update(params, grads, opt_state)
            net = net.replace({**params, **state})
            total = loss if total is None else total + loss
            count += 1
        entry: dict[str, Any] = {"epoch": epoch, "loss": float(to_numpy(total)) / count}
        if x_test is not None:
            from ..inference import accuracy  # xpnn.inference imports xpnn.network, which imports xpnn.nn

            entry["test_acc"] = accuracy(net, x_test, t_test, normalize=normalize)
        for key, value in entry.items():
            history[key].append(value)
        if on_epoch is not None:
            on_epoch(entry)
    return net, history
