"""Training a layer network with the book's ch. 7-8 ``Trainer`` defaults: :func:`train_network`.

A short driver of xpnn's one training loop (:func:`xpnn.training.epochs`, through
``xpnn.train``'s own placement and checks): Adam with learning rate 0.001, one epoch, uint8
images divided by 255 on the device with ``normalize=True``, and a history without the
training-set accuracy (a whole pass over the training images per epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    """Train ``net`` on images ``x`` ``(N, *net.n_in)`` and labels ``t``; the book's ``Trainer``.

    Each epoch visits the data once in an order drawn from ``numpy.random.default_rng(seed)``
    (the same generator draws the dropout masks), in mini-batches of ``batch_size`` (the last
    may be smaller). ``optimizer`` is a name from :mod:`xpnn.optimizers` (the book's Adam,
    learning rate ``lr``, by default) or an object with ``init``/``update``. ``normalize=True``
    divides ``uint8`` images by 255 on the device. Batch normalization's running statistics are
    carried along. Labels are checked as :func:`xpnn.train` checks them (integer labels or
    one-hot rows; soft rows are refused before any step).

    Returns ``(network, history)``: a new network on ``net``'s backend (``net`` is unchanged) and
    ``{"epoch", "loss", "test_acc"}`` lists with one Python number per epoch (``loss`` the mean
    mini-batch loss; ``test_acc`` with ``x_test`` and ``t_test`` only). :func:`xpnn.train` runs
    the same loop with its own defaults (SGD, the training accuracy in the history).
    """
    from ..training._checks import check_seed, positive_counts
    from ..training._train import run

    if not isinstance(net, Sequential):
        raise TypeError(
            f"train_network trains an xpnn.Sequential network; got {type(net).__name__} (see xpnn.train)"
        )
    if (x_test is None) != (t_test is None):
        raise ValueError("give both x_test and t_test, or neither")
    counts = positive_counts(batch_size=batch_size, epochs=epochs)
    check_seed(seed)
    return run(
        net, x, t, optimizer=get_optimizer(optimizer, lr=lr), batch_size=counts["batch_size"] or 0,
        iters=None, epochs=counts["epochs"] or 0, seed=seed, weight_decay=None, x_test=x_test,
        t_test=t_test, normalize=normalize, train_acc=False, on_epoch=on_epoch,
    )  # fmt: skip
