"""Training, the book's chapters 4-6 on any backend: ``random_network``, ``loss``, ``gradient``,
``numerical_gradient`` and ``train``.

The math is in :mod:`xpnn.layers` (forward and backward, pure) and :mod:`xpnn.optimizers`
(pure updates); this module places the data and the weights, draws the mini-batches and keeps
the history.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._dtypes import floating_dtype
from ._inputs import class_labels
from .backends import TABLE, asarray, backend_of, get_backend, missing_extra, to_numpy
from .functions import network_activation
from .inference import accuracy, check_training_input
from .layers import loss_and_gradient, loss_value
from .network import Network, place
from .optimizers import OPTIMIZERS, Optimizer, get_optimizer

__all__ = ["default_lr", "gradient", "loss", "numerical_gradient", "random_network", "train"]

Array = Any

#: ``weight_init`` names and the standard deviation each gives for ``n`` inputs (the book's
#: ``MultiLayerNet`` also accepts ``"relu"`` for He and ``"sigmoid"`` for Xavier).
WEIGHT_INITS = {
    "he": lambda n: math.sqrt(2.0 / n),
    "relu": lambda n: math.sqrt(2.0 / n),
    "xavier": lambda n: math.sqrt(1.0 / n),
    "sigmoid": lambda n: math.sqrt(1.0 / n),
}


def random_network(
    sizes: Sequence[int], *, weight_init: str | float = "he", seed: int | None = None, dtype: Any = "float32"
) -> dict[str, np.ndarray]:
    """A new network of layer widths ``sizes`` (input first), as a book-style dict of NumPy arrays.

    Weights are drawn from a normal distribution with standard deviation ``sqrt(2/n)`` for
    ``weight_init="he"``, ``sqrt(1/n)`` for ``"xavier"`` (``n`` the layer's inputs), or the
    float given (the book's ``0.01``); biases are zero. The draw comes from
    ``numpy.random.default_rng(seed)`` in float64 and is then cast to ``dtype``, so a seed gives
    the same network (up to that rounding) for every backend and dtype.

    >>> net = random_network([784, 50, 10], weight_init=0.01, seed=0)
    >>> {k: (v.shape, str(v.dtype)) for k, v in net.items()}
    {'W1': ((784, 50), 'float32'), 'b1': ((50,), 'float32'), 'W2': ((50, 10), 'float32'), 'b2': ((10,), 'float32')}
    """
    sizes = [_integer("sizes", s) for s in sizes]
    _check_seed(seed)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs at least two positive layer widths (input first); got {sizes}")
    if isinstance(weight_init, str):
        if weight_init.lower() not in WEIGHT_INITS:
            raise ValueError(
                f"unknown weight_init {weight_init!r}; choose 'he', 'xavier' or a standard deviation (0.01)"
            )
        std = WEIGHT_INITS[weight_init.lower()]
    elif (
        isinstance(weight_init, (int, float))
        and not isinstance(weight_init, bool)
        and math.isfinite(weight_init)
        and weight_init >= 0
    ):
        std = lambda n: float(weight_init)  # noqa: E731
    else:
        raise ValueError(
            f"weight_init must be 'he', 'xavier' or a finite standard deviation >= 0; got {weight_init!r}"
        )
    dtype = np.dtype(floating_dtype(np, dtype))  # the one dtype rule (xpnn._dtypes.floating_dtype)
    rng = np.random.default_rng(seed)
    net: dict[str, np.ndarray] = {}
    for i in range(1, len(sizes)):
        n_in, n_out = sizes[i - 1], sizes[i]
        with np.errstate(over="ignore"):  # an overflow is reported below, in words
            net[f"W{i}"] = (rng.standard_normal((n_in, n_out)) * std(n_in)).astype(dtype)
        if not np.isfinite(net[f"W{i}"]).all():
            raise ValueError(
                f"weight_init={weight_init!r} overflows {dtype.name} (its largest value is"
                f" {float(np.finfo(dtype).max):.4g}): choose a smaller standard deviation"
            )
        net[f"b{i}"] = np.zeros(n_out, dtype=dtype)
    return net


def _integer(name: str, value: Any) -> int:
    """``value`` as a Python int (NumPy integers too); anything else, bool or 2.5, is a ValueError."""
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise ValueError(f"{name} must hold integers; got {value!r}")


def _check_seed(seed: Any) -> None:
    """``seed`` as ``numpy.random.default_rng`` takes it, else an error naming ``seed``.

    None, a non-negative integer (NumPy integers too), a ``SeedSequence``, a ``BitGenerator`` or
    a ``Generator``; a negative integer is a ``ValueError``, anything else (``1.5``, ``"a"``,
    ``True``) a ``TypeError`` (NumPy's own messages do not say which argument is wrong).
    """
    if seed is None or isinstance(
        seed, (np.random.SeedSequence, np.random.BitGenerator, np.random.Generator)
    ):
        return
    try:
        value = None if isinstance(seed, (bool, np.bool_)) else operator.index(seed)
    except TypeError:
        value = None
    if value is None:
        raise TypeError(
            "seed must be a non-negative integer, None, or a numpy.random.Generator / SeedSequence;"
            f" got {type(seed).__name__} {_shown(seed)}"
        )
    if value < 0:
        raise ValueError(f"seed must be a non-negative integer or None; got {_shown(seed)}")


def _shown(value: Any) -> str:
    """``repr(value)``, cut short: an error message quotes what it got, never 400 digits of it."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text):,} characters)"


def _non_negative(name: str, value: Any) -> float:
    """A rate or a decay (``lr``, ``weight_decay``) as a Python float: finite and >= 0, else ValueError.

    The one check of ``loss``, ``gradient``, ``numerical_gradient`` and ``train``.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        try:
            result = float(value)
        except OverflowError:  # an int too large for a float (10**400)
            result = math.inf
        if math.isfinite(result) and result >= 0.0:
            return result
    raise ValueError(f"{name} must be a non-negative finite number; got {_shown(value)}")


def _step(h: Any, params: Mapping[str, Array], xp: Any) -> float:
    """``h`` as a Python float, if ``w ± h`` is a meaningful central-difference step in the weights' dtype.

    Finite and positive; at least the dtype's resolution at the largest weight (below it,
    ``w + h`` rounds to ``w`` and the quotient is rounding noise); at most the weights' scale,
    ``max(1, max |w|)`` (above it the quotient measures a secant, not the derivative, and a huge
    step overflows the loss).
    """
    if not isinstance(h, numbers.Real) or isinstance(h, (bool, np.bool_)):
        raise ValueError(f"h must be a positive finite step; got {h!r}")
    h = float(h)
    if not (math.isfinite(h) and h > 0.0):
        raise ValueError(f"h must be a positive finite step; got {h}")
    dtype = next(iter(params.values())).dtype
    info = xp.finfo(dtype)
    largest = max(float(to_numpy(xp.max(xp.abs(p)))) for p in params.values())
    low = max(float(info.eps) * largest, float(info.smallest_normal))
    high = max(1.0, largest)
    if h < low:
        raise ValueError(
            f"h={h} is too small for {dtype}: w + h rounds to w for the largest weights ({largest:.3g});"
            f" use h >= {low:.2g}, or float64 weights for the book's gradient check"
        )
    if h > high:
        raise ValueError(
            f"h={h} is too large for a derivative: it exceeds the weights' scale max(1, max |w|) ="
            f" {high:.3g}; the book uses h=1e-4"
        )
    return h


def _check_finite_rows(name: str, a: Array, xp: Any) -> None:
    """Refuse NaN or infinity in the 2-D ``a``, naming its first bad row: one vectorised pass on the device."""
    if not xp.isdtype(a.dtype, "real floating"):
        return  # integers and booleans hold no NaN
    finite_rows = xp.all(xp.isfinite(a), axis=1)
    if bool(xp.all(finite_rows)):
        return
    bad = np.flatnonzero(~to_numpy(finite_rows))  # the error path only: one flag per row comes home
    first = int(bad[0])
    what = "NaN" if np.isnan(to_numpy(a[first, ...])).any() else "infinity"
    others = f" ({len(bad) - 1:,} more rows hold NaN or infinity)" if len(bad) > 1 else ""
    raise ValueError(
        f"{name} row {first} has {what}{others}: drop or repair those rows before training"
        f" (np.isfinite({name}).all(axis=1) marks the good ones)"
    )


def _check_not_dask(x: Any, backend: str | None) -> None:
    if not all(TABLE[n].trainable for n in (backend, backend_of(x)) if n in TABLE):  # Dask
        raise ValueError(
            "xpnn does not train on Dask arrays: train on NumPy or CuPy (x.compute() brings a Dask"
            " array home), then predict on Dask with the trained network"
        )


def _placed(net: Mapping[str, Array], x: Any, backend: str | None, device: Any) -> Network:
    """The network on the backend a call runs on: ``backend``; else a Network's own; else ``x``'s."""
    _check_not_dask(x, backend)
    network = place(net, x, backend=backend, device=device)
    if not isinstance(network, Network):
        raise TypeError(
            f"training needs a book-style dict or a Network of arrays; got {type(network).__name__}"
        )
    return network


def _labels(network: Network, t: Any, n: int, name: str = "t") -> Array:
    """``t`` checked by the one label check (:func:`xpnn.accuracy`'s), as class indices on the network's device."""
    return asarray(
        class_labels(t, n, network.n_out, name=name), backend=network.backend, device=network.device
    )


def _call_args(
    net: Mapping[str, Array], x: Any, t: Any, backend: str | None, device: Any, loss: str = "cross_entropy"
) -> tuple[Network, dict[str, Array], Array, Array]:
    network = _placed(net, x, backend, device)
    xd = network.prepare_input(x)
    if len(xd.shape) != 2:
        raise ValueError(f"x must be a batch of shape (N, {network.n_in}); got shape {tuple(xd.shape)}")
    if loss == "squared_error":  # regression targets: real numbers, (N, n_out), checked by the layer
        return network, dict(network.items()), xd, asarray(t, backend=network.backend, device=network.device)
    return network, dict(network.items()), xd, _labels(network, t, int(xd.shape[0]))


def loss(
    net: Mapping[str, Array],
    x: Any,
    t: Any,
    *,
    activation: str | None = None,
    weight_decay: float = 0.0,
    backend: str | None = None,
    device: Any = None,
    loss: str = "cross_entropy",
) -> float:
    """The mean softmax cross-entropy of the network's output on ``x`` against ``t``, a Python float.

    ``t`` holds integer labels ``(N,)`` or one-hot rows. With ``weight_decay`` (λ) set,
    ``0.5 * λ * Σ W²`` over the weight matrices is added, as the book's ``MultiLayerNet``.
    Placement follows :func:`xpnn.forward`; ``activation`` (``"sigmoid"`` or ``"relu"``)
    None means the network's own, else sigmoid. ``loss="squared_error"``: half the squared
    error of the identity output against targets ``t`` of shape ``(N, n_out)``.

    >>> net = random_network([4, 3], seed=0, dtype="float64")
    >>> round(loss(net, np.zeros((2, 4)), np.array([0, 2])), 4)  # log(3): all outputs equal
    1.0986
    """
    weight_decay = _non_negative("weight_decay", weight_decay)
    network, params, xd, td = _call_args(net, x, t, backend, device, loss)
    activation = network_activation(network, activation)
    value = loss_value(params, xd, td, activation=activation, weight_decay=weight_decay, loss=loss)
    return float(to_numpy(value))


def gradient(
    net: Mapping[str, Array],
    x: Any,
    t: Any,
    *,
    activation: str | None = None,
    weight_decay: float = 0.0,
    backend: str | None = None,
    device: Any = None,
    loss: str = "cross_entropy",
) -> dict[str, Array]:
    """The gradient of :func:`loss` by backpropagation: a dict with ``net``'s keys.

    The arrays belong to the computing backend, on its device, in the network's dtype.
    ``loss="squared_error"``: the identity output with ``0.5 * Σ (y - t)² / N``, ``t`` the
    targets ``(N, n_out)`` (see :class:`xpnn.layers.IdentityWithLoss`).

    >>> net = random_network([4, 3], seed=0, dtype="float64")
    >>> gradient(net, np.zeros((1, 4)), np.array([0]))["b1"].round(4)  # softmax(0) - one_hot
    array([-0.6667,  0.3333,  0.3333])
    """
    weight_decay = _non_negative("weight_decay", weight_decay)
    network, params, xd, td = _call_args(net, x, t, backend, device, loss)
    activation = network_activation(network, activation)
    return loss_and_gradient(params, xd, td, activation=activation, weight_decay=weight_decay, loss=loss)[1]


def numerical_gradient(
    net: Mapping[str, Array],
    x: Any,
    t: Any,
    *,
    activation: str | None = None,
    h: float = 1e-4,
    weight_decay: float = 0.0,
    backend: str | None = None,
    device: Any = None,
) -> dict[str, Array]:
    """The gradient of :func:`loss` by central differences, ``(L(w+h) - L(w-h)) / 2h`` per weight.

    The book's gradient check: slow (two forward passes per weight), for small networks only.
    ``net`` is never modified: each step builds new arrays. Same keys, backend and dtype as
    :func:`gradient`.

    The check needs float64 weights: the book's mean differences of about 1e-13 to 1e-10
    (``ch05/gradient_check.py``) are float64 numbers. In float32 (``random_network``'s default)
    each loss is rounded to about 1e-7, so the quotient's error is about 1e-7 / h, near 1e-4
    for the default ``h=1e-4``: that is rounding, not a wrong gradient
    (``random_network(..., dtype="float64")``, or ``examples/gradient_check.py``).
    ``h`` must be finite and positive, no smaller than the dtype's resolution at the largest
    weight (else ``w + h`` rounds to ``w``) and no larger than ``max(1, max |w|)``; otherwise a
    ``ValueError`` says which bound it breaks.

    >>> net = random_network([4, 3], seed=0, dtype="float64")
    >>> numerical_gradient(net, np.zeros((1, 4)), np.array([0]))["b1"].round(4)
    array([-0.6667,  0.3333,  0.3333])
    """
    weight_decay = _non_negative("weight_decay", weight_decay)
    network, params, xd, td = _call_args(net, x, t, backend, device)
    activation = network_activation(network, activation)
    xp = network.xp
    h = _step(h, params, xp)

    def f(p: dict[str, Array]) -> float:
        return float(to_numpy(loss_value(p, xd, td, activation=activation, weight_decay=weight_decay)))

    grads: dict[str, Array] = {}
    for key, p in params.items():
        shape = tuple(p.shape)
        size = math.prod(shape)
        positions = xp.arange(size, device=network.device)
        result = np.empty(size, dtype=np.float64)
        for k in range(size):
            step = xp.reshape(xp.astype(positions == k, p.dtype), shape) * h
            result[k] = (f({**params, key: p + step}) - f({**params, key: p - step})) / (2.0 * h)
        grads[key] = asarray(
            result.reshape(shape).astype(str(p.dtype).rsplit(".", 1)[-1]),
            backend=network.backend,
            device=network.device,
        )
    return grads


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


def train(
    net: Mapping[str, Array],
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
    weight_decay: float = 0.0,
    backend: str | None = None,
    device: Any = None,
    x_test: Any = None,
    t_test: Any = None,
    progress: bool | None = None,
    on_epoch: Callable[[dict[str, Any]], object] | None = None,
) -> tuple[Network, dict[str, list]]:
    """Train ``net`` on ``x`` and labels ``t`` by mini-batch gradient descent; the book's loop.

    Returns ``(network, history)``. ``network`` is a :class:`Network` on the training backend
    that carries its ``activation``, so ``predict(network, x)`` and ``accuracy`` use it (use it
    also with ``save_weights``, ``to_numpy``); ``net`` itself is not modified. ``history`` maps ``"epoch"``, ``"iteration"``, ``"loss"`` (the mean
    mini-batch loss since the previous entry), ``"train_acc"`` and, with ``x_test`` and
    ``t_test``, ``"test_acc"`` to lists with one Python number per epoch.

    - ``iters=`` runs the book's loop: each mini-batch is drawn with replacement, and an
      epoch is every ``N / batch_size`` iterations (a last partial epoch gets an entry too).
      ``epochs=`` shuffles the data without replacement each epoch instead (the last
      mini-batch of an epoch may be smaller). Give one of the two; neither means one epoch.
    - The mini-batch indices come from ``numpy.random.default_rng(seed)`` on the host, and
      ``x`` and ``t`` are uploaded once and indexed on the device, so a seed gives the same run
      on every backend (equal up to rounding).
    - ``optimizer`` is ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``,
      ``"adam"`` (the book's hyper-parameters) or an object with ``init``/``update`` (see
      :mod:`xpnn.optimizers`). ``lr=None`` (the default) is that optimizer's own learning rate,
      :func:`default_lr`: 0.1 for SGD (the book's ch. 5 run), 0.001 for Adam, 0.01 for the others.
    - Every argument is checked before the first step: the options, then ``x``, ``t``,
      ``x_test`` and ``t_test`` (shapes, label values, and NaN or infinity, the first bad row
      named: one vectorised pass on the device) and the starting weights.
    - ``activation`` (hidden layers): ``"sigmoid"`` or ``"relu"``; None means the network's
      own (``to_backend(..., activation=)``), else sigmoid, the book's.
    - Placement follows :func:`xpnn.forward`; the weights' dtype is the compute dtype (``x`` is
      cast to it batch by batch, so integer or float64 data is never copied whole).
    - ``progress`` shows a tqdm bar: True, False, or None (the default) for runs of 2,000
      iterations or more.
    - ``on_epoch``, if given, is called after each epoch with that epoch's entry of the
      history (a dict of Python numbers), for printing or logging as training goes.

    >>> x, t = np.eye(4), np.arange(4) % 2
    >>> net, history = train(random_network([4, 2], seed=0), x, t, epochs=50, batch_size=2, lr=0.5)
    >>> history["train_acc"][-1]
    1.0
    """
    x = check_training_input(net, x, x_test)  # real numbers in flat rows; raw pixels warn once
    _check_not_dask(x, backend)
    _check_not_dask(x_test, None)
    if (x_test is None) != (t_test is None):
        raise ValueError("give both x_test and t_test, or neither")
    if iters is not None and epochs is not None:
        raise ValueError("give iters= (the book's loop, drawn with replacement) or epochs=, not both")
    counts = []
    for name, value in (("batch_size", batch_size), ("iters", iters), ("epochs", epochs)):
        try:
            count = None if value is None else _integer(name, value)
        except ValueError:
            count = 0
        if count is not None and count < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
        counts.append(count)
    if counts[0] is None:
        raise ValueError("batch_size must be a positive integer; got None")
    batch_size, iters, epochs = counts[0], counts[1], counts[2]  # Python ints, NumPy integers included
    _check_seed(seed)
    weight_decay = _non_negative("weight_decay", weight_decay)
    lr = None if lr is None else _non_negative("lr", lr)
    if not (progress is None or isinstance(progress, (bool, np.bool_))):
        raise ValueError(f"progress must be True, False or None; got {progress!r}")
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(f"on_epoch must be a function of one dict, or None; got {type(on_epoch).__name__}")
    if lr is None and isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        lr = default_lr(optimizer)
    opt = get_optimizer(optimizer, lr=lr)
    network = _placed(net, x, backend, device)
    activation = network_activation(network, activation)
    n = int(x.shape[0]) if hasattr(x, "shape") and x.shape else 0
    if n == 0:
        raise ValueError("no training data: x must have shape (N, n_in) with N >= 1")
    # The data goes to the device once; mini-batches are gathered there with xp.take.
    X = _data("x", x, network)
    T = _labels(network, t, n)
    if x_test is not None:
        x_test = _data("x_test", x_test, network)
        t_test = _labels(network, t_test, int(x_test.shape[0]), "t_test")
    for key, value in network.items():
        if not bool(network.xp.all(network.xp.isfinite(value))):
            raise ValueError(
                f"the network's {key} holds NaN or infinity: training cannot start from it"
                " (draw a new one with xpnn.random_network)"
            )
    xp, dev, dtype = network.xp, network.device, network.dtype
    batch_size = min(batch_size, n)
    if iters is not None:
        per_epoch = max(n // batch_size, 1)  # the book's iter_per_epoch, N / batch_size
        schedule = [per_epoch] * (iters // per_epoch) + ([iters % per_epoch] if iters % per_epoch else [])
    else:
        per_epoch = math.ceil(n / batch_size)
        schedule = [per_epoch] * (epochs or 1)
    rng = np.random.default_rng(seed)
    params = dict(network.items())
    state = opt.init(params)
    history: dict[str, list] = {"epoch": [], "iteration": [], "loss": [], "train_acc": []}
    if x_test is not None:
        history["test_acc"] = []
    bar = _progress_bar(sum(schedule), progress)
    iteration = 0
    try:
        for epoch, count in enumerate(schedule, start=1):
            # The book's loop draws with replacement; epochs= shuffles without.
            order = rng.integers(0, n, size=count * batch_size) if iters is not None else rng.permutation(n)
            order_dev = asarray(order, backend=network.backend, device=dev)
            total = None
            for b in range(count):
                idx = order_dev[b * batch_size : (b + 1) * batch_size]
                xb = xp.take(X, idx, axis=0)
                if xb.dtype != dtype:
                    xb = xp.astype(xb, dtype)
                value, grads = loss_and_gradient(
                    params, xb, xp.take(T, idx, axis=0), activation=activation, weight_decay=weight_decay
                )
                params, state = opt.update(params, grads, state)
                total = value if total is None else total + value
                if bar is not None:
                    bar.update(1)
            iteration += count
            trained = _network(params, network, activation)
            history["epoch"].append(epoch)
            history["iteration"].append(iteration)
            history["loss"].append(float(to_numpy(total)) / count)
            history["train_acc"].append(accuracy(trained, X, T, activation=activation, normalize=False))
            if x_test is not None:
                history["test_acc"].append(
                    accuracy(trained, x_test, t_test, activation=activation, normalize=False)
                )
            if on_epoch is not None:
                on_epoch({key: values[-1] for key, values in history.items()})
    finally:
        if bar is not None:
            bar.close()
    return _network(params, network, activation), history


def _data(name: str, x: Any, network: Network) -> Array:
    """``x`` on the network's device as it is (cast batch by batch later), checked: 2-D, its width, finite."""
    X = asarray(x, backend=network.backend, device=network.device)
    if len(X.shape) != 2 or X.shape[1] != network.n_in or X.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, {network.n_in}) to fit W1; got {tuple(X.shape)}")
    _check_finite_rows(name, X, network.xp)
    return X


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


#: ``train``'s SGD learning rate when ``lr`` is None: the book's ch. 5 ``train_neuralnet.py``.
SGD_LR = 0.1


def _network(params: dict[str, Array], like: Network, activation: str) -> Network:
    """A Network of the arrays ``params`` (already on ``like``'s backend and device), no copy."""
    n = len(params) // 2
    layers = [(params[f"W{i}"], params[f"b{i}"]) for i in range(1, n + 1)]
    impl, dev = get_backend(like.backend, like.device)
    return Network(layers, impl, dev, like.xp, activation=activation)
