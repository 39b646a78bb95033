"""What ``xpnn.MLPClassifier`` and ``xpnn.MLPRegressor`` share: parameters, placement, the epoch loop.

The loop is scikit-learn's (``_fit_stochastic`` of ``sklearn.neural_network``): epochs of
shuffled mini-batches, ``tol`` and ``n_iter_no_change``, ``early_stopping`` on a held-out
``validation_fraction``, the ``learning_rate`` schedules of ``solver="sgd"``, ``warm_start``,
``partial_fit`` and ``sample_weight``. The math is xpnn's: ``layers.loss_and_gradient`` and the
optimizers of ``optimizers.get_optimizer``, written once on the Array API. The training data is
uploaded once per ``fit``; mini-batches are taken on the device with ``xp.take``, their indices
drawn on the host from ``random_state``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._book_dict import layer_arrays
from ..backends import backend_of, device_of, get_backend, to_numpy
from ..backends.compat import array_namespace, is_array_api_obj
from ..errors import warn
from ..network import Network, forward, to_backend
from ..nn.dense import dense_pairs
from ..training import epochs
from ._util import (
    ACTIVATIONS,
    check_params,
    dtype_name,
    dtype_of,
    glorot,
    hidden_sizes,
    on,
    optimizer_for,
    same_device,
    sample_weights,
    where,
)

Array = Any


#: scikit-learn's MLP parameters after ``hidden_layer_sizes`` and ``activation``, with their
#: defaults, then xpnn's placement: written once, for both estimators (:func:`sklearn_init`).
PARAMETERS: dict[str, Any] = {
    "solver": "adam",
    "alpha": 0.0001,
    "batch_size": "auto",
    "learning_rate": "constant",
    "learning_rate_init": 0.001,
    "power_t": 0.5,
    "max_iter": 200,
    "shuffle": True,
    "random_state": None,
    "tol": 1e-4,
    "verbose": False,
    "warm_start": False,
    "momentum": 0.9,
    "nesterovs_momentum": True,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "n_iter_no_change": 10,
    "backend": None,
    "device": None,
    "dtype": None,
}


def sklearn_init(first: Mapping[str, Any] | None = None, **extra: Any) -> Callable[..., None]:
    """An ``__init__`` with scikit-learn's signature: ``first`` (positional, before
    ``hidden_layer_sizes`` and ``activation``), then :data:`PARAMETERS` and ``extra`` (keyword only).

    It stores each argument as an attribute of the same name, as scikit-learn requires;
    ``get_params``, ``clone`` and ``repr`` read the signature (``inspect.signature`` honours
    ``__signature__``), so every parameter is written here once.
    """
    P = inspect.Parameter
    positional = {**(first or {}), "hidden_layer_sizes": (100,), "activation": "relu"}
    signature = inspect.Signature(
        [P("self", P.POSITIONAL_OR_KEYWORD)]
        + [P(k, P.POSITIONAL_OR_KEYWORD, default=v) for k, v in positional.items()]
        + [P(k, P.KEYWORD_ONLY, default=v) for k, v in {**PARAMETERS, **extra}.items()]
    )

    def init(*args: Any, **kwargs: Any) -> None:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        self, *_ = bound.arguments.values()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    init.__name__ = "__init__"
    init.__signature__ = signature  # type: ignore[attr-defined]
    return init


class BaseMLP(BaseEstimator):
    """The parameters, the placement and the training loop of both estimators (not for direct use)."""

    network_: Network  # set by fit (and by MLPClassifier.from_network)
    _loss = "cross_entropy"  # layers.LOSSES: the output layer and its loss
    _out_activation = "softmax"

    __init__ = sklearn_init()

    # --- parameters ------------------------------------------------------------------------

    def _hidden_sizes(self) -> tuple[int, ...]:
        return hidden_sizes(self.hidden_layer_sizes)

    def _check_params(self) -> None:
        """Clear errors for parameters out of range (scikit-learn validates at fit, not in __init__)."""
        check_params(self)

    # --- where things live -----------------------------------------------------------------

    @staticmethod
    def _dispatch() -> bool:
        return bool(sklearn.get_config().get("array_api_dispatch", False))

    def _validate_X(self, X: Any, y: Any = "no_validation", *, reset: bool, dispatch: bool, **kw: Any) -> Any:
        """scikit-learn's input validation; under dispatch ``X`` keeps its library and device."""
        if dispatch and is_array_api_obj(X) and not isinstance(X, np.ndarray):
            xp = array_namespace(X)
            names = xp.__array_namespace_info__().dtypes(kind="real floating", device=device_of(X))
            dtype: Any = tuple(names[n] for n in ("float64", "float32") if n in names)
        else:
            dtype = (np.float64, np.float32)
        return validate_data(self, X, y, reset=reset, dtype=dtype, **kw)

    def _placement(self, X: Array, dispatch: bool) -> tuple[Any, Any]:
        """The backend object and device the math runs on."""
        if self.backend is not None:
            return get_backend(self.backend, self.device)
        name = backend_of(X) if dispatch else "numpy"
        if name in (None, "numpy"):
            return get_backend("numpy", self.device)
        return get_backend(name, self.device if self.device is not None else device_of(X))

    def _check_namespace(self, X: Array, method: str, dispatch: bool) -> None:
        """Under dispatch, ``X`` must come from the library and device that ``fit`` had."""
        if not dispatch:
            return
        fitted = getattr(self, "_input_place", None)
        here = where(X)
        if fitted is None or here == fitted:
            return
        raise ValueError(
            f"Inputs passed to {type(self).__name__}.{method}() must use the same namespace and the same"
            f" device as those passed to fit(): fit had {fitted[0]} on {fitted[1]}, {method} got"
            f" {here[0]} on {here[1]}. Move the input first, for example with xpnn.asarray(x, backend=...)."
        )

    def _to_caller(self, a: Array, X: Array, dispatch: bool) -> Array:
        """A result in the caller's namespace: ``X``'s under dispatch, NumPy otherwise."""
        if not dispatch:  # NumPy has no bfloat16: float32 then
            xp = array_namespace(a)
            return to_numpy(a if dtype_name(a.dtype) != "bfloat16" else xp.astype(a, xp.float32))
        name = backend_of(X) or "numpy"
        if backend_of(a) == name and (name == "numpy" or same_device(a, X)):
            return a
        impl, dev = get_backend(name, None if name == "numpy" else device_of(X))
        return impl.asarray(a, dev)

    # --- fitting ---------------------------------------------------------------------------

    def _targets(self, y: Any, impl: Any, dev: Any, xp: Any, dtype: Any, **kw: Any) -> tuple:
        """``(targets on the device, stratification codes or None, n_outputs, row weights or None)``."""
        raise NotImplementedError

    def _validation_score(self, params: dict, X: Array, t: Array, w: Array, act: str, xp: Any) -> float:
        raise NotImplementedError

    def _fit(self, X: Any, y: Any, sample_weight: Any, *, incremental: bool, **kw: Any) -> Any:
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        dispatch = self._dispatch()
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, y = self._validate_X(X, y, reset=first_pass, dispatch=dispatch, **self._y_checks)
        impl, dev = self._placement(X, dispatch)
        xp = impl.load()
        dtype = dtype_of(xp, self.dtype or dtype_name(X.dtype))
        n = int(X.shape[0])
        weights = sample_weights(sample_weight, n)
        td, codes, n_out, row_weights = self._targets(
            y, impl, dev, xp, dtype, incremental=incremental, first_pass=first_pass, **kw
        )
        if row_weights is not None:
            weights = row_weights if weights is None else weights * row_weights
        rng = check_random_state(self.random_state)
        act = ACTIVATIONS[self.activation]
        if first_pass:
            sizes = (int(X.shape[1]), *self._hidden_sizes(), n_out)
            params = {k: xp.astype(impl.from_host(v, dev), dtype) for k, v in glorot(sizes, act, rng).items()}
            self._initialize(sizes)
        else:
            params = {k: on(impl, dev, v, xp, dtype) for k, v in self.network_.items()}
        self._input_place = where(X) if dispatch else ("numpy", "cpu")
        self._placed(X, dispatch)
        Xd = on(impl, dev, X, xp, dtype)  # the one upload of the training data
        params = self._run_epochs(params, Xd, td, codes, weights, impl, dev, xp, rng, act, incremental)
        if not all(bool(xp.all(xp.isfinite(p))) for p in params.values()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large"
                " values and need to be preprocessed (StandardScaler), or learning_rate_init is too large."
            )
        self.network_ = Network(layer_arrays(params), impl, dev, xp, activation=act)  # on the device: no copy
        return self

    _y_checks: dict[str, Any] = {}  # noqa: RUF012 - read only: validate_data's options for y

    def _placed(self, X: Array, dispatch: bool) -> None:
        """Hook: whatever a subclass keeps next to the caller's input (the classifier's labels)."""

    def _initialize(self, sizes: tuple[int, ...]) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = self._out_activation
        self.loss_curve_: list[float] = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -math.inf
            self.best_loss_: float | None = None
        else:
            self.best_loss_ = math.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None
        for name in ("_optimizer", "_opt_state", "_learning_rate"):
            self.__dict__.pop(name, None)

    def _run_epochs(
        self,
        params: dict[str, Array],
        Xd: Array,
        td: Array,
        codes: np.ndarray | None,
        weights: np.ndarray | None,
        impl: Any,
        dev: Any,
        xp: Any,
        rng: np.random.RandomState,
        act: str,
        incremental: bool,
    ) -> dict[str, Array]:
        """scikit-learn's stopping policy around xpnn's one loop (:func:`xpnn.training.epochs`)."""
        scheduled = self.solver == "sgd" and self.learning_rate != "constant"
        if not incremental or getattr(self, "_opt_state", None) is None:
            self._learning_rate = float(self.learning_rate_init)
            self._optimizer = optimizer_for(self, self._learning_rate)
            state = None
        else:
            if getattr(self, "_optimizer", None) is None:  # after unpickling
                lr = self._learning_rate if scheduled else float(self.learning_rate_init)
                self._optimizer = optimizer_for(self, lr)
            state = self.__dict__["_opt_state"]
        optimizer = self._optimizer

        early_stopping = self.early_stopping
        if early_stopping:
            from sklearn.model_selection import train_test_split

            train_idx, val_idx = train_test_split(
                np.arange(int(Xd.shape[0])),
                random_state=rng,
                test_size=self.validation_fraction,
                stratify=codes,
            )
            if val_idx.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
                )
            tr, va = impl.from_host(train_idx, dev), impl.from_host(val_idx, dev)
            X_val, t_val = xp.take(Xd, va, axis=0), xp.take(td, va, axis=0)
            w_val = None if weights is None else on(impl, dev, weights[val_idx], xp, Xd.dtype)
            Xd, td = xp.take(Xd, tr, axis=0), xp.take(td, tr, axis=0)
            weights = None if weights is None else weights[train_idx]
            best = params
        n = int(Xd.shape[0])
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if int(self.batch_size) > n:
                warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch = min(int(self.batch_size), n)
        network = Network(layer_arrays(params), impl, dev, xp, activation=act)
        loop = epochs(
            network, Xd, td, optimizer=optimizer, batch_size=batch, rng=rng,
            order="shuffle" if self.shuffle else "none", opt_state=state, weight_decay=float(self.alpha),
            decay_over_batch=True, sample_weight=weights, loss=self._loss, loss_scale=self._loss_scale(),
            mean="rows",
        )  # fmt: skip
        change = None
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            epoch = loop.send(change)
            change, params, state = None, epoch.network.params, epoch.opt_state
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = epoch.loss
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if early_stopping:
                score = self._validation_score(params, X_val, t_val, w_val, act, xp)
                self.validation_scores_.append(score)  # type: ignore[union-attr]
                if self.verbose:
                    print(f"Validation score: {score:f}")
                better = score >= self.best_validation_score_ + self.tol
                if score > self.best_validation_score_:  # type: ignore[operator]
                    self.best_validation_score_ = score
                    best = params
            else:
                better = self.loss_ <= self.best_loss_ - self.tol
                self.best_loss_ = min(self.best_loss_, self.loss_)  # type: ignore[type-var]
            self._no_improvement_count = 0 if better else self._no_improvement_count + 1
            if scheduled and self.learning_rate == "invscaling":
                self._learning_rate = float(self.learning_rate_init) / (self.t_ + 1) ** float(self.power_t)
                change = self._optimizer = dataclasses.replace(self._optimizer, lr=self._learning_rate)
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early_stopping else "Training loss"
                msg = f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."
                if scheduled and self.learning_rate == "adaptive" and self._learning_rate > 1e-6:
                    self._learning_rate /= 5.0
                    change = self._optimizer = dataclasses.replace(self._optimizer, lr=self._learning_rate)
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"{msg} Setting learning rate to {self._learning_rate:f}")
                else:
                    if self.verbose:
                        tail = (
                            " Learning rate too small."
                            if scheduled and self.learning_rate == "adaptive"
                            else ""
                        )
                        print(f"{msg}{tail} Stopping.")
                    break
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the"
                    " optimization hasn't converged yet.",
                    ConvergenceWarning,
                )
        self._opt_state = state
        return best if early_stopping else params

    def _loss_scale(self) -> float:
        return 1.0

    # --- predicting ------------------------------------------------------------------------

    def _forward(self, X: Any, method: str) -> tuple[Array, Any, bool]:
        """The network's output before the output function, for validated ``X``."""
        check_is_fitted(self, "network_")
        dispatch = self._dispatch()
        X = self._validate_X(X, reset=False, dispatch=dispatch)
        self._check_namespace(X, method, dispatch)
        act = ACTIVATIONS[self.activation]
        return forward(self.network_, X, activation=act, output="identity"), X, dispatch

    # --- attributes, tags, pickling --------------------------------------------------------

    @property
    def coefs_(self) -> list[Array]:
        """The weight matrices ``[W1, ..., Wn]`` of ``network_``, on its backend."""
        check_is_fitted(self, "network_")
        return [W for W, _ in dense_pairs(self.network_.layers, self.network_.params)]

    @property
    def intercepts_(self) -> list[Array]:
        """The bias vectors ``[b1, ..., bn]`` of ``network_``, on its backend."""
        check_is_fitted(self, "network_")
        return [b for _, b in dense_pairs(self.network_.layers, self.network_.params)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_optimizer", None)  # made again from the parameters when needed
        net = state.pop("network_", None)
        if net is not None:  # a Network holds its library's module: keep host arrays and the place
            device = None if net.backend == "numpy" else net.device
            try:
                pickle.dumps(device)
            except Exception:  # JAX devices do not pickle: the backend's default device then
                device = None
            arrays = {k: self._to_caller(a, None, False) for k, a in net.items()}  # bfloat16: float32
            state["network_"] = ("xpnn.Network", arrays, net.backend, device, dtype_name(net.dtype))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        net = state.get("network_")
        if isinstance(net, tuple) and net[:1] == ("xpnn.Network",):
            _, arrays, backend, device, *dtype = net  # no dtype: pickled by xpnn 0.1
            act = ACTIVATIONS.get(state.get("activation", ""))
            placed = to_backend(arrays, backend, device, dtype=(dtype or [None])[0], activation=act)
            state = {**state, "network_": placed}
        super().__setstate__(state)


__all__ = ["BaseMLP"]
