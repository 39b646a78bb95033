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
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol, runtime_checkable

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


def _float(name: str, value: Any) -> float:
    """A hyper-parameter as a Python float (never a NumPy scalar: it would promote float32)."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number; got {value!r}") from None
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite; got {value!r}")
    return result


def _xp(params: Mapping[str, Array]) -> Any:
    """The arrays' namespace (None for no arrays: then nothing is computed)."""
    return namespace_of(next(iter(params.values()))) if params else None


class _PerParameter:
    """What the six optimizers share, as the book's ``for key in params`` loop: the state is one
    dict of arrays per name in ``_slots`` (``{"v": {"W1": ..., ...}}``; ``None`` when there are
    none), plus the step count ``t`` where ``_counts_steps``; :meth:`update` applies the
    optimizer's own formula, ``_step``, to each parameter with its gradient and its slots.

    Subclasses are frozen dataclasses whose fields are the hyper-parameters (each made a
    Python float here).
    """

    _slots: ClassVar[tuple[str, ...]] = ()
    _counts_steps: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            object.__setattr__(self, f.name, _float(f.name, getattr(self, f.name)))

    def init(self, params: Mapping[str, Array]) -> Any:
        xp = _xp(params)
        return self._state(0, [{k: xp.zeros_like(p) for k, p in params.items()} for _ in self._slots])

    def update(
        self, params: Mapping[str, Array], grads: Mapping[str, Array], state: Any
    ) -> tuple[Params, Any]:
        xp = _xp(params)
        t = int(state["t"]) + 1 if self._counts_steps else 0
        new_params: Params = {}
        new_slots: list[Params] = [{} for _ in self._slots]
        for k, p in params.items():
            new_params[k], *values = self._step(xp, t, p, grads[k], *(state[s][k] for s in self._slots))
            for slot, value in zip(new_slots, values):
                slot[k] = value
        return new_params, self._state(t, new_slots)

    def _state(self, t: int, slots: list[Params]) -> Any:
        """The state after ``t`` steps, ``slots`` holding one dict per name in ``_slots``."""
        if not self._slots:
            return None
        named = dict(zip(self._slots, slots))
        return {"t": t, **named} if self._counts_steps else named

    def _step(self, xp: Any, t: int, p: Array, g: Array, *slots: Array) -> tuple[Array, ...]:
        """One parameter's new value and new slots, from its gradient ``g`` and its ``slots``
        (``t``: the step number from 1, where ``_counts_steps``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class SGD(_PerParameter):
    """Stochastic gradient descent: ``W <- W - lr * dW``.

    >>> import numpy as np
    >>> SGD(lr=0.5).update({"W1": np.array([1.0])}, {"W1": np.array([2.0])}, None)[0]["W1"]
    array([0.])
    """

    lr: float = 0.01

    def _step(self, xp: Any, t: int, p: Array, g: Array, *slots: Array) -> tuple[Array, ...]:
        return (p - self.lr * g,)


@dataclass(frozen=True)
class Momentum(_PerParameter):
    """Momentum SGD: ``v <- momentum * v - lr * dW``; ``W <- W + v``. State: ``{"v": ...}``."""

    lr: float = 0.01
    momentum: float = 0.9
    _slots: ClassVar[tuple[str, ...]] = ("v",)

    def _step(self, xp: Any, t: int, p: Array, g: Array, *slots: Array) -> tuple[Array, ...]:
        (v,) = slots
        v = self.momentum * v - self.lr * g
        return p + v, v


@dataclass(frozen=True)
class Nesterov(_PerParameter):
    """Nesterov's accelerated gradient, in the book's form (arXiv:1212.0901).

    ``W <- W + momentum² v - (1 + momentum) lr dW``; ``v <- momentum v - lr dW``.
    """

    lr: float = 0.01
    momentum: float = 0.9
    _slots: ClassVar[tuple[str, ...]] = ("v",)

    def _step(self, xp: Any, t: int, p: Array, g: Array, *slots: Array) -> tuple[Array, ...]:
        (v,) = slots
        lr, mu = self.lr, self.momentum
        return p + (mu * mu) * v - ((1.0 + mu) * lr) * g, mu * v - lr * g


@dataclass(frozen=True)
class AdaGrad(_PerParameter):
    """AdaGrad: ``h <- h + dW²``; ``W <- W - lr dW / (sqrt(h) + 1e-7)``. State: ``{"h": ...}``."""

    lr: float = 0.01
    _slots: ClassVar[tuple[str, ...]] = ("h",)

    def _step(self, xp: Any, t: int, p: Array, g: Array, *slots: Array) -> tuple[Array, ...]:
        (h,) = slots
        h = h + g * g
        return p - self.lr * g / (xp.sqrt(h) + EPS), h


@dataclass(frozen=True)
class RMSprop(_PerParameter):
    """RMSprop: ``h <- decay h + (1 - decay) dW²``; ``W <- W - lr dW / (sqrt(h) + 1e-7)``."""

    lr: float = 0.01
    decay_rate: float = 0.99
    _slots: ClassVar[tuple[str, ...]] = ("h",)

    def _step(self, xp: Any, t: int, p: Array, g: Array, *slots: Array) -> tuple[Array, ...]:
        (h,) = slots
        rho = self.decay_rate
        h = rho * h + (1.0 - rho) * (g * g)
        return p - self.lr * g / (xp.sqrt(h) + EPS), h


@dataclass(frozen=True)
class Adam(_PerParameter):
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
    _slots: ClassVar[tuple[str, ...]] = ("m", "v")
    _counts_steps: ClassVar[bool] = True

    def _step(self, xp: Any, t: int, p: Array, g: Array, *slots: Array) -> tuple[Array, ...]:
        m, v = slots
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        m = m + (1.0 - b1) * (g - m)
        v = v + (1.0 - b2) * (g * g - v)
        return p - lr_t * m / (xp.sqrt(v) + EPS), m, v


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
            names = [f.name for f in fields(cls) if f.name != "lr"]
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
