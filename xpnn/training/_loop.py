"""The one training loop: :func:`epochs`, a generator of epochs over a layer network.

``xpnn.train``, ``xpnn.nn.train_network`` and the estimators (``MLPClassifier``,
``MLPRegressor``) all drive it. The math of a mini-batch is the network's own
:meth:`xpnn.Sequential.loss_and_gradient` (forward in training mode, backward, the new running
statistics) and an optimizer's pure ``update``; this loop only takes the mini-batches on the
device (``xp.take`` of indices drawn on the host, so a seed gives the same run on every backend)
and carries the arrays, the optimizer state and the running statistics from step to step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backends import asarray
from ..nn.losses import weight_decay_term
from ..optimizers import Optimizer

__all__ = ["Epoch", "epochs"]

Array = Any

#: How each epoch visits the rows: a new permutation, the book's draw with replacement
#: (``iters=``), or in order (scikit-learn's ``shuffle=False``).
ORDERS = ("shuffle", "replace", "none")


@dataclass(frozen=True)
class Epoch:
    """What :func:`epochs` yields after each epoch."""

    #: The network after the epoch: its trained arrays and running statistics.
    network: Any
    #: The optimizer's state (Adam's moments, ...), to go on from.
    opt_state: Any
    #: The epoch's loss, a Python float: the mean over its mini-batches (``mean="batches"``) or
    #: over its rows (``mean="rows"``, scikit-learn's ``loss_``).
    loss: float
    #: The mini-batch steps taken so far.
    iteration: int


def epochs(
    network: Any,
    X: Array,
    T: Array,
    *,
    optimizer: Optimizer,
    batch_size: int,
    rng: Any,
    order: str = "shuffle",
    schedule: Iterable[int] | None = None,
    opt_state: Any = None,
    weight_decay: float | None = None,
    decay_over_batch: bool = False,
    sample_weight: np.ndarray | None = None,
    loss: str = "cross_entropy",
    loss_scale: float = 1.0,
    normalize: bool = False,
    mean: str = "batches",
    on_step: Callable[[], object] | None = None,
) -> Generator[Epoch, Optimizer | None, None]:
    """Train ``network`` (a placed :class:`xpnn.Sequential`) on ``X`` and targets ``T`` (on its
    device, checked), one epoch per ``next``; ``send(optimizer)`` changes the optimizer from the
    next epoch on (scikit-learn's learning-rate schedules).

    - ``rng`` (a ``numpy.random.Generator`` or ``RandomState``) draws the order of the rows
      (``order``, :data:`ORDERS`) and the dropout masks.
    - ``schedule``: the mini-batches of each epoch (its length is the number of epochs); None
      means full epochs, ``ceil(N / batch_size)`` mini-batches each, without end.
    - ``weight_decay`` (None: the network's own) goes to ``loss_and_gradient``;
      ``decay_over_batch`` divides it by the mini-batch's weight (its rows, or the sum of its
      ``sample_weight``), as scikit-learn does, and skips a mini-batch of weight 0.
    - ``sample_weight`` (host NumPy, one per row) weighs the rows of each mini-batch.
    - ``loss_scale`` divides the reported loss (not its gradient) but its weight-decay term:
      scikit-learn reports the squared error as a mean over the outputs too.
    - ``normalize`` divides integer pixels by 255 on the device, mini-batch by mini-batch.
    - ``on_step`` is called after every step (a progress bar).
    """
    xp, dtype = network.xp, network.dtype
    n = int(X.shape[0])
    params = network.params
    state = optimizer.init(params) if opt_state is None else opt_state
    W = (
        None
        if sample_weight is None
        else asarray(sample_weight, backend=network.backend, device=network.device)
    )
    if W is not None and W.dtype != dtype:
        W = xp.astype(W, dtype)
    counts = itertools.repeat(math.ceil(n / batch_size)) if schedule is None else schedule
    iteration = 0
    for count in counts:
        if order == "replace":  # the book's loop: drawn with replacement
            drawn = rng.integers(0, n, size=count * batch_size)
        else:
            drawn = rng.permutation(n) if order == "shuffle" else None
        idx = None if drawn is None else asarray(drawn, backend=network.backend, device=network.device)
        total: Array = None
        for b in range(count):
            start = b * batch_size
            stop = min(start + batch_size, n if drawn is None else len(drawn))
            if idx is None:
                xb, tb = X[start:stop, ...], T[start:stop, ...]
                wb = None if W is None else W[start:stop]
            else:
                rows = idx[start:stop]
                xb, tb = xp.take(X, rows, axis=0), xp.take(T, rows, axis=0)
                wb = None if W is None else xp.take(W, rows, axis=0)
            if xb.dtype != dtype:
                xb = xp.astype(xb, dtype)
            if normalize:
                xb = xb / 255.0
            lam = weight_decay
            if decay_over_batch and weight_decay is not None:  # scikit-learn: alpha over the batch's weight
                if sample_weight is None:
                    mass = float(stop - start)
                else:
                    mass = float(
                        np.sum(sample_weight[slice(start, stop) if drawn is None else drawn[start:stop]])
                    )
                if mass <= 0.0:
                    continue  # a batch of weight 0 teaches nothing (and would divide by 0)
                lam = weight_decay / mass
            kw: dict[str, Any] = {} if lam is None else {"weight_decay": lam}
            value, grads, new_state = network.loss_and_gradient(
                xb, tb, loss=loss, sample_weight=wb, rng=rng, **kw
            )
            if loss_scale != 1.0:
                penalty = weight_decay_term(params, lam or 0.0, xp)
                value = (value - penalty) * (1.0 / loss_scale) + penalty
            params, state = optimizer.update(params, grads, state)
            network = network.replace({**params, **new_state})
            if mean == "rows":
                value = value * float(stop - start)
            total = value if total is None else total + value
            if on_step is not None:
                on_step()
        iteration += count
        epoch_loss = 0.0 if total is None else float(total) / (n if mean == "rows" else count)
        change = yield Epoch(network, state, epoch_loss, iteration)
        if change is not None:
            optimizer = change
