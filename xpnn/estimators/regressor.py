"""``xpnn.MLPRegressor``: scikit-learn's ``MLPRegressor`` trained by xpnn, on any backend.

The book's regression output: the identity, with half the squared error as the loss
(:class:`xpnn.layers.IdentityWithLoss`). Differences from scikit-learn's: see
docs/guide/sklearn.md (no ``"lbfgs"``, no ``loss="poisson"``, Adam's epsilon is the book's 1e-7).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.base import RegressorMixin

from ._base import BaseMLP, sklearn_init
from ._util import host, on, outputs

__all__ = ["MLPRegressor"]

Array = Any


class MLPRegressor(RegressorMixin, BaseMLP):
    """A multi-layer perceptron regressor trained by xpnn, on any Array API backend.

    Parameters are those of :class:`sklearn.neural_network.MLPRegressor` where the idea is
    the same (``loss`` is ``"squared_error"``, the only one), plus ``backend``, ``device`` and
    ``dtype`` as for :class:`xpnn.MLPClassifier`. Targets are ``(n_samples,)`` or
    ``(n_samples, n_outputs)``; ``predict`` answers in the same shape, ``score`` is R².

    >>> import numpy as np
    >>> from xpnn import MLPRegressor
    >>> X = np.linspace(-1.0, 1.0, 50)[:, None]
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.05, random_state=0)
    >>> reg = reg.fit(X, 3.0 * X[:, 0])
    >>> reg.score(X, 3.0 * X[:, 0]) > 0.99
    True
    """

    _loss = "squared_error"
    _out_activation = "identity"
    _y_checks = {"multi_output": True, "y_numeric": True}  # noqa: RUF012 - read only

    __init__ = sklearn_init({"loss": "squared_error"})

    def _check_params(self) -> None:
        if self.loss != "squared_error":
            hint = " (the Poisson loss is not offered)" if self.loss == "poisson" else ""
            if not isinstance(self.loss, str):  # MLPRegressor((16,)): loss comes first, as in scikit-learn
                hint = " (loss is the first positional parameter, as in scikit-learn: write hidden_layer_sizes=...)"
            raise ValueError(f"loss must be 'squared_error'; got {self.loss!r}{hint}")
        super()._check_params()

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Train on ``X`` (n_samples, n_features) and targets ``y`` ((n_samples,) or 2-D); returns ``self``."""
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``X, y``, continuing from the current weights and optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _targets(self, y: Any, impl: Any, dev: Any, xp: Any, dtype: Any, **kw: Any) -> tuple:
        if len(y.shape) == 2 and y.shape[1] == 1:  # scikit-learn's rule: one column means 1-D
            from sklearn.utils.validation import column_or_1d

            with sklearn.config_context(array_api_dispatch=self._dispatch()):
                y = column_or_1d(y, warn=True)
        td = on(impl, dev, y, xp, dtype)
        if len(td.shape) == 1:
            td = xp.reshape(td, (-1, 1))
        n_out = int(td.shape[1])
        if not kw["first_pass"] and n_out != self.n_outputs_:
            raise ValueError(
                f"y has {n_out} outputs, but {type(self).__name__} was fitted with {self.n_outputs_}"
            )
        return td, None, n_out, None

    def _loss_scale(self) -> float:
        return float(self.n_outputs_)

    def _validation_score(self, params: dict, X: Array, t: Array, w: Array, act: str, xp: Any) -> float:
        """R² on the held-out rows (weighted by ``w`` if given), as ``sklearn.metrics.r2_score``."""
        return _r2(outputs(params, X, act, xp), t, w, xp)

    def predict(self, X: Any) -> Any:
        """The predicted targets, ``(n_samples,)`` for one output, else ``(n_samples, n_outputs)``."""
        z, X, dispatch = self._forward(X, "predict")
        if int(z.shape[1]) == 1:
            z = self.network_.xp.reshape(z, (-1,))
        return self._to_caller(z, X, dispatch)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R² of ``predict(X)`` against ``y`` (weighted by ``sample_weight``), as a Python float."""
        from sklearn.metrics import r2_score

        pred = host(self.predict(X))
        weights = None if sample_weight is None else host(sample_weight)
        with sklearn.config_context(array_api_dispatch=False):
            return float(r2_score(host(y), pred, sample_weight=weights))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _r2(z: Array, t: Array, w: Array | None, xp: Any) -> float:
    """R² (weighted by ``w`` if given), averaged over the outputs; sums on the device, ratio on the host."""
    if w is None:
        mean = xp.mean(t, axis=0)
        ss_res, ss_tot = xp.sum((t - z) ** 2, axis=0), xp.sum((t - mean) ** 2, axis=0)
    else:
        w = w[:, None]
        mean = xp.sum(w * t, axis=0) / xp.sum(w)
        ss_res, ss_tot = xp.sum(w * (t - z) ** 2, axis=0), xp.sum(w * (t - mean) ** 2, axis=0)
    ss_res, ss_tot = host(ss_res).astype(np.float64), host(ss_tot).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # scikit-learn's force_finite below
        scores = np.where(ss_tot != 0.0, 1.0 - ss_res / ss_tot, np.where(ss_res == 0.0, 1.0, 0.0))
    return float(np.mean(scores))
