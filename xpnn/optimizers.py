"""The book's optimizers (``common/optimizer.py``) as pure ``init`` / ``update`` pairs.

An optimizer is an object with two methods, in the spirit of optax:

- ``init(params) -> state``: the optimizer's starting state for a dict of arrays;
- ``update(params, grads, state) -> (new_params, new_state)``: one step. Nothing is written in
  place: new arrays come back, so the same code runs on NumPy, CuPy, PyTorch, JAX (immutable
  arrays) and array-api-strict.

The update rules and the default hyper-parameters are the book's. Hyper-parameters are Python
floats, so a float32 network stays float32 (a NumPy ``float64`` scalar times a float32 array
would promote it under NumPy 2). The arrays' own namespace is used through their operators
only (``+ - * / **``), plus ``sqrt`` from the namespace where a rule needs it.

>>> import numpy as np
>>> opt = get_optimizer("momentum", lr=0.1)
>>> params, grads = {"W1": np.array([1.0, 2.0])}, {"W1": np.array([0.5, -0.5])}
>>> params, state = opt.update(params, grads, opt.init(params))
>>> params["W1"]
array([0.95, 2.05])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .backends.compat import namespace_of

__all__ = [
    "OPTIMIZERS",
    "AdaGrad",
    "Adam",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "SGD",
    "get_optimizer",
]

Array = Any
Params = dict[str, Array]

#: The book's small constant that keeps AdaGrad, RMSprop and Adam from dividing by zero.
EPS = 1e-7


@runtime_checkable
class Optimizer(Protocol):
    """What :func:`xpnn.train` needs of an optimizer: a pure ``init`` and a pure ``update``."""

    def init(self, params: Mapping[str, Array]) -> Any:
        """The starting state for ``params`` (a dict of arrays of one backend)."""
        ...

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], state: Any
    ) -> tuple[Params, Any]:
        """One step: new parameters and new state; the arguments are left untouched."""
        ...


def _xp(params: Mapping[str, Array]) -> Any:
    return namespace_of(next(iter(params.values())))


def _zeros(params: Mapping[str, Array]) -> Params:
    xp = _xp(params)
    return {k: xp.zeros_like(p) for k, p in params.items()}


def _float(name: str, value: Any) -> float:
    """A hyper-parameter as a Python float (never a NumPy scalar: it would promote float32)."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number; got {value!r}") from None
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return result


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent: ``W <- W - lr * dW``.

    >>> import numpy as np
    >>> SGD(lr=0.5).update({"W1": np.array([1.0])}, {"W1": np.array([2.0])}, None)[0]["W1"]
    array([0.])
    """

    lr: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _float("lr", self.lr))

    def init(self, params: Mapping[str, Array]) -> None:
        return None

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], state: None
    ) -> tuple[Params, None]:
        lr = self.lr
        return {k: p - lr * grads[k] for k, p in params.items()}, None


@dataclass(frozen=True)
class Momentum:
    """Momentum SGD: ``v <- momentum * v - lr * dW``; ``W <- W + v``. State: ``{"v": ...}``."""

    lr: float = 0.01
    momentum: float = 0.9

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _float("lr", self.lr))
        object.__setattr__(self, "momentum", _float("momentum", self.momentum))

    def init(self, params: Mapping[str, Array]) -> dict[str, Params]:
        return {"v": _zeros(params)}

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], state: dict[str, Params]
    ) -> tuple[Params, dict[str, Params]]:
        lr, mu, v = self.lr, self.momentum, state["v"]
        new_v = {k: mu * v[k] - lr * grads[k] for k in params}
        return {k: p + new_v[k] for k, p in params.items()}, {"v": new_v}


@dataclass(frozen=True)
class Nesterov:
    """Nesterov's accelerated gradient, in the book's form (arXiv:1212.0901).

    ``W <- W + momentum² v - (1 + momentum) lr dW``; ``v <- momentum v - lr dW``.
    """

    lr: float = 0.01
    momentum: float = 0.9

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _float("lr", self.lr))
        object.__setattr__(self, "momentum", _float("momentum", self.momentum))

    def init(self, params: Mapping[str, Array]) -> dict[str, Params]:
        return {"v": _zeros(params)}

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], state: dict[str, Params]
    ) -> tuple[Params, dict[str, Params]]:
        lr, mu, v = self.lr, self.momentum, state["v"]
        mu2, step = mu * mu, (1.0 + mu) * lr
        new_params = {k: p + mu2 * v[k] - step * grads[k] for k, p in params.items()}
        return new_params, {"v": {k: mu * v[k] - lr * grads[k] for k in params}}


@dataclass(frozen=True)
class AdaGrad:
    """AdaGrad: ``h <- h + dW²``; ``W <- W - lr dW / (sqrt(h) + 1e-7)``. State: ``{"h": ...}``."""

    lr: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _float("lr", self.lr))

    def init(self, params: Mapping[str, Array]) -> dict[str, Params]:
        return {"h": _zeros(params)}

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], state: dict[str, Params]
    ) -> tuple[Params, dict[str, Params]]:
        lr, h, sqrt = self.lr, state["h"], _xp(params).sqrt
        new_h = {k: h[k] + grads[k] * grads[k] for k in params}
        new_params = {k: p - lr * grads[k] / (sqrt(new_h[k]) + EPS) for k, p in params.items()}
        return new_params, {"h": new_h}


@dataclass(frozen=True)
class RMSprop:
    """RMSprop: ``h <- decay h + (1 - decay) dW²``; ``W <- W - lr dW / (sqrt(h) + 1e-7)``."""

    lr: float = 0.01
    decay_rate: float = 0.99

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _float("lr", self.lr))
        object.__setattr__(self, "decay_rate", _float("decay_rate", self.decay_rate))

    def init(self, params: Mapping[str, Array]) -> dict[str, Params]:
        return {"h": _zeros(params)}

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], state: dict[str, Params]
    ) -> tuple[Params, dict[str, Params]]:
        lr, rho, h, sqrt = self.lr, self.decay_rate, state["h"], _xp(params).sqrt
        new_h = {k: rho * h[k] + (1.0 - rho) * (grads[k] * grads[k]) for k in params}
        new_params = {k: p - lr * grads[k] / (sqrt(new_h[k]) + EPS) for k, p in params.items()}
        return new_params, {"h": new_h}


@dataclass(frozen=True)
class Adam:
    """Adam (arXiv:1412.6980v8), in the book's form.

    With ``t`` the step number (from 1): ``m <- m + (1 - beta1)(dW - m)``,
    ``v <- v + (1 - beta2)(dW² - v)``,
    ``W <- W - lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + 1e-7)``.
    State: ``{"t": int, "m": ..., "v": ...}`` (``t`` a Python int: the bias correction is
    computed on the host, as a Python float).
    """

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999

    def __post_init__(self) -> None:
        for name in ("lr", "beta1", "beta2"):
            object.__setattr__(self, name, _float(name, getattr(self, name)))

    def init(self, params: Mapping[str, Array]) -> dict[str, Any]:
        return {"t": 0, "m": _zeros(params), "v": _zeros(params)}

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], state: dict[str, Any]
    ) -> tuple[Params, dict[str, Any]]:
        b1, b2 = self.beta1, self.beta2
        t = int(state["t"]) + 1
        lr_t = self.lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        m, v = state["m"], state["v"]
        new_m = {k: m[k] + (1.0 - b1) * (grads[k] - m[k]) for k in params}
        new_v = {k: v[k] + (1.0 - b2) * (grads[k] * grads[k] - v[k]) for k in params}
        sqrt = _xp(params).sqrt
        new_params = {k: p - lr_t * new_m[k] / (sqrt(new_v[k]) + EPS) for k, p in params.items()}
        return new_params, {"t": t, "m": new_m, "v": new_v}


#: The optimizers by name (the book's ``common/optimizer.py`` set), each a class whose
#: defaults are the book's hyper-parameters.
OPTIMIZERS: dict[str, type] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}


def get_optimizer(spec: str | Optimizer, *, lr: float | None = None, **hyper: float) -> Optimizer:
    """The optimizer ``spec`` names, with learning rate ``lr`` and other hyper-parameters.

    ``lr=None`` is the optimizer's own default, the book's: 0.01, and 0.001 for Adam.

    ``spec`` is one of ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``,
    ``"adam"`` (case-insensitive), or an object with ``init`` and ``update`` (an
    :class:`Optimizer`), which is returned as it is: it carries its own learning rate, so
    ``lr`` is ignored then and other hyper-parameters are an error.

    >>> get_optimizer("adam", lr=0.01)
    Adam(lr=0.01, beta1=0.9, beta2=0.999)
    >>> get_optimizer("momentum", lr=0.1, momentum=0.5)
    Momentum(lr=0.1, momentum=0.5)
    >>> get_optimizer("adam")
    Adam(lr=0.001, beta1=0.9, beta2=0.999)
    """
    if isinstance(spec, str):
        cls = OPTIMIZERS.get(spec.lower())
        if cls is None:
            raise ValueError(
                f"unknown optimizer {spec!r}; choose one of {', '.join(OPTIMIZERS)}"
                " or pass an object with init(params) and update(params, grads, state)"
            )
        try:
            return cls(**hyper) if lr is None else cls(lr=lr, **hyper)
        except TypeError as e:
            if "unexpected keyword" not in str(e):
                raise
            names = [f for f in cls.__dataclass_fields__ if f != "lr"]  # type: ignore[attr-defined]
            raise ValueError(
                f"optimizer {spec!r} takes {', '.join(names) or 'no hyper-parameters'} besides lr;"
                f" got {sorted(hyper)}"
            ) from None
    if callable(getattr(spec, "init", None)) and callable(getattr(spec, "update", None)):
        if hyper:
            raise ValueError(
                f"hyper-parameters {sorted(hyper)} apply to optimizers given by name; set them on"
                f" your {type(spec).__name__} object instead"
            )
        return spec
    raise TypeError(
        f"optimizer must be a name ({', '.join(OPTIMIZERS)}) or an object with init(params) and"
        f" update(params, grads, state); got {type(spec).__name__}"
    )
