"""``xpnn.MLPClassifier``: a scikit-learn classifier that trains xpnn networks on any backend.

The estimator follows scikit-learn's ``MLPClassifier``: the same parameter names where the idea
is the same, the same loop (epochs of shuffled mini-batches, ``tol`` and ``n_iter_no_change``,
``early_stopping`` on a held-out ``validation_fraction``, ``warm_start``, ``partial_fit``) and
the same fitted attributes. The math underneath is xpnn's: ``layers.loss_and_gradient`` and the
optimizers of ``optimizers.get_optimizer``, written once on the Array API.

Where it runs:

- ``backend=None`` (the default): with ``sklearn.set_config(array_api_dispatch=True)`` the
  estimator follows the input's library and device (PyTorch in, PyTorch out; CuPy in, CuPy out);
  without it, everything is NumPy, as scikit-learn expects.
- ``backend="cupy"`` (or ``"torch"`` with ``device="cuda"``, ...): the training and the
  predictions run there; results come back in the caller's namespace (NumPy without dispatch).

The training data is uploaded once per ``fit``; the mini-batches are taken on the device with
``xp.take`` and indices drawn on the host from ``random_state``.

Differences from scikit-learn's ``MLPClassifier``, on purpose:

- ``activation`` is ``"relu"`` or ``"logistic"`` (also spelled ``"sigmoid"``): the book's
  layers. ``solver`` is one of xpnn's optimizers (``"sgd"``, ``"momentum"``, ``"nesterov"``,
  ``"adagrad"``, ``"rmsprop"``, ``"adam"``); there is no ``"lbfgs"``. scikit-learn's ``"sgd"``
  has Nesterov momentum 0.9 by default: that is ``solver="nesterov"`` here; ``"sgd"`` is plain.
- The output layer is a softmax over every class, also for two classes (scikit-learn uses one
  logistic unit there), so ``coefs_[-1]`` has ``n_classes`` columns. Multi-label targets are
  not supported.
- ``alpha`` is the same L2 penalty: scikit-learn adds ``0.5 * alpha * sum(W**2) / n`` to the
  mean loss of a mini-batch of ``n`` rows, which is xpnn's ``weight_decay = alpha / n``, passed
  per batch; loss and gradient are then the same.
- The learning rate is constant (no ``learning_rate="invscaling"/"adaptive"``).
"""

from __future__ import annotations

import itertools
import math
import numbers
import pickle
import warnings
from typing import Any

import numpy as np

try:
    import sklearn
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError(
        "xpnn.MLPClassifier needs scikit-learn: `pip install scikit-learn`"
        " (in a clone of xpnn, `pip install -e '.[sklearn]'`)"
    ) from e
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from ._backends import backend_of, device_of, get_backend, to_numpy
from ._compat import array_namespace, is_array_api_obj
from .functions import HIDDEN_ACTIVATIONS
from .network import Network, forward, run_layers, to_backend

__all__ = ["MLPClassifier"]

Array = Any

#: scikit-learn's activation names -> xpnn's.
ACTIVATIONS = {"relu": "relu", "logistic": "sigmoid", "sigmoid": "sigmoid"}
SOLVERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


#: The compute dtypes the estimator trains in, by name.
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A multi-layer perceptron classifier trained by xpnn, on any Array API backend.

    Parameters are those of :class:`sklearn.neural_network.MLPClassifier` where the idea is
    the same (see the module docstring for the differences). Those that are new or differ:

    backend : str or None
        Where to train and predict (a name of ``xpnn.BACKENDS``, or ``"auto"``). ``None``:
        the input's library under ``array_api_dispatch``, else NumPy.
    device : any
        The device on that backend (``"cuda"``, ``"cuda:1"``, ...); ``None``: the input's
        device under dispatch, else the backend's default.
    momentum : float
        The momentum of ``solver="momentum"`` and ``"nesterov"``.
    beta_1, beta_2 : float
        Adam's decay rates (its epsilon is the book's 1e-7; scikit-learn's is 1e-8).
    dtype : str or None
        The compute dtype (``"float32"``, ``"float64"``, ``"bfloat16"`` on PyTorch, ...).
        ``None``: the input's, after integer input is cast to float64 as scikit-learn does.

    Fitted attributes: ``classes_``, ``n_features_in_`` (and ``feature_names_in_`` for
    DataFrames), ``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``, ``best_loss_``,
    ``validation_scores_``, ``best_validation_score_``, ``n_layers_``, ``n_outputs_``,
    ``out_activation_``, ``network_`` (an :class:`xpnn.Network`, for ``xpnn.predict``,
    ``xpnn.save_weights``, ...) and ``coefs_`` / ``intercepts_`` (its arrays).

    >>> import numpy as np
    >>> from xpnn import MLPClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 25)
    >>> y = np.array(["no", "yes", "yes", "no"] * 25)
    >>> clf = MLPClassifier((16,), learning_rate_init=0.05, max_iter=200, random_state=0).fit(X, y)
    >>> clf.predict([[0.0, 1.0], [1.0, 1.0]])
    array(['yes', 'no'], dtype='<U3')
    """

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate_init: float = 0.001,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | float = 10,
        momentum: float = 0.9,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        backend: str | None = None,
        device: Any = None,
        dtype: str | None = None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.backend = backend
        self.device = device
        self.dtype = dtype

    # --- parameters ------------------------------------------------------------------------

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
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
                f" or (100, 50); got {self.hidden_layer_sizes!r}"
            )
        return tuple(int(s) for s in sizes)

    def _check_params(self) -> None:
        """Clear errors for parameters out of range (scikit-learn validates at fit, not in __init__)."""

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

        self._hidden_sizes()
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {self.activation!r}")
        if self.solver not in SOLVERS:
            hint = " (xpnn trains with first-order optimizers: try 'adam')" if self.solver == "lbfgs" else ""
            raise ValueError(f"solver must be one of {list(SOLVERS)}; got {self.solver!r}{hint}")
        number("alpha", 0.0)
        number("learning_rate_init", 0.0, low_open=True)
        number("tol", 0.0)
        number("momentum", 0.0, 1.0)
        number("beta_1", 0.0, 1.0, high_open=True)  # Adam divides by 1 - beta**t
        number("beta_2", 0.0, 1.0, high_open=True)
        if not (isinstance(self.validation_fraction, numbers.Real) and 0.0 <= self.validation_fraction < 1.0):
            raise ValueError(f"validation_fraction must be in [0, 1); got {self.validation_fraction!r}")
        for name in ("max_iter",):
            v = getattr(self, name)
            if not (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1):
                raise ValueError(f"{name} must be a positive integer; got {v!r}")
        n = self.n_iter_no_change
        if not ((isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1) or n == math.inf):
            raise ValueError(f"n_iter_no_change must be a positive integer or numpy.inf; got {n!r}")
        b = self.batch_size
        if not (b == "auto" or (isinstance(b, numbers.Integral) and not isinstance(b, bool) and b >= 1)):
            raise ValueError(f"batch_size must be 'auto' or a positive integer; got {b!r}")
        for name in ("shuffle", "warm_start", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")
        if self.dtype is not None and self.dtype not in FLOAT_DTYPES:
            raise ValueError(
                f"dtype must be None (the input's floating dtype) or one of {list(FLOAT_DTYPES)};"
                f" got {self.dtype!r}"
            )

    # --- where things live -----------------------------------------------------------------

    @staticmethod
    def _dispatch() -> bool:
        return bool(sklearn.get_config().get("array_api_dispatch", False))

    def _validate_X(self, X: Any, y: Any = "no_validation", *, reset: bool, dispatch: bool) -> Any:
        """scikit-learn's input validation; under dispatch ``X`` keeps its library and device."""
        if dispatch and is_array_api_obj(X) and not isinstance(X, np.ndarray):
            xp = array_namespace(X)
            names = xp.__array_namespace_info__().dtypes(kind="real floating", device=device_of(X))
            dtype: Any = tuple(names[n] for n in ("float64", "float32") if n in names)
        else:
            dtype = (np.float64, np.float32)
        return validate_data(self, X, y, reset=reset, dtype=dtype)

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
        here = _where(X)
        if fitted is None or here == fitted:
            return
        raise ValueError(
            f"Inputs passed to {type(self).__name__}.{method}() must use the same namespace and the same"
            f" device as those passed to fit(): fit had {fitted[0]} on {fitted[1]}, {method} got"
            f" {here[0]} on {here[1]}. Move the input first, for example with xpnn.asarray(x, backend=...)."
        )

    def _to_caller(self, a: Array, X: Array, dispatch: bool) -> Array:
        """A result in the caller's namespace: ``X``'s under dispatch, NumPy otherwise."""
        if not dispatch:
            return to_numpy(a)
        name = backend_of(X) or "numpy"
        if backend_of(a) == name and (name == "numpy" or _same_device(a, X)):
            return a
        impl, dev = get_backend(name, None if name == "numpy" else device_of(X))
        return impl.asarray(a, dev)

    # --- fitting ---------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> MLPClassifier:
        """Train on ``X`` (n_samples, n_features) and labels ``y`` of any type; returns ``self``."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y``, continuing from the current weights and optimizer state.

        ``classes`` (every label the model will ever see) is required on the first call.
        """
        self._check_params()
        known = getattr(self, "classes_", None)
        if known is None:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = unique_labels(_host(classes))
        elif classes is not None and not np.array_equal(known, unique_labels(_host(classes))):
            raise ValueError(
                f"classes={classes!r} is not the same as on the last call to partial_fit, was: {known!r}"
            )
        return self._fit(X, y, incremental=True)

    def _fit(self, X: Any, y: Any, *, incremental: bool) -> MLPClassifier:
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        dispatch = self._dispatch()
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, y = self._validate_X(X, y, reset=first_pass, dispatch=dispatch)
        y_host = _host(y)  # labels are encoded on the host: they may be strings
        check_classification_targets(y_host)
        codes = self._encode(y_host, incremental=incremental, first_pass=first_pass)

        impl, dev = self._placement(X, dispatch)
        xp = impl.load()
        dtype = _dtype(xp, self.dtype or _dtype_name(X.dtype))
        n_features = int(X.shape[1])
        rng = check_random_state(self.random_state)
        act = ACTIVATIONS[self.activation]

        if first_pass:
            sizes = (n_features, *self._hidden_sizes(), len(self.classes_))
            params = {
                k: xp.astype(impl.from_host(v, dev), dtype) for k, v in _glorot(sizes, act, rng).items()
            }
            self._initialize(sizes)
        else:
            params = {k: _on(impl, dev, v, xp, dtype) for k, v in self._network().items()}
        self._input_place = _where(X) if dispatch else ("numpy", "cpu")
        self._classes_out = (
            _on_like(self.classes_, X) if dispatch and self.classes_.dtype.kind in "biuf" else self.classes_
        )

        Xd = _on(impl, dev, X, xp, dtype)  # the one upload of the training data
        td = impl.from_host(codes.astype(np.int64), dev)
        params = self._run_epochs(params, Xd, td, codes, impl, dev, xp, rng, act, incremental)
        if not all(bool(xp.all(xp.isfinite(p))) for p in params.values()):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large"
                " values and need to be preprocessed (StandardScaler), or learning_rate_init is too large."
            )
        self.network_ = to_backend(params, impl.name, dev, activation=act)
        return self

    def _encode(self, y: np.ndarray, *, incremental: bool, first_pass: bool) -> np.ndarray:
        """Integer codes of ``y`` into ``classes_`` (set here on a fresh ``fit``)."""
        labels = unique_labels(y)
        if not incremental and first_pass:
            self.classes_ = labels
        elif not incremental:  # warm_start
            if set(labels.tolist()) != set(self.classes_.tolist()):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the previous"
                    f" call to fit. Previously got {self.classes_}, `y` has {labels}"
                )
        elif len(np.setdiff1d(labels, self.classes_)):
            raise ValueError(
                f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {labels}."
            )
        return np.searchsorted(self.classes_, y)

    def _initialize(self, sizes: tuple[int, ...]) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(sizes)
        self.n_outputs_ = sizes[-1]
        self.out_activation_ = "softmax"
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
        for name in ("_optimizer", "_opt_state"):
            self.__dict__.pop(name, None)

    def _optimizer_for(self) -> Any:
        from .optimizers import get_optimizer

        hyper = {
            "momentum": {"momentum": float(self.momentum)},
            "nesterov": {"momentum": float(self.momentum)},
            "adam": {"beta1": float(self.beta_1), "beta2": float(self.beta_2)},
        }.get(self.solver, {})
        return get_optimizer(self.solver, lr=float(self.learning_rate_init), **hyper)

    def _run_epochs(
        self,
        params: dict[str, Array],
        Xd: Array,
        td: Array,
        codes: np.ndarray,
        impl: Any,
        dev: Any,
        xp: Any,
        rng: np.random.RandomState,
        act: str,
        incremental: bool,
    ) -> dict[str, Array]:
        from .layers import loss_and_gradient

        if not incremental or getattr(self, "_opt_state", None) is None:
            self._optimizer = self._optimizer_for()
            state = self._optimizer.init(params)
        else:
            if getattr(self, "_optimizer", None) is None:  # after unpickling
                self._optimizer = self._optimizer_for()
            state = self.__dict__["_opt_state"]
        optimizer = self._optimizer

        early_stopping = self.early_stopping
        if early_stopping:
            from sklearn.model_selection import train_test_split

            train_idx, val_idx = train_test_split(
                np.arange(codes.shape[0]),
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
            Xd, td = xp.take(Xd, tr, axis=0), xp.take(td, tr, axis=0)
            best = params

        n = int(Xd.shape[0])
        if self.batch_size == "auto":
            batch = min(200, n)
        else:
            if int(self.batch_size) > n:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                    stacklevel=3,
                )
            batch = min(int(self.batch_size), n)
        alpha = float(self.alpha)

        self.n_iter_ = 0
        for _ in range(self.max_iter):
            perm = impl.from_host(rng.permutation(n), dev) if self.shuffle else None
            total: Array = None
            for start in range(0, n, batch):
                stop = min(start + batch, n)
                if perm is None:
                    xb, tb = Xd[start:stop, ...], td[start:stop]
                else:
                    idx = perm[start:stop]
                    xb, tb = xp.take(Xd, idx, axis=0), xp.take(td, idx, axis=0)
                rows = stop - start
                loss, grads = loss_and_gradient(params, xb, tb, activation=act, weight_decay=alpha / rows)
                params, state = optimizer.update(params, grads, state)
                total = loss * float(rows) if total is None else total + loss * float(rows)
            self.n_iter_ += 1
            self.t_ += n
            self.loss_ = float(total) / n
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
            if early_stopping:
                score = _accuracy(params, X_val, t_val, act, xp)
                self.validation_scores_.append(score)  # type: ignore[union-attr]
                if self.verbose:
                    print(f"Validation score: {score:f}")
                better = score >= self.best_validation_score_ + self.tol  # type: ignore[operator]
                if score > self.best_validation_score_:  # type: ignore[operator]
                    self.best_validation_score_ = score
                    best = params
            else:
                better = self.loss_ <= self.best_loss_ - self.tol  # type: ignore[operator]
                self.best_loss_ = min(self.best_loss_, self.loss_)  # type: ignore[type-var]
            self._no_improvement_count = 0 if better else self._no_improvement_count + 1
            if self._no_improvement_count > self.n_iter_no_change:
                if self.verbose:
                    what = "Validation score" if early_stopping else "Training loss"
                    print(
                        f"{what} did not improve more than tol={self.tol:f}"
                        f" for {self.n_iter_no_change} consecutive epochs. Stopping."
                    )
                break
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the"
                    " optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        self._opt_state = state
        return best if early_stopping else params

    def _network(self) -> Network:
        network: Network = self.network_
        return network

    # --- predicting ------------------------------------------------------------------------

    def _logits(self, X: Any, method: str) -> tuple[Array, Any, bool]:
        check_is_fitted(self, "network_")
        dispatch = self._dispatch()
        X = self._validate_X(X, reset=False, dispatch=dispatch)
        self._check_namespace(X, method, dispatch)
        act = ACTIVATIONS[self.activation]
        return forward(self.network_, X, activation=act, output="identity"), X, dispatch

    def predict(self, X: Any) -> Any:
        """The predicted class labels, one per row of ``X`` (in the caller's namespace where numeric)."""
        z, X, dispatch = self._logits(X, "predict")
        idx = self.network_.xp.argmax(z, axis=-1)
        if dispatch and self.classes_.dtype.kind in "biuf":  # numeric labels follow the input
            idx = self._to_caller(idx, X, dispatch)
            classes = getattr(self, "_classes_out", None)  # placed by fit, where its input was
            if classes is None or backend_of(classes) != backend_of(idx):  # from_network: host labels
                classes = _on_like(self.classes_, X)
            return array_namespace(idx).take(classes, idx, axis=0)
        return self.classes_[to_numpy(idx)]

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape ``(n_samples, n_classes)``, columns in the order of ``classes_``."""
        z, X, dispatch = self._logits(X, "predict_proba")
        xp = self.network_.xp
        z = z - xp.max(z, axis=-1, keepdims=True)
        e = xp.exp(z)
        return self._to_caller(e / xp.sum(e, axis=-1, keepdims=True), X, dispatch)

    def predict_log_proba(self, X: Any) -> Any:
        """``log(predict_proba(X))``, computed as a log-softmax (no ``log(0)`` warnings)."""
        z, X, dispatch = self._logits(X, "predict_log_proba")
        xp = self.network_.xp
        z = z - xp.max(z, axis=-1, keepdims=True)
        return self._to_caller(z - xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True)), X, dispatch)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against ``y``, as a Python float.

        Predictions and labels are compared on the host: labels may be strings, and ``y`` may
        come from another library than ``X``.
        """
        from sklearn.metrics import accuracy_score

        pred = _host(self.predict(X))
        weights = None if sample_weight is None else _host(sample_weight)
        with sklearn.config_context(array_api_dispatch=False):
            return float(accuracy_score(_host(y), pred, sample_weight=weights))

    # --- attributes, tags, pickling, wrapping ----------------------------------------------

    @property
    def coefs_(self) -> list[Array]:
        """The weight matrices ``[W1, ..., Wn]`` of ``network_``, on its backend."""
        check_is_fitted(self, "network_")
        return [W for W, _ in self.network_.layers]

    @property
    def intercepts_(self) -> list[Array]:
        """The bias vectors ``[b1, ..., bn]`` of ``network_``, on its backend."""
        check_is_fitted(self, "network_")
        return [b for _, b in self.network_.layers]

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
            state["network_"] = ("xpnn.Network", net.to_numpy(), net.backend, device)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        net = state.get("network_")
        if isinstance(net, tuple) and net[:1] == ("xpnn.Network",):
            _, arrays, backend, device = net
            act = ACTIVATIONS.get(state.get("activation", ""))
            state = {**state, "network_": to_backend(arrays, backend, device, activation=act)}
        super().__setstate__(state)

    @classmethod
    def from_network(
        cls, net: Any, classes: Any = None, *, activation: str | None = None, **params: Any
    ) -> MLPClassifier:
        """A fitted estimator around a trained or loaded network (a book-style dict or a Network).

        ``classes`` names the outputs in order (default ``0..n_outputs-1``); ``activation`` is
        the network's hidden activation (default: the book's ``"logistic"``, the sigmoid).
        Other keywords are estimator parameters (for a later ``partial_fit``, say). A dict is
        placed on ``backend``/``device`` (NumPy by default); a Network stays where it is.

        >>> import xpnn
        >>> clf = xpnn.MLPClassifier.from_network(xpnn.init_network(), classes=["a", "b"])
        >>> clf.predict([[1.0, 0.5]])
        array(['b'], dtype='<U1')
        """
        if activation is None:
            activation = getattr(net, "activation", None) or "logistic"
        if activation == "sigmoid":
            activation = "logistic"
        if isinstance(net, Network):
            sizes = net.sizes
        else:
            backend, device, dtype = (
                params.get("backend") or "numpy",
                params.get("device"),
                params.get("dtype"),
            )
            net = to_backend(net, backend, device, dtype=dtype, activation=ACTIVATIONS.get(activation))
            sizes = net.sizes
        est = cls(hidden_layer_sizes=tuple(sizes[1:-1]), activation=activation, **params)
        est._check_params()
        n_out = sizes[-1]
        classes = np.arange(n_out) if classes is None else _host(classes)
        if classes.shape != (n_out,) or len(unique_labels(classes)) != n_out:
            raise ValueError(
                f"the network has {n_out} outputs: give {n_out} distinct classes, in output order; got {classes!r}"
            )
        est.network_ = net
        est.classes_ = classes
        est.n_features_in_ = sizes[0]
        est._initialize(tuple(sizes))
        return est


# --- helpers ------------------------------------------------------------------------------------


def _host(a: Any) -> np.ndarray:
    """Any array or list as a NumPy array: an explicit move to the host (labels, small arrays)."""
    return to_numpy(a) if is_array_api_obj(a) else np.asarray(a)


def _where(X: Array) -> tuple[str, str]:
    name = backend_of(X) or "numpy"
    return name, "cpu" if name == "numpy" else repr(device_of(X))


def _same_device(a: Array, b: Array) -> bool:
    return repr(device_of(a)) == repr(device_of(b))


def _on(impl: Any, dev: Any, a: Array, xp: Any, dtype: Any) -> Array:
    """``a`` on the backend and device, in ``dtype``: uploaded or moved once, cast there."""
    a = impl.asarray(a, dev)
    return a if a.dtype == dtype else xp.astype(a, dtype)


def _on_like(a: np.ndarray, X: Array) -> Array:
    """Host array ``a`` in ``X``'s library and on its device."""
    name = backend_of(X) or "numpy"
    if name == "numpy":
        return a
    impl, dev = get_backend(name, device_of(X))
    return impl.from_host(a, dev)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1]


def _dtype(xp: Any, name: str) -> Any:
    found = getattr(xp, name, None)
    if found is None:
        raise ValueError(f"{getattr(xp, '__name__', 'this backend')} has no dtype {name!r}")
    return found


def _glorot(sizes: tuple[int, ...], activation: str, rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """scikit-learn's initialisation: uniform in ±sqrt(6 / (fan_in + fan_out)) (2, not 6, for logistic)."""
    factor = 2.0 if activation == "sigmoid" else 6.0
    params = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        bound = math.sqrt(factor / (fan_in + fan_out))
        params[f"W{i}"] = rng.uniform(-bound, bound, (fan_in, fan_out))
        params[f"b{i}"] = rng.uniform(-bound, bound, fan_out)
    return params


def _accuracy(params: dict[str, Array], X: Array, t: Array, activation: str, xp: Any) -> float:
    """Accuracy of the (unplaced) parameters on ``X`` against integer codes ``t``, counted on the device."""
    layers = [(params[f"W{i}"], params[f"b{i}"]) for i in range(1, len(params) // 2 + 1)]
    z = run_layers(layers, X, HIDDEN_ACTIVATIONS[activation], lambda a, xp: a, xp)
    # No cast of the codes: JAX without x64 has no int64 (and warns on each cast to it).
    hits = xp.count_nonzero(xp.argmax(z, axis=-1) == t)
    return float(hits) / int(X.shape[0])
