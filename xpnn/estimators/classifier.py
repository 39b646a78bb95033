"""``xpnn.MLPClassifier``: scikit-learn's ``MLPClassifier`` trained by xpnn, on any backend.

Differences from scikit-learn's, on purpose: see docs/guide/sklearn.md. In short: no
``"lbfgs"`` solver (``"adagrad"`` and ``"rmsprop"`` besides ``"sgd"`` and ``"adam"``); a
softmax over every class, also for two (``coefs_[-1]`` has ``n_classes`` columns); no
multi-label targets; Adam's epsilon is the book's 1e-7; ``class_weight`` as in scikit-learn's
linear classifiers; ``backend``, ``device`` and ``dtype`` choose where and how it trains.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, unique_labels

from ..backends import backend_of
from ..backends.compat import array_namespace
from ..network import Network, to_backend
from ._base import BaseMLP, sklearn_init
from ._util import ACTIVATIONS, host, on_like, outputs

__all__ = ["MLPClassifier"]

Array = Any


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multi-layer perceptron classifier trained by xpnn, on any Array API backend.

    Parameters are those of :class:`sklearn.neural_network.MLPClassifier` where the idea is
    the same, plus ``class_weight`` (``None``, ``"balanced"`` or ``{label: weight}``, as in
    scikit-learn's linear classifiers: it multiplies ``sample_weight``) and

    backend : str or None
        Where to train and predict (a name of ``xpnn.BACKENDS``, or ``"auto"``). ``None``:
        the input's library under ``array_api_dispatch``, else NumPy.
    device : any
        The device on that backend (``"cuda"``, ...); ``None``: the input's under dispatch.
    dtype : str or None
        The compute dtype (``"float32"``, ``"float64"``, ``"bfloat16"`` on PyTorch, ...).
        ``None``: the input's, after integer input is cast to float64 as scikit-learn does.

    Fitted attributes: scikit-learn's (``classes_``, ``n_iter_``, ``loss_curve_``, ``coefs_``,
    ...) and ``network_``, an :class:`xpnn.Network` for ``xpnn.predict``, ``xpnn.save_weights``.

    >>> import numpy as np
    >>> from xpnn import MLPClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 25)
    >>> y = np.array(["no", "yes", "yes", "no"] * 25)
    >>> clf = MLPClassifier((16,), learning_rate_init=0.05, max_iter=200, random_state=0).fit(X, y)
    >>> clf.predict([[0.0, 1.0], [1.0, 1.0]])
    array(['yes', 'no'], dtype='<U3')
    """

    __init__ = sklearn_init(class_weight=None)

    # --- fitting ---------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Train on ``X`` (n_samples, n_features) and labels ``y`` of any type; returns ``self``."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y``, continuing from the current weights and optimizer state.

        ``classes`` (every label the model will ever see) is required on the first call.
        """
        self._check_params()
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: pass the weights, for example"
                " class_weight=dict(zip(classes, compute_class_weight('balanced', classes=classes, y=y)))"
            )
        known = getattr(self, "classes_", None)
        if known is None:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = unique_labels(host(classes))
        elif classes is not None and not np.array_equal(known, unique_labels(host(classes))):
            raise ValueError(
                f"classes={classes!r} is not the same as on the last call to partial_fit, was: {known!r}"
            )
        return self._fit(X, y, sample_weight, incremental=True)

    def _targets(self, y: Any, impl: Any, dev: Any, xp: Any, dtype: Any, **kw: Any) -> tuple:
        y_host = host(y)  # labels are encoded on the host: they may be strings
        check_classification_targets(y_host)
        codes = self._encode(y_host, **kw)
        weights = None
        if self.class_weight is not None:
            from sklearn.utils.class_weight import compute_class_weight

            per_class = compute_class_weight(self.class_weight, classes=self.classes_, y=y_host)
            weights = np.asarray(per_class, dtype=np.float64)[codes]
        # scikit-learn stratifies the early-stopping split for two classes only (one output column)
        stratify = codes if len(self.classes_) == 2 else None
        return impl.from_host(codes.astype(np.int64), dev), stratify, len(self.classes_), weights

    def _placed(self, X: Array, dispatch: bool) -> None:
        numeric = dispatch and self.classes_.dtype.kind in "biuf"
        self._classes_out = on_like(self.classes_, X) if numeric else self.classes_

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

    def _validation_score(self, params: dict, X: Array, t: Array, w: Array, act: str, xp: Any) -> float:
        """Accuracy on the held-out rows (weighted by ``w`` if given), counted on the device."""
        # No cast of the codes: JAX without x64 has no int64 (and warns on each cast to it).
        hits = xp.argmax(outputs(params, X, act, xp), axis=-1) == t
        if w is None:
            return float(xp.count_nonzero(hits)) / int(X.shape[0])
        return float(xp.sum(xp.where(hits, w, 0.0))) / float(xp.sum(w))

    # --- predicting ------------------------------------------------------------------------

    def predict(self, X: Any) -> Any:
        """The predicted class labels, one per row of ``X`` (in the caller's namespace where numeric)."""
        z, X, dispatch = self._forward(X, "predict")
        idx = self.network_.xp.argmax(z, axis=-1)
        if dispatch and self.classes_.dtype.kind in "biuf":  # numeric labels follow the input
            idx = self._to_caller(idx, X, dispatch)
            classes = getattr(self, "_classes_out", None)  # placed by fit, where its input was
            if classes is None or backend_of(classes) != backend_of(idx):  # from_network: host labels
                classes = on_like(self.classes_, X)
            return array_namespace(idx).take(classes, idx, axis=0)
        return self.classes_[host(idx)]

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape ``(n_samples, n_classes)``, columns in the order of ``classes_``."""
        z, X, dispatch = self._forward(X, "predict_proba")
        xp = self.network_.xp
        e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))
        return self._to_caller(e / xp.sum(e, axis=-1, keepdims=True), X, dispatch)

    def predict_log_proba(self, X: Any) -> Any:
        """``log(predict_proba(X))``, computed as a log-softmax (no ``log(0)`` warnings)."""
        z, X, dispatch = self._forward(X, "predict_log_proba")
        xp = self.network_.xp
        z = z - xp.max(z, axis=-1, keepdims=True)
        return self._to_caller(z - xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True)), X, dispatch)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against ``y`` (weighted by ``sample_weight``), a float.

        Predictions and labels are compared on the host: labels may be strings, and ``y`` may
        come from another library than ``X``.
        """
        from sklearn.metrics import accuracy_score

        pred = host(self.predict(X))
        weights = None if sample_weight is None else host(sample_weight)
        with sklearn.config_context(array_api_dispatch=False):
            return float(accuracy_score(host(y), pred, sample_weight=weights))

    # --- wrapping a trained network --------------------------------------------------------

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
        if not isinstance(net, Network):
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
        classes = np.arange(n_out) if classes is None else host(classes)
        if classes.shape != (n_out,) or len(unique_labels(classes)) != n_out:
            raise ValueError(
                f"the network has {n_out} outputs: give {n_out} distinct classes, in output order; got {classes!r}"
            )
        est.network_ = net
        est.classes_ = classes
        est.n_features_in_ = sizes[0]
        est._initialize(tuple(sizes))
        return est
