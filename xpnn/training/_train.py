"""``train``: the book's training run on any network and backend, a driver of :func:`epochs`.

It checks every argument before the first step, places the network and the data once, drives
the one loop (:mod:`xpnn.training._loop`) and keeps the history. :func:`run` is the part
``xpnn.nn.train_network`` shares.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..backends import missing_extra
from ..inference import accuracy, check_training_input
from ..optimizers import OPTIMIZERS, Optimizer, get_optimizer
from ._api import placed
from ._checks import (
    check_not_dask,
    check_seed,
    data,
    decay,
    finite_params,
    labels,
    non_negative,
    positive_counts,
)
from ._loop import epochs as run_epochs

__all__ = ["SGD_LR", "default_lr", "run", "train"]

Array = Any

#: ``train``'s SGD learning rate when ``lr`` is None: the book's ch. 5 ``train_neuralnet.py``.
SGD_LR = 0.1


def default_lr(optimizer: str) -> float:
    """The learning rate ``train`` uses for ``optimizer`` when ``lr`` is None.

    The book's own: SGD 0.1 (its ch. 5 run; the class default in ``common/optimizer.py`` is
    0.01), Momentum, Nesterov, AdaGrad and RMSprop 0.01, Adam 0.001.

    >>> default_lr("sgd"), default_lr("adam"), default_lr("momentum")
    (0.1, 0.001, 0.01)
    """
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    name = optimizer.lower()
    return SGD_LR if name == "sgd" else float(OPTIMIZERS[name].__dataclass_fields__["lr"].default)  # type: ignore[attr-defined]


def _progress_bar(total: int, progress: bool | None) -> Any:
    """A tqdm bar over ``total`` iterations, or None; ``progress=None`` shows one on long runs."""
    if progress is False or (progress is None and total < 2000):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as e:
        if progress is None:
            return None
        raise ImportError(
            f"{missing_extra('progress=True', 'progress')}; tqdm cannot be imported here ({e})"
        ) from e
    return tqdm(total=total, unit="it", leave=False)


def run(
    net: Any,
    x: Any,
    t: Any,
    *,
    optimizer: Optimizer,
    batch_size: int,
    iters: int | None,
    epochs: int | None,
    seed: Any,
    weight_decay: float | None,
    backend: str | None = None,
    device: Any = None,
    activation: str | None = None,
    x_test: Any = None,
    t_test: Any = None,
    normalize: bool = False,
    train_acc: bool = True,
    progress: bool | None = False,
    on_epoch: Callable[[dict[str, Any]], object] | None = None,
) -> tuple[Any, dict[str, list]]:
    """Place, check the data, drive :func:`epochs`, keep the history: ``(trained network, history)``.

    The options are checked already; the data is checked here, before the first step.
    """
    network, finish, _ = placed(net, x, backend, device, activation)
    n = int(x.shape[0]) if hasattr(x, "shape") and x.shape else 0
    if n == 0:
        raise ValueError("no training data: x must have shape (N, n_in) with N >= 1")
    # The data goes to the device once; mini-batches are gathered there with xp.take.
    X = data("x", x, network)
    T = labels(network, t, n)
    if x_test is not None:
        x_test = data("x_test", x_test, network)
        t_test = labels(network, t_test, int(x_test.shape[0]), "t_test")
    finite_params(network)
    batch_size = min(batch_size, n)
    if iters is not None:
        per_epoch = max(n // batch_size, 1)  # the book's iter_per_epoch, N / batch_size
        schedule = [per_epoch] * (iters // per_epoch) + ([iters % per_epoch] if iters % per_epoch else [])
    else:
        schedule = [math.ceil(n / batch_size)] * (epochs or 1)
    history: dict[str, list] = {}
    bar = _progress_bar(sum(schedule), progress)
    trained = finish(network)
    loop = run_epochs(
        network, X, T, optimizer=optimizer, batch_size=batch_size, rng=np.random.default_rng(seed),
        order="replace" if iters is not None else "shuffle", schedule=schedule, weight_decay=weight_decay,
        normalize=normalize, on_step=None if bar is None else (lambda: bar.update(1)),
    )  # fmt: skip
    try:
        for number, epoch in enumerate(loop, start=1):
            trained = finish(epoch.network)
            entry: dict[str, Any] = {"epoch": number}
            if train_acc:
                entry["iteration"] = epoch.iteration
            entry["loss"] = epoch.loss
            if train_acc:
                entry["train_acc"] = accuracy(trained, X, T, normalize=normalize)
            if x_test is not None:
                entry["test_acc"] = accuracy(trained, x_test, t_test, normalize=normalize)
            for key, value in entry.items():
                history.setdefault(key, []).append(value)
            if on_epoch is not None:
                on_epoch(entry)
    finally:
        if bar is not None:
            bar.close()
    return trained, history


def train(
    net: Mapping[str, Array] | Any,
    x: Any,
    t: Any,
    *,
    activation: str | None = None,
    optimizer: str | Optimizer = "sgd",
    lr: float | None = None,
    batch_size: int = 100,
    iters: int | None = None,
    epochs: int | None = None,
    seed: int | None = 0,
    weight_decay: float | None = None,
    backend: str | None = None,
    device: Any = None,
    x_test: Any = None,
    t_test: Any = None,
    progress: bool | None = None,
    on_epoch: Callable[[dict[str, Any]], object] | None = None,
) -> tuple[Any, dict[str, list]]:
    """Train ``net`` on ``x`` and labels ``t`` by mini-batch gradient descent; the book's loop.

    Returns ``(network, history)``. For a book-style dict (or :class:`Network`), ``network`` is a
    :class:`Network` on the training backend that carries its ``activation``, so
    ``predict(network, x)`` and ``accuracy`` use it (use it also with ``save_weights``,
    ``to_numpy``); for a layer network (:class:`xpnn.Sequential`: ``SimpleConvNet``,
    ``MultiLayerNetExtend``, ...), a network of the same class with the trained arrays and
    batch normalization's running statistics. ``net`` itself is not modified. ``history`` maps
    ``"epoch"``, ``"iteration"``, ``"loss"`` (the mean mini-batch loss since the previous entry),
    ``"train_acc"`` and, with ``x_test`` and ``t_test``, ``"test_acc"`` to lists with one Python
    number per epoch.

    - ``iters=`` runs the book's loop: each mini-batch is drawn with replacement, and an
      epoch is every ``N / batch_size`` iterations (a last partial epoch gets an entry too).
      ``epochs=`` shuffles the data without replacement each epoch instead (the last
      mini-batch of an epoch may be smaller). Give one of the two; neither means one epoch.
    - The mini-batch indices and the dropout masks come from ``numpy.random.default_rng(seed)``
      on the host, and ``x`` and ``t`` are uploaded once and indexed on the device, so a seed
      gives the same run on every backend (equal up to rounding).
    - Layer networks train in training mode: batch normalization on each mini-batch's
      statistics (its running mean and variance updated), dropout on; both are off at inference
      (``predict``, ``accuracy`` and the history's accuracies).
    - ``optimizer`` is ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``,
      ``"adam"`` (the book's hyper-parameters) or an object with ``init``/``update`` (see
      :mod:`xpnn.optimizers`). ``lr=None`` (the default) is that optimizer's own learning rate,
      :func:`default_lr`: 0.1 for SGD (the book's ch. 5 run), 0.001 for Adam, 0.01 for the others.
    - ``weight_decay`` (λ) adds ``0.5 * λ * Σ W²`` to the loss; None (the default) is the
      network's own (``MultiLayerNet``'s ``weight_decay_lambda``), else 0.
    - Every argument is checked before the first step: the options, then ``x``, ``t``,
      ``x_test`` and ``t_test`` (shapes, label values, and NaN or infinity, the first bad row
      named: one vectorised pass on the device) and the starting weights.
    - ``activation`` (hidden layers of a dict): ``"sigmoid"`` or ``"relu"``; None means the
      network's own (``to_backend(..., activation=)``), else sigmoid, the book's. A layer
      network's activations are its layers.
    - Placement follows :func:`xpnn.forward`; the weights' dtype is the compute dtype (``x`` is
      cast to it batch by batch, so integer or float64 data is never copied whole).
    - ``progress`` shows a tqdm bar: True, False, or None (the default) for runs of 2,000
      iterations or more.
    - ``on_epoch``, if given, is called after each epoch with that epoch's entry of the
      history (a dict of Python numbers), for printing or logging as training goes.

    >>> from xpnn import random_network
    >>> x, t = np.eye(4), np.arange(4) % 2
    >>> net, history = train(random_network([4, 2], seed=0), x, t, epochs=50, batch_size=2, lr=0.5)
    >>> history["train_acc"][-1]
    1.0
    """
    x = check_training_input(net, x, x_test)  # real numbers in flat rows; raw pixels warn once
    check_not_dask(x, backend)
    check_not_dask(x_test, None)
    if (x_test is None) != (t_test is None):
        raise ValueError("give both x_test and t_test, or neither")
    if iters is not None and epochs is not None:
        raise ValueError("give iters= (the book's loop, drawn with replacement) or epochs=, not both")
    counts = positive_counts(batch_size=batch_size, iters=iters, epochs=epochs)
    if counts["batch_size"] is None:
        raise ValueError("batch_size must be a positive integer; got None")
    check_seed(seed)
    weight_decay = decay(weight_decay)
    lr = None if lr is None else non_negative("lr", lr)
    if not (progress is None or isinstance(progress, (bool, np.bool_))):
        raise ValueError(f"progress must be True, False or None; got {progress!r}")
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(f"on_epoch must be a function of one dict, or None; got {type(on_epoch).__name__}")
    if lr is None and isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        lr = default_lr(optimizer)
    opt = get_optimizer(optimizer, lr=lr)
    return run(
        net, x, t, optimizer=opt, batch_size=counts["batch_size"], iters=counts["iters"],
        epochs=counts["epochs"], seed=seed, weight_decay=weight_decay, backend=backend, device=device,
        activation=activation, x_test=x_test, t_test=t_test, progress=progress, on_epoch=on_epoch,
    )  # fmt: skip
