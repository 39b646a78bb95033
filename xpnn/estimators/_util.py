"""The estimators' parameter checks and small helpers (placement, dtypes, initialisation)."""

from __future__ import annotations

import itertools
import math
import numbers
from typing import Any

import numpy as np

from ..backends import backend_of, device_of, get_backend, to_numpy
from ..backends.compat import is_array_api_obj
from ..functions import HIDDEN_ACTIVATIONS
from ..network import run_layers

Array = Any

#: scikit-learn's activation names -> xpnn's.
ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
}
SOLVERS = ("sgd", "adam", "adagrad", "rmsprop")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
#: The compute dtypes the estimators train in, by name.
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def hidden_sizes(given: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of positive ints, or a ValueError naming it."""
    sizes = given
    if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if sizes is None or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) > 0 for s in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be a positive integer or a sequence of them, such as (100,)"
            f" or (100, 50); got {given!r}"
        )
    return tuple(int(s) for s in sizes)


def _lower_case_hint(name: Any, names: Any) -> str:
    """What to say of ``"ReLU"``: names here are case-sensitive, as scikit-learn's (unlike ``xpnn.train``'s)."""
    if isinstance(name, str) and name.lower() in names:
        return f" (names are lower case, as in scikit-learn: {name.lower()!r})"
    return ""


def check_params(self: Any) -> None:
    """Clear errors for the estimator's parameters out of range, each named with its range."""

    def number(
        name: str, low: float, high: float = math.inf, *, low_open: bool = False, high_open: bool = False
    ) -> None:
        v = getattr(self, name)
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)
        ok = ok and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
        if not ok:
            where = f"{'>' if low_open else '>='} {low}"
            if high < math.inf:
                where += f" and {'<' if high_open else '<='} {high}"
            raise ValueError(f"{name} must be a number {where}; got {v!r}")

    hidden_sizes(self.hidden_layer_sizes)
    if self.activation not in ACTIVATIONS:
        hint = _lower_case_hint(self.activation, ACTIVATIONS)
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {self.activation!r}{hint}")
    if self.solver not in SOLVERS:
        hint = {
            "lbfgs": " (xpnn trains with first-order optimizers: try 'adam')",
            "momentum": " (momentum is solver='sgd' with momentum=0.9, nesterovs_momentum=False)",
            "nesterov": " (Nesterov's momentum is solver='sgd', nesterovs_momentum=True)",
        }.get(self.solver, _lower_case_hint(self.solver, SOLVERS))
        raise ValueError(f"solver must be one of {list(SOLVERS)}; got {self.solver!r}{hint}")
    if self.learning_rate not in LEARNING_RATES:
        raise ValueError(f"learning_rate must be one of {list(LEARNING_RATES)}; got {self.learning_rate!r}")
    number("alpha", 0.0)
    number("learning_rate_init", 0.0, low_open=True)
    number("power_t", 0.0)
    number("tol", 0.0)
    number("momentum", 0.0, 1.0)
    number("beta_1", 0.0, 1.0, high_open=True)  # Adam divides by 1 - beta**t
    number("beta_2", 0.0, 1.0, high_open=True)
    if not (
        isinstance(self.validation_fraction, numbers.Real) and 0.0 <= float(self.validation_fraction) < 1.0
    ):
        raise ValueError(f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}")
    v = self.max_iter
    if not (isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1):
        raise ValueError(f"max_iter must be a positive integer; got {v!r}")
    n = self.n_iter_no_change
    if not ((isinstance(n, numbers.Integral) and not isinstance(n, bool) and int(n) >= 1) or n == math.inf):
        raise ValueError(f"n_iter_no_change must be a positive integer or numpy.inf; got {n!r}")
    b = self.batch_size
    if not (b == "auto" or (isinstance(b, numbers.Integral) and not isinstance(b, bool) and int(b) >= 1)):
        raise ValueError(f"batch_size must be 'auto' or a positive integer; got {b!r}")
    for name in ("shuffle", "warm_start", "early_stopping", "nesterovs_momentum"):
        if not isinstance(getattr(self, name), (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")
    if self.dtype is not None and self.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"dtype must be None (the input's floating dtype) or one of {list(FLOAT_DTYPES)};"
            f" got {self.dtype!r}"
        )


# --- helpers ------------------------------------------------------------------------------------


def host(a: Any) -> np.ndarray:
    """Any array or list as a NumPy array: an explicit move to the host (labels, small arrays)."""
    return to_numpy(a) if is_array_api_obj(a) else np.asarray(a)


def optimizer_for(est: Any, lr: float) -> Any:
    """The xpnn optimizer of ``est.solver`` at learning rate ``lr``; scikit-learn's sgd has momentum."""
    from ..optimizers import get_optimizer

    solver, hyper = est.solver, {}
    if solver == "sgd" and est.momentum > 0:  # Nesterov's by default, as scikit-learn's
        solver = "nesterov" if est.nesterovs_momentum else "momentum"
        hyper = {"momentum": float(est.momentum)}
    elif solver == "adam":
        hyper = {"beta1": float(est.beta_1), "beta2": float(est.beta_2)}
    return get_optimizer(solver, lr=lr, **hyper)


def sample_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    """``sample_weight`` as host float64 ``(n,)``, checked as scikit-learn does; None stays None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        return np.full(n, float(sample_weight))
    w = host(sample_weight)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), one weight per sample; got shape {w.shape}")
    try:
        w = w.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"sample_weight must hold numbers; got dtype {w.dtype}") from None
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if not np.any(w > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return w


def where(X: Array) -> tuple[str, str]:
    name = backend_of(X) or "numpy"
    return name, "cpu" if name == "numpy" else repr(device_of(X))


def same_device(a: Array, b: Array) -> bool:
    return repr(device_of(a)) == repr(device_of(b))


def on(impl: Any, dev: Any, a: Array, xp: Any, dtype: Any) -> Array:
    """``a`` on the backend and device, in ``dtype``: uploaded or moved once, cast there."""
    a = impl.asarray(a, dev)
    return a if a.dtype == dtype else xp.astype(a, dtype)


def on_like(a: np.ndarray, X: Array) -> Array:
    """Host array ``a`` in ``X``'s library and on its device."""
    name = backend_of(X) or "numpy"
    if name == "numpy":
        return a
    impl, dev = get_backend(name, device_of(X))
    return impl.from_host(a, dev)


def dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def dtype_of(xp: Any, name: str) -> Any:
    found = getattr(xp, name, None)
    if found is None:
        raise ValueError(f"{getattr(xp, '__name__', 'this backend')} has no dtype {name!r}")
    return found


def glorot(sizes: tuple[int, ...], activation: str, rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """scikit-learn's initialisation: uniform in ±sqrt(6 / (fan_in + fan_out)) (2, not 6, for logistic)."""
    factor = 2.0 if activation == "sigmoid" else 6.0
    params = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        bound = math.sqrt(factor / (fan_in + fan_out))
        params[f"W{i}"] = rng.uniform(-bound, bound, (fan_in, fan_out))
        params[f"b{i}"] = rng.uniform(-bound, bound, fan_out)
    return params


def outputs(params: dict[str, Array], X: Array, activation: str, xp: Any) -> Array:
    """The output layer's input for (unplaced) parameters on ``X``, on the device."""
    layers = [(params[f"W{i}"], params[f"b{i}"]) for i in range(1, len(params) // 2 + 1)]
    return run_layers(layers, X, HIDDEN_ACTIVATIONS[activation], lambda a, xp: a, xp)
