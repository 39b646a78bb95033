"""xpnn.MLPClassifier: scikit-learn's own estimator checks, Array API dispatch, labels, the loop.

Needs scikit-learn (``xpnn[sklearn]``); skipped with the reason where it is absent, unless
``XPNN_REQUIRE_SKLEARN=1`` (set by the nox sessions that install it) makes that a failure.
"""

from __future__ import annotations

import copy as copy_module
import json
import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

# scikit-learn's Array API dispatch needs SciPy's Array API mode, chosen before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest
from conftest import BOOK_ACCURACY, COMPILE_JAX, REQUESTED, Case, names_the_caller

import xpnn

if os.environ.get("XPNN_REQUIRE_SKLEARN") == "1":
    import sklearn
else:
    sklearn = pytest.importorskip("sklearn", reason="xpnn.MLPClassifier needs scikit-learn (xpnn[sklearn])")

from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from xpnn import MLPClassifier

#: Small and quick for scikit-learn's checks; still learns its blobs (accuracy > 0.83 required).
CHECK_PARAMS = {"hidden_layer_sizes": (8,), "max_iter": 60, "learning_rate_init": 0.02}

#: Checks expected to fail, with the reason (kept to what scikit-learn's own data makes fail).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(
    [MLPClassifier(**CHECK_PARAMS)], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
@pytest.mark.sessions("torch")
def test_sklearn_estimator_check(estimator, check) -> None:
    check(estimator)


# --- data --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=120, centers=3, n_features=4, cluster_std=1.0, random_state=3)
    return X, y


def quick(**params) -> MLPClassifier:
    """A small net that converges on the blobs well inside max_iter."""
    defaults = {"hidden_layer_sizes": (16,), "learning_rate_init": 0.02, "max_iter": 300, "random_state": 0}
    return MLPClassifier(**{**defaults, **params})


def namespace(name: str):
    """(xp, device) for an Array API library by name, skipping where it is absent."""
    if name == "numpy":
        return np, None
    if name == "array_api_strict":
        strict = pytest.importorskip("array_api_strict")
        return strict, strict.Device("device1")
    torch = pytest.importorskip("torch")
    return torch, "cpu"


# --- labels and the classifier API ---------------------------------------------------------------


@pytest.mark.parametrize(
    "labels",
    [["ant", "bee", "cat"], [3, 17, 42], [-1.0, 2.0, 7.0], [True, False, None]],
    ids=["strings", "non-contiguous-ints", "floats", "object-mixed"],
)
def test_labels_of_any_type(blobs, labels) -> None:
    X, y = blobs
    if labels[-1] is None:  # labels of mixed types are rejected as scikit-learn rejects them
        with pytest.raises(ValueError, match="label type"):
            quick().fit(X, np.array([True, "x", 3], dtype=object)[y])
        return
    names = np.array(labels)[y]
    clf = quick().fit(X, names)
    np.testing.assert_array_equal(clf.classes_, np.sort(np.array(labels)))
    assert clf.classes_.dtype == names.dtype
    pred = clf.predict(X)
    assert pred.dtype == names.dtype
    assert clf.score(X, names) > 0.95
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)


def test_pipeline_and_grid_search_with_string_labels(blobs) -> None:
    X, y = blobs
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(StandardScaler(), quick())
    search = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)]}, cv=3)
    search.fit(X, names)
    assert search.best_params_["mlpclassifier__hidden_layer_sizes"] in [(4,), (16,)]
    assert set(search.predict(X)) <= set(names)
    assert search.score(X, names) > 0.95


def test_import_xpnn_does_not_import_sklearn() -> None:
    code = "import sys, xpnn; assert 'sklearn' not in sys.modules; xpnn.MLPClassifier; assert 'sklearn' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_scikit_learn_the_estimators_say_what_to_install() -> None:
    """The one wording of xpnn.backends.missing_extra, for the ``sklearn`` extra; xpnn itself still imports."""
    code = (
        "import sys; sys.modules['sklearn'] = None; import xpnn\n"
        "try:\n    xpnn.MLPRegressor\nexcept ImportError as e:\n    print(e)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == (
        "xpnn.estimators (MLPClassifier, MLPRegressor) needs the `sklearn` extra: pip install 'xpnn[sklearn]'"
        " (in a clone: pip install -e '.[sklearn]'); scikit-learn cannot be imported here"
        " (import of sklearn halted; None in sys.modules)\n"
    )


@pytest.mark.parametrize("estimator", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("param, name, lower", [("activation", "ReLU", "relu"), ("solver", "Adam", "adam")])
def test_names_are_case_sensitive_as_in_scikit_learn(
    blobs, estimator: str, param: str, name: str, lower: str
) -> None:
    """Unlike xpnn's functions, the estimators keep scikit-learn's rule (its parameter validation
    compares names exactly), and say which name was meant."""
    import sklearn.neural_network

    X, y = blobs
    with pytest.raises(ValueError, match=f"parameter of {estimator} must be a str among"):
        getattr(sklearn.neural_network, estimator)(**{param: name}).fit(X, y)
    with pytest.raises(ValueError) as e:
        getattr(xpnn, estimator)(**{param: name}).fit(X, y)
    assert str(e.value).startswith(f"{param} must be one of ")
    assert str(e.value).endswith(f"; got {name!r} (names are lower case, as in scikit-learn: {lower!r})")


SOLVER_LIST = "['sgd', 'adam', 'adagrad', 'rmsprop']"
DTYPE_LIST = "['float16', 'bfloat16', 'float32', 'float64']"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"solver": "lbfgs"},
            f"solver must be one of {SOLVER_LIST}; got 'lbfgs'"
            " (xpnn trains with first-order optimizers: try 'adam')",
        ),
        (
            {"solver": "Adam"},
            f"solver must be one of {SOLVER_LIST}; got 'Adam' (names are lower case, as in scikit-learn: 'adam')",
        ),
        (
            {"solver": "nesterov"},
            f"solver must be one of {SOLVER_LIST}; got 'nesterov'"
            " (Nesterov's momentum is solver='sgd', nesterovs_momentum=True)",
        ),
        (
            {"solver": "momentum"},
            f"solver must be one of {SOLVER_LIST}; got 'momentum'"
            " (momentum is solver='sgd' with momentum=0.9, nesterovs_momentum=False)",
        ),
        (
            {"activation": "softplus"},
            "activation must be one of ['identity', 'logistic', 'relu', 'sigmoid', 'tanh']; got 'softplus'",
        ),
        (
            {"learning_rate": "optimal"},
            "learning_rate must be one of ['constant', 'invscaling', 'adaptive']; got 'optimal'",
        ),
        ({"power_t": -0.5}, "power_t must be a number >= 0.0; got -0.5"),
        ({"nesterovs_momentum": 1}, "nesterovs_momentum must be True or False; got 1"),
        *[
            (
                {"hidden_layer_sizes": bad},
                "hidden_layer_sizes must be a positive integer or a sequence of"
                f" them, such as (100,) or (100, 50); got {bad!r}",
            )
            for bad in [(10, 0), 0, -3, True, (4, True), None, "abc", (2.0,)]
        ],
        ({"alpha": -1.0}, "alpha must be a number >= 0.0; got -1.0"),
        ({"alpha": float("nan")}, "alpha must be a number >= 0.0; got nan"),
        ({"alpha": True}, "alpha must be a number >= 0.0; got True"),
        ({"alpha": "0.1"}, "alpha must be a number >= 0.0; got '0.1'"),
        ({"learning_rate_init": 0.0}, "learning_rate_init must be a number > 0.0; got 0.0"),
        ({"tol": -1e-9}, "tol must be a number >= 0.0; got -1e-09"),
        ({"momentum": 1.5}, "momentum must be a number >= 0.0 and <= 1.0; got 1.5"),
        ({"momentum": -0.1}, "momentum must be a number >= 0.0 and <= 1.0; got -0.1"),
        ({"beta_1": 1.0}, "beta_1 must be a number >= 0.0 and < 1.0; got 1.0"),
        ({"beta_2": 1.0}, "beta_2 must be a number >= 0.0 and < 1.0; got 1.0"),
        ({"beta_2": -0.5}, "beta_2 must be a number >= 0.0 and < 1.0; got -0.5"),
        ({"validation_fraction": 1.0}, "validation_fraction must be in [0, 1); got 1.0"),
        ({"validation_fraction": -0.1}, "validation_fraction must be in [0, 1); got -0.1"),
        ({"validation_fraction": "0.1"}, "validation_fraction must be in [0, 1); got '0.1'"),
        ({"max_iter": 0}, "max_iter must be a positive integer; got 0"),
        ({"max_iter": 5.0}, "max_iter must be a positive integer; got 5.0"),
        ({"max_iter": True}, "max_iter must be a positive integer; got True"),
        ({"n_iter_no_change": 0}, "n_iter_no_change must be a positive integer or numpy.inf; got 0"),
        ({"n_iter_no_change": 2.5}, "n_iter_no_change must be a positive integer or numpy.inf; got 2.5"),
        ({"n_iter_no_change": True}, "n_iter_no_change must be a positive integer or numpy.inf; got True"),
        ({"batch_size": 0}, "batch_size must be 'auto' or a positive integer; got 0"),
        ({"batch_size": "full"}, "batch_size must be 'auto' or a positive integer; got 'full'"),
        ({"batch_size": True}, "batch_size must be 'auto' or a positive integer; got True"),
        ({"shuffle": "yes"}, "shuffle must be True or False; got 'yes'"),
        ({"warm_start": 1}, "warm_start must be True or False; got 1"),
        ({"early_stopping": None}, "early_stopping must be True or False; got None"),
        ({"dtype": 32}, f"dtype must be None (the input's floating dtype) or one of {DTYPE_LIST}; got 32"),
        (
            {"dtype": "int32"},
            f"dtype must be None (the input's floating dtype) or one of {DTYPE_LIST}; got 'int32'",
        ),
    ],
)
def test_bad_parameters_are_named(blobs, params, message) -> None:
    """Each parameter out of range is named, with its range and the value given, at fit and partial_fit."""
    X, y = blobs
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        quick(**params).fit(X, y)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        quick(**params).partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": 0.0, "tol": 0.0, "momentum": 0.0, "solver": "sgd", "nesterovs_momentum": False},
        {"momentum": 1.0, "solver": "sgd", "learning_rate_init": 1e-6, "power_t": 0.0},
        {"solver": "sgd", "learning_rate": "invscaling", "activation": "tanh"},
        {"solver": "adagrad", "learning_rate": "adaptive", "activation": "identity"},
        {"beta_1": 0.0, "beta_2": 0.0, "validation_fraction": 0.0},
        {"n_iter_no_change": 1, "batch_size": 1, "hidden_layer_sizes": np.int64(3)},
        {"n_iter_no_change": np.inf, "shuffle": np.True_, "hidden_layer_sizes": [3, 2]},
        {"dtype": "float32", "activation": "sigmoid"},
    ],
)
def test_boundary_parameters_are_accepted(blobs, params) -> None:
    X, y = blobs
    with pytest.warns(ConvergenceWarning) as caught:
        clf = quick(max_iter=1, **params).fit(X[:30], y[:30])
    assert clf.n_iter_ == 1
    assert all(names_the_caller(w, __file__) for w in caught), "each warning names the caller's line"


def test_defaults_are_scikit_learns() -> None:
    """Every parameter shared with scikit-learn's MLPClassifier has its default."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    ours, theirs = MLPClassifier().get_params(), SklearnMLP().get_params()
    shared = set(ours) & set(theirs)
    assert len(shared) == 21
    assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}
    assert set(theirs) - shared == {"epsilon", "max_fun"}  # Adam's is the book's 1e-7; no lbfgs
    extra = {k: ours[k] for k in set(ours) - shared}
    assert extra == {"backend": None, "device": None, "dtype": None, "class_weight": None}
    assert MLPClassifier(5, "logistic").get_params()["hidden_layer_sizes"] == 5  # positional, as in sklearn


# --- the training loop ----------------------------------------------------------------------------


def test_partial_fit_continues_like_fit(blobs) -> None:
    """Three partial_fit epochs are a three-epoch fit: same init, batches and optimizer state."""
    X, y = blobs
    labels = np.array(["x", "y", "z"])[y]
    params = {"shuffle": False, "batch_size": 32, "max_iter": 3, "n_iter_no_change": 100}
    with pytest.warns(ConvergenceWarning):
        full = quick(**params).fit(X, labels)
    inc = quick(**params)
    with pytest.raises(ValueError, match=r"^classes must be passed on the first call to partial_fit\.$"):
        inc.partial_fit(X, labels)
    inc.partial_fit(X, labels, classes=["x", "y", "z"])
    inc.partial_fit(X, labels, classes=["z", "y", "x"])  # the same classes, in any order
    changed = r"^classes=\['x', 'y'\] is not the same as on the last call to partial_fit, was: array\(\['x', 'y', 'z'\]"
    with pytest.raises(ValueError, match=changed):
        inc.partial_fit(X, labels, classes=["x", "y"])
    inc.partial_fit(X[:60], labels[:60])  # a part of the data: continues all the same
    inc.partial_fit(X[60:], labels[60:])
    assert inc.t_ == 3 * X.shape[0] and inc.n_iter_ == 1 and len(inc.loss_curve_) == 4
    with pytest.raises(
        ValueError,
        match="^"
        + re.escape(
            "`y` has classes not in `self.classes_`. `self.classes_` has ['x' 'y' 'z']. 'y' has ['q' 'x' 'z']."
        )
        + "$",
    ):
        inc.partial_fit(X, np.array(["x", "q", "z"])[y])
    with pytest.raises(ValueError, match="^partial_fit does not support early_stopping=True$"):
        quick(early_stopping=True).partial_fit(X, labels, classes=["x", "y", "z"])
    # epochs 1-2 equal; the 3rd partial_fit saw the data in two calls (two ragged batches)
    np.testing.assert_allclose(full.loss_curve_[:2], inc.loss_curve_[:2], rtol=1e-12)
    assert inc.loss_curve_[-1] < inc.loss_curve_[0]


def test_partial_fit_equals_fit_epoch_by_epoch(blobs) -> None:
    X, y = blobs
    params = {"shuffle": False, "batch_size": 40, "max_iter": 3, "n_iter_no_change": 100}
    with pytest.warns(ConvergenceWarning):
        full = quick(**params).fit(X, y)
    inc = quick(**params)
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
    for a, b in zip(full.coefs_ + full.intercepts_, inc.coefs_ + inc.intercepts_):
        np.testing.assert_allclose(xpnn.to_numpy(a), xpnn.to_numpy(b), rtol=1e-12)
    np.testing.assert_allclose(full.loss_curve_, inc.loss_curve_, rtol=1e-12)


def test_warm_start_continues_from_the_fitted_weights(blobs) -> None:
    """Plain SGD (no momentum) has no state, so 2 + 2 warm-started epochs are 4 epochs."""
    X, y = blobs
    params = {
        "solver": "sgd",
        "momentum": 0.0,
        "learning_rate_init": 0.05,
        "shuffle": False,
        "n_iter_no_change": 100,
    }
    with pytest.warns(ConvergenceWarning):
        four = quick(max_iter=4, **params).fit(X, y)
    warm = quick(max_iter=2, warm_start=True, **params)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, y)
    assert len(warm.loss_curve_) == 4
    np.testing.assert_allclose(warm.loss_curve_, four.loss_curve_, rtol=1e-12)
    for a, b in zip(four.coefs_, warm.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(
        ValueError,
        match="^"
        + re.escape(
            "warm_start can only be used where `y` has the same classes as in the previous call to fit."
            " Previously got [0 1 2], `y` has [1 2 3]"
        )
        + "$",
    ):
        warm.fit(X, y + 1)
    cold = quick(max_iter=2, **params)
    with pytest.warns(ConvergenceWarning):
        cold.fit(X, y)
    with pytest.warns(ConvergenceWarning):
        cold.fit(X, y)  # without warm_start: a fresh start, the same two epochs
    assert len(cold.loss_curve_) == 2


def _sklearn_stop_epoch(scores: list[float], tol: float, patience: int) -> int:
    """The epoch at which scikit-learn's rule stops on these validation scores (0 = never)."""
    best, count = -np.inf, 0
    for epoch, score in enumerate(scores, start=1):
        count = count + 1 if score < best + tol else 0
        best = max(best, score)
        if count > patience:
            return epoch
    return 0


def test_early_stopping_stops_by_the_rule_and_restores_the_best_weights(blobs) -> None:
    X, y = blobs
    X = X + np.random.default_rng(0).normal(scale=2.5, size=X.shape)  # noisy: validation stalls
    params = {"early_stopping": True, "validation_fraction": 0.25, "n_iter_no_change": 3, "tol": 1e-3}
    clf = quick(max_iter=500, **params).fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == len(clf.loss_curve_) < 500
    assert _sklearn_stop_epoch(scores, 1e-3, 3) == clf.n_iter_
    assert clf.best_validation_score_ == max(scores)
    best_epoch = scores.index(max(scores)) + 1
    # The same run stopped at the best epoch (same init, split and shuffles up to there).
    with pytest.warns(ConvergenceWarning):
        upto = quick(max_iter=best_epoch, **{**params, "n_iter_no_change": 1000}).fit(X, y)
    for a, b in zip(clf.coefs_ + clf.intercepts_, upto.coefs_ + upto.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_training_loss_stop_and_convergence_warning(blobs) -> None:
    X, y = blobs
    clf = quick(tol=10.0, n_iter_no_change=2).fit(X, y)  # no epoch improves by 10: stop at 1 + 2 + 1
    assert clf.n_iter_ == 4
    assert clf.best_loss_ == min(clf.loss_curve_)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(2\\)"):
        quick(max_iter=2).fit(X, y)


def test_alpha_is_sklearns_l2_per_batch() -> None:
    """One full-batch epoch's loss is the cross-entropy plus 0.5 * alpha * sum(W**2) / n."""
    rng = np.random.default_rng(1)
    net = {
        "W1": rng.normal(size=(5, 4)),
        "b1": rng.normal(size=4),
        "W2": rng.normal(size=(4, 3)),
        "b2": rng.normal(size=3),
    }
    X = rng.normal(size=(20, 5))
    y = rng.integers(0, 3, 20)
    alpha = 0.7
    clf = MLPClassifier.from_network(
        net, activation="relu", alpha=alpha, batch_size=20, warm_start=True, max_iter=1, solver="sgd"
    )
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    h = np.maximum(X @ net["W1"] + net["b1"], 0) @ net["W2"] + net["b2"]
    p = np.exp(h - h.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    cross_entropy = -np.mean(np.log(p[np.arange(20), y]))
    penalty = 0.5 * alpha * (np.sum(net["W1"] ** 2) + np.sum(net["W2"] ** 2)) / 20
    assert clf.loss_curve_ == pytest.approx([cross_entropy + penalty], rel=1e-12)


def _sklearn_twin(solver: str, params: dict):
    """scikit-learn's MLPClassifier set to train exactly as ours with ``solver`` does."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    common = {k: v for k, v in params.items() if k not in ("backend", "device", "dtype")}
    return SklearnMLP(solver=solver, **common)


@pytest.mark.parametrize(
    ("solver", "params"),
    [
        ("sgd", {"activation": "relu", "batch_size": 40, "alpha": 0.01, "momentum": 0.0, "max_iter": 4}),
        (
            "sgd",
            {
                "activation": "logistic",
                "batch_size": 16,
                "momentum": 0.8,
                "nesterovs_momentum": False,
                "max_iter": 4,
            },
        ),
        ("sgd", {"activation": "tanh", "batch_size": 15, "hidden_layer_sizes": (6, 4), "max_iter": 3}),
        (
            "sgd",
            {"activation": "logistic", "tol": 0.5, "n_iter_no_change": 2, "momentum": 0.0, "max_iter": 30},
        ),
        ("sgd", {"activation": "identity", "tol": 0.05, "n_iter_no_change": 1, "max_iter": 40}),  # stops
        ("sgd", {"learning_rate": "invscaling", "power_t": 0.3, "learning_rate_init": 0.2, "max_iter": 4}),
        ("sgd", {"learning_rate": "adaptive", "tol": 0.05, "n_iter_no_change": 1, "max_iter": 12}),
        (
            "sgd",
            {"learning_rate": "adaptive", "tol": 10.0, "n_iter_no_change": 1, "max_iter": 40},
        ),  # lr too small
        (
            "sgd",
            {
                "learning_rate": "adaptive",
                "learning_rate_init": 1e-6,
                "tol": 10.0,
                "n_iter_no_change": 1,
                "max_iter": 9,
            },
        ),  # a learning rate of 1e-6 is already too small
        ("adam", {"activation": "relu", "batch_size": 16, "beta_1": 0.8, "beta_2": 0.99, "max_iter": 3}),
    ],
)
def test_trains_as_scikit_learn_does(solver, params, capsys) -> None:
    """Same initialisation, batches, L2 penalty, updates, stopping rule, printout and warning as sklearn.

    Without shuffling, both walk the same batches, so the training is the same up to rounding;
    Adam's epsilon is the book's 1e-7 (scikit-learn's is 1e-8), hence its looser tolerance.
    """
    X, y = make_blobs(n_samples=40, centers=3, n_features=4, random_state=3)
    params = {
        "hidden_layer_sizes": (5,),
        "learning_rate_init": 0.05,
        "shuffle": False,
        "random_state": 0,
        "verbose": True,
        **params,
    }
    runs = []
    for clf in (MLPClassifier(solver=solver, **params), _sklearn_twin(solver, params)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf.fit(X, y)
        runs.append((clf, capsys.readouterr().out, [(w.category, str(w.message)) for w in caught]))
    (ours, out, warned), (ref, ref_out, ref_warned) = runs
    rtol = 1e-4 if solver == "adam" else 1e-12
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol * 10, atol=rtol)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=rtol, atol=rtol)
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(ref, name), name
    assert ours.loss_ == ours.loss_curve_[-1] and ours.best_loss_ == pytest.approx(ref.best_loss_, rel=rtol)
    assert ours.validation_scores_ is None and ours.best_validation_score_ is None
    assert warned == ref_warned and (ours.n_iter_ < params["max_iter"]) == (not warned)
    if solver != "adam":
        assert out == ref_out  # "Iteration 1, loss = ...", and the reason for stopping
    assert out.count("Iteration ") == ours.n_iter_
    assert out.count(" Stopping.\n") == (ours.n_iter_ < params["max_iter"])


#: A hand-set network that early stopping scores on held-out rows while it barely trains: every
#: epoch scores the same, and with tol=0 an equal score is no worse, so it runs to max_iter.
BARELY_TRAINING = {
    "activation": "relu",
    "warm_start": True,
    "early_stopping": True,
    "validation_fraction": 0.2,
    "tol": 0.0,
    "solver": "sgd",
    "learning_rate_init": 1e-9,
    "random_state": 0,
}


def test_early_stopping_scores_the_held_out_rows(backend: Case) -> None:
    """validation_scores_ are accuracies on the held-out rows, whatever rows the split picks.

    The network is set by hand: feature k is large for class k, except that class 2 looks like
    class 0; the hidden layer permutes the features and the output layer permutes them back.
    As scikit-learn's, the split of more than two classes is not stratified: the 10 held-out
    rows are those ``train_test_split`` picks with the estimator's random state, and the right
    ones are those not of class 2. The learning rate is tiny: every epoch scores the same, and
    with tol=0 an equal score is no worse (scikit-learn's rule), so training runs to max_iter.
    """
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [20, 15, 15])
    X = 5.0 * np.eye(3)[np.where(y == 2, 0, y)] + rng.uniform(0, 0.1, (50, 3))
    perm = np.eye(3)[[1, 2, 0]]
    net = {"W1": perm, "b1": np.zeros(3), "W2": perm.T, "b2": np.zeros(3)}
    np.testing.assert_array_equal(
        xpnn.predict(xpnn.to_backend(net, activation="relu"), X, normalize=False), np.where(y == 2, 0, y)
    )
    if backend.name == "dask":
        pytest.skip("training on Dask is not offered")
    dtype = "float64" if backend.has_float64() else "float32"
    clf = MLPClassifier.from_network(
        net,
        **BARELY_TRAINING,
        max_iter=3,
        n_iter_no_change=1,
        backend=backend.name,
        device=backend.device_arg,
        dtype=dtype,
    )
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    from sklearn.model_selection import train_test_split

    _, held_out = train_test_split(np.arange(50), random_state=np.random.RandomState(0), test_size=0.2)
    expected = float(np.mean(y[held_out] != 2))
    assert 0.0 < expected < 1.0  # some rows right, some wrong
    assert clf.validation_scores_ == [expected] * 3 and clf.best_validation_score_ == expected
    assert clf.best_loss_ is None and clf.n_iter_ == 3 and clf.t_ == 3 * 40  # trained on the other 40 rows
    with pytest.raises(
        ValueError, match=r"^The validation set is too small\. Increase 'validation_fraction'"
    ):
        MLPClassifier(early_stopping=True).fit(X[:10], np.zeros(10, dtype=int))  # one held-out row


def test_batch_size_auto_and_clipped() -> None:
    X, y = make_blobs(n_samples=250, centers=3, n_features=2, random_state=3)
    params = {"hidden_layer_sizes": (3,), "max_iter": 2, "shuffle": False, "random_state": 0}
    curves = {}
    for batch_size in ("auto", 200, 250, 1000):
        clf = MLPClassifier(batch_size=batch_size, **params)
        clipped = "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf.fit(X, y)
        messages = [str(w.message) for w in caught if w.category is UserWarning]
        assert messages == ([clipped] if batch_size == 1000 else []), batch_size
        curves[batch_size] = clf.loss_curve_
    assert curves["auto"] == curves[200]  # "auto" is min(200, n_samples)
    assert curves[1000] == curves[250] != curves[200]
    with pytest.warns(ConvergenceWarning):
        small = MLPClassifier(**params).fit(X[:50], y[:50])
    with pytest.warns(ConvergenceWarning):
        assert small.loss_curve_ == MLPClassifier(batch_size=50, **params).fit(X[:50], y[:50]).loss_curve_


def test_shuffle_and_random_state() -> None:
    X, y = make_blobs(n_samples=40, centers=3, n_features=4, random_state=3)
    params = {"hidden_layer_sizes": (5,), "max_iter": 3, "batch_size": 10, "solver": "sgd"}

    def curve(**more):
        with pytest.warns(ConvergenceWarning):
            return MLPClassifier(**{**params, **more}).fit(X, y).loss_curve_

    assert curve(random_state=1) == curve(random_state=np.random.RandomState(1))
    assert curve(random_state=1) != curve(random_state=2)
    assert curve(random_state=1) != curve(random_state=1, shuffle=False)
    # a full batch sees every row whatever the order
    full = {"batch_size": 40, "random_state": 1}
    np.testing.assert_allclose(curve(**full), curve(**full, shuffle=False), rtol=1e-12)


def test_fitted_attributes() -> None:
    X, y = make_blobs(n_samples=30, centers=4, n_features=3, random_state=3)
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier((7, 5), max_iter=2, random_state=0).fit(X.astype(np.float32), y)
    assert [W.shape for W in clf.coefs_] == [(3, 7), (7, 5), (5, 4)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (4,)]
    assert all(a.dtype == np.float32 for a in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert (clf.n_layers_, clf.n_outputs_, clf.out_activation_, clf.n_features_in_) == (4, 4, "softmax", 3)
    assert (clf.n_iter_, clf.t_, len(clf.loss_curve_)) == (2, 60, 2)
    assert not hasattr(clf, "feature_names_in_")
    with pytest.warns(ConvergenceWarning):
        wide = MLPClassifier(3, dtype="float64", max_iter=1).fit(X.astype(np.float32), y)
    assert [W.shape for W in wide.coefs_] == [(3, 3), (3, 4)] and wide.coefs_[0].dtype == np.float64
    with pytest.warns(ConvergenceWarning):
        ints = MLPClassifier(3, max_iter=1).fit(np.round(X).astype(np.int32), y)
    assert ints.coefs_[0].dtype == np.float64  # integer input is cast to float64, as sklearn does
    with pytest.raises(ValueError, match="X has 2 features, but MLPClassifier is expecting 3 features"):
        clf.predict(X[:, :2])


def test_pickle_and_copies_of_unfitted_and_wrapped_estimators() -> None:
    """An unfitted estimator, one made by from_network and a fitted one survive pickle and deepcopy."""
    from sklearn.base import clone

    X, y = make_blobs(n_samples=30, centers=3, n_features=4, random_state=3)
    unfitted = MLPClassifier((4,), solver="sgd")
    for copy in (pickle.loads(pickle.dumps(unfitted)), copy_module.deepcopy(unfitted), clone(unfitted)):
        assert copy.get_params() == unfitted.get_params() and not hasattr(copy, "network_")
    rng = np.random.default_rng(0)
    net = {"W1": rng.normal(size=(4, 5)), "b1": np.zeros(5), "W2": rng.normal(size=(5, 3)), "b2": np.zeros(3)}
    wrapped = MLPClassifier.from_network(net, activation="relu", solver="sgd", shuffle=False, batch_size=10)
    again = pickle.loads(pickle.dumps(wrapped))
    np.testing.assert_array_equal(again.predict_proba(X), wrapped.predict_proba(X))
    assert again.network_.activation == "relu"
    np.testing.assert_array_equal(xpnn.predict(again.network_, X), wrapped.predict(X))
    # A loaded model goes on with the learning rate set after loading (and Adam's moments kept):
    # one full batch, the same gradient and state, so the step is 500 times as long.
    adam = MLPClassifier.from_network(net, activation="relu", batch_size=30).partial_fit(X, y)
    start = adam.coefs_[0]
    steps = []
    for lr in (0.001, 0.5):
        loaded = pickle.loads(pickle.dumps(adam)).set_params(learning_rate_init=lr)
        steps.append(loaded.partial_fit(X, y).coefs_[0] - start)
    np.testing.assert_allclose(steps[1], 500 * steps[0], rtol=1e-6)


@pytest.mark.skipif(not COMPILE_JAX, reason="JAX runs in the JAX session (and nox -s mutation)")
def test_pickle_of_a_jax_trained_estimator() -> None:
    """JAX devices do not pickle: the estimator comes back on JAX's default device."""
    X, y = make_blobs(n_samples=20, centers=2, n_features=3, random_state=3)
    with pytest.warns(ConvergenceWarning):
        clf = MLPClassifier((3,), max_iter=1, backend="jax", dtype="float32", random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert again.network_.backend == "jax" and again.network_.activation == "relu"
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


# --- backends and Array API dispatch ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["numpy", "array_api_strict", "torch"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.sessions("torch")
def test_dispatch_follows_the_input(blobs, name, dtype) -> None:
    X, y = blobs
    xp, device = namespace(name)
    X_xp = xp.asarray(X.astype(dtype), device=device)
    y_xp = xp.asarray(y, device=device)
    with pytest.warns(ConvergenceWarning):
        ref = quick(max_iter=5).fit(X.astype(dtype), y)
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.warns(ConvergenceWarning):
            clf = quick(max_iter=5).fit(X_xp, y_xp)
        pred, proba = clf.predict(X_xp), clf.predict_proba(X_xp)
        score = clf.score(X_xp, y_xp)
    for out in (pred, proba, clf.coefs_[0], clf.intercepts_[-1]):
        assert xpnn.backend_of(out) == name
        if device is not None:
            assert str(out.device) == str(X_xp.device)
    assert str(proba.dtype).endswith(dtype) and str(pred.dtype).endswith("int64")
    assert clf.network_.backend == name
    assert isinstance(score, float)
    # The same seed gives the same training on every library (up to rounding).
    rtol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(xpnn.to_numpy(proba), ref.predict_proba(X.astype(dtype)), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(clf.loss_curve_, ref.loss_curve_, rtol=rtol)
    if name != "numpy":
        same = r"MLPClassifier.predict\(\) must use the same namespace"
        with sklearn.config_context(array_api_dispatch=True), pytest.raises(ValueError, match=same):
            clf.predict(X)
    # Without dispatch, scikit-learn's rule: NumPy out.
    assert isinstance(clf.predict(X), np.ndarray)


@pytest.mark.sessions("torch")
def test_dispatch_with_string_labels_and_labels_from_another_library(blobs) -> None:
    torch = pytest.importorskip("torch")
    X, y = blobs
    names = np.array(["a", "b", "c"])[y]
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.warns(ConvergenceWarning):
            clf = quick(max_iter=5).fit(torch.asarray(X), names)
        pred = clf.predict(torch.asarray(X))
        proba = clf.predict_proba(torch.asarray(X))
        with pytest.warns(ConvergenceWarning):
            other = quick(max_iter=5).fit(torch.asarray(X), np.asarray(y))  # y from NumPy
        assert xpnn.backend_of(other.predict(torch.asarray(X))) == "torch"
    assert isinstance(pred, np.ndarray) and set(pred) <= {"a", "b", "c"}  # strings stay NumPy
    assert xpnn.backend_of(proba) == "torch"


def test_backend_parameter_trains_there_and_answers_in_numpy(backend: Case, blobs) -> None:
    if backend.name == "dask":
        pytest.skip("training on Dask is not offered: train on NumPy/CuPy, predict on Dask")
    X, y = blobs
    names = np.array(["a", "b", "c"])[y]
    dtype = "float64" if backend.has_float64() else "float32"
    params = {"max_iter": 4, "dtype": dtype, "random_state": 5}
    with pytest.warns(ConvergenceWarning):
        ref = quick(**params).fit(X, names)
    with pytest.warns(ConvergenceWarning):
        clf = quick(backend=backend.name, device=backend.device_arg, **params).fit(X, names)
    assert clf.network_.backend == backend.name and clf.network_.activation == "relu"
    assert xpnn.backend_of(clf.coefs_[0]) == backend.name
    proba = clf.predict_proba(X)
    assert isinstance(proba, np.ndarray)
    rtol = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(proba, ref.predict_proba(X), rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(clf.predict(X), ref.predict(X))
    again = pickle.loads(pickle.dumps(clf))
    assert again.network_.backend == backend.name
    assert repr(again.network_.device) == repr(clf.network_.device)  # the device comes back too
    assert again.network_.activation == "relu"  # xpnn.predict(again.network_, X) uses it
    np.testing.assert_array_equal(again.predict_proba(X), proba)
    # training goes on from the pickled state
    again.partial_fit(X, names)
    assert again.n_iter_ == 1 and len(again.loss_curve_) == 5


@pytest.mark.sessions("torch")
def test_device_parameter_under_dispatch_answers_on_the_inputs_device() -> None:
    """backend/device choose where it trains; under dispatch, results come back on the input's device."""
    strict = pytest.importorskip("array_api_strict")
    X, y = make_blobs(n_samples=30, centers=3, n_features=4, random_state=3)
    X_in, y_in = strict.asarray(X), strict.asarray(y)
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.warns(ConvergenceWarning):
            clf = quick(max_iter=2, backend="array_api_strict", device="device1").fit(X_in, y_in)
        proba, pred = clf.predict_proba(X_in), clf.predict(X_in)
    assert clf.network_.device == strict.Device("device1")
    assert proba.device == pred.device == X_in.device == strict.Device("CPU_DEVICE")
    with pytest.warns(ConvergenceWarning):
        ref = quick(max_iter=2).fit(X, y)
    np.testing.assert_allclose(xpnn.to_numpy(proba), ref.predict_proba(X), rtol=1e-12)


@pytest.mark.sessions("torch")
def test_dispatch_places_results_on_the_inputs_library_and_device() -> None:
    """Under dispatch, wherever the training ran, results come back in the input's library and device."""
    strict = pytest.importorskip("array_api_strict")
    X, y = make_blobs(n_samples=30, centers=3, n_features=4, random_state=3)
    with pytest.warns(ConvergenceWarning):
        ref = quick(max_iter=2).fit(X, y)
    cpu, device1 = strict.Device("CPU_DEVICE"), strict.Device("device1")
    cases = [  # (input device, backend, device, where the network is)
        (cpu, None, "device1", device1),
        (device1, "array_api_strict", None, cpu),
        (None, "array_api_strict", "device1", device1),  # NumPy input, trained on array-api-strict
    ]
    for input_device, backend, device, trained_on in cases:
        X_in = X if input_device is None else strict.asarray(X, device=input_device)
        y_in = y if input_device is None else strict.asarray(y, device=input_device)
        with sklearn.config_context(array_api_dispatch=True):
            with pytest.warns(ConvergenceWarning):
                clf = quick(max_iter=2, backend=backend, device=device).fit(X_in, y_in)
            outputs = [clf.predict_proba(X_in), clf.predict(X_in), clf.predict_log_proba(X_in)]
        assert clf.network_.backend == "array_api_strict" and clf.network_.device == trained_on
        for out in outputs:
            if input_device is None:
                assert isinstance(out, np.ndarray)
            else:
                assert xpnn.backend_of(out) == "array_api_strict" and out.device == input_device
        np.testing.assert_allclose(xpnn.to_numpy(outputs[0]), ref.predict_proba(X), rtol=1e-12)
        np.testing.assert_array_equal(xpnn.to_numpy(outputs[1]), ref.predict(X))


@pytest.mark.sessions("torch")
def test_dispatch_refuses_inputs_from_another_place_than_fits() -> None:
    strict = pytest.importorskip("array_api_strict")
    X, y = make_blobs(n_samples=30, centers=3, n_features=4, random_state=3)
    on_cpu, on_device1 = strict.asarray(X), strict.asarray(X, device=strict.Device("device1"))
    with pytest.warns(ConvergenceWarning):
        plain = quick(max_iter=1).fit(X, y)  # without dispatch: the input place is NumPy's
    with pytest.warns(ConvergenceWarning), sklearn.config_context(array_api_dispatch=True):
        on_one = quick(max_iter=1).fit(on_device1, strict.asarray(y, device=strict.Device("device1")))
    cases = [
        (
            plain,
            "predict",
            on_cpu,
            "numpy on cpu",
            "array_api_strict on array_api_strict.Device('CPU_DEVICE')",
        ),
        (
            on_one,
            "predict_proba",
            on_cpu,
            "array_api_strict on array_api_strict.Device('device1')",
            "array_api_strict on array_api_strict.Device('CPU_DEVICE')",
        ),
        (
            on_one,
            "predict_log_proba",
            X,
            "array_api_strict on array_api_strict.Device('device1')",
            "numpy on cpu",
        ),
    ]
    for clf, method, X_in, fitted, got in cases:
        message = (
            f"Inputs passed to MLPClassifier.{method}() must use the same namespace and the same device as"
            f" those passed to fit(): fit had {fitted}, {method} got {got}. Move the input first, for"
            " example with xpnn.asarray(x, backend=...)."
        )
        with (
            sklearn.config_context(array_api_dispatch=True),
            pytest.raises(ValueError, match=f"^{re.escape(message)}$"),
        ):
            getattr(clf, method)(X_in)
    with sklearn.config_context(array_api_dispatch=True):  # NumPy in, as at fit: fine under dispatch
        np.testing.assert_array_equal(plain.predict(X), plain.predict(X))
        assert isinstance(plain.predict_proba(X), np.ndarray)


def test_errors_while_fitting() -> None:
    X, y = make_blobs(n_samples=30, centers=3, n_features=4, random_state=3)
    with pytest.raises(ValueError, match=r"^numpy has no dtype 'bfloat16'$"):
        quick(dtype="bfloat16").fit(X, y)
    with pytest.raises(ValueError, match=r"^backend 'numpy' takes device=only the device 'cpu'; got 'cuda'$"):
        quick(device="cuda").fit(X, y)  # the device is checked, also for NumPy
    blown_up = (
        "Solver produced non-finite parameter weights. The input data may contain large values and need"
        " to be preprocessed (StandardScaler), or learning_rate_init is too large."
    )
    too_large = pytest.raises(ValueError, match=f"^{re.escape(blown_up)}$")
    with np.errstate(all="ignore"), pytest.warns(ConvergenceWarning), too_large:
        quick(max_iter=1, learning_rate_init=1e300, solver="sgd").fit(X * 1e100, y)
    # A first partial_fit that fails on its input leaves the estimator unfitted.
    clf = quick()
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.partial_fit(np.full((3, 4), np.nan), [0, 1, 2], classes=[0, 1, 2])
    with pytest.raises(sklearn.exceptions.NotFittedError):
        clf.predict(X)


def test_partial_fit_keeps_its_optimizer_as_scikit_learn_does() -> None:
    """As in scikit-learn, partial_fit goes on with the optimizer of its first call (a learning
    rate set in between does not apply); fit starts afresh with the parameters as they are."""
    X, y = make_blobs(n_samples=30, centers=3, n_features=4, random_state=3)
    params = {"solver": "sgd", "nesterovs_momentum": False, "batch_size": 30, "shuffle": False}
    a, b = quick(**params), quick(**params)
    a.partial_fit(X, y, classes=[0, 1, 2])
    b.partial_fit(X, y, classes=[0, 1, 2])
    b.set_params(learning_rate_init=0.5)
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    for u, v in zip(a.coefs_, b.coefs_, strict=True):
        np.testing.assert_array_equal(u, v)


def test_predictions_of_a_very_confident_network() -> None:
    """Softmax and log-softmax shift each row by its own maximum: no overflow, no 0/0."""
    net = {"W1": np.eye(2), "b1": np.zeros(2), "W2": np.eye(2), "b2": np.zeros(2)}
    clf = MLPClassifier.from_network(net, activation="relu")
    X = np.array([[800.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    z = np.maximum(X, 0)
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_log_proba(X), log_p, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X), np.exp(log_p), rtol=1e-12)
    assert clf.predict_log_proba(X)[0, 1] == -800.0
    np.testing.assert_array_equal(clf.predict(X), [0, 1, 0])  # a tie goes to the first class


def test_score_with_sample_weight() -> None:
    net = {"W1": np.eye(2), "b1": np.zeros(2), "W2": np.eye(2), "b2": np.zeros(2)}
    clf = MLPClassifier.from_network(net, activation="relu", classes=["a", "b"])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    y = np.array(["a", "b", "b", "a"])  # the first two right
    assert clf.score(X, y) == 0.5
    assert clf.score(X, y, sample_weight=[3.0, 1.0, 0.0, 0.0]) == 1.0
    assert clf.score(X, y, sample_weight=np.array([1.0, 0.0, 1.0, 2.0])) == 0.25


# --- wrapping a trained network --------------------------------------------------------------------


def test_soft_label_rows_are_refused_by_fit_before_any_step(steps: list[int]) -> None:
    """A soft row ``[0.5, 0.5]`` in ``y`` is scikit-learn's error, raised before xpnn's loop takes a step."""
    x = np.random.default_rng(0).random((4, 6))
    soft = np.eye(2)[[0, 1, 0, 1]]
    soft[2] = [0.5, 0.5]
    with pytest.raises(ValueError, match="y should be a 1d array"):
        xpnn.MLPClassifier(max_iter=1).fit(x, soft)
    assert steps == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # one epoch: not converged
        xpnn.MLPClassifier(max_iter=1).fit(x, [0, 1, 0, 1])
    assert steps  # the spy sees the loop's steps


def test_from_network_scores_the_books_accuracy(backend: Case, real_data_dir: Path) -> None:
    x, t = xpnn.load_mnist(split="test", data_dir=real_data_dir, download=False)
    net = xpnn.load_sample_network(real_data_dir, download=False)
    clf = MLPClassifier.from_network(xpnn.to_backend(net, backend.name, backend.device))
    assert clf.hidden_layer_sizes == (50, 100) and clf.activation == "logistic"
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.score(x, t) == BOOK_ACCURACY
    named = MLPClassifier.from_network(net, classes=[f"digit {i}" for i in range(10)])
    assert named.score(x[:500], np.array([f"digit {i}" for i in range(10)])[t[:500]]) == clf.score(
        x[:500], t[:500]
    )
    with pytest.raises(ValueError, match="10 outputs"):
        MLPClassifier.from_network(net, classes=["a", "b"])
    # A network that says its activation keeps it; a fitted estimator's network says it.
    relu = MLPClassifier.from_network(xpnn.to_backend(net, activation="relu"))
    assert relu.activation == "relu" and relu.network_.activation == "relu"


@pytest.mark.sessions("torch")
def test_from_network_parameters_placement_and_dispatch() -> None:
    strict = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(0)
    net = {
        "W1": rng.normal(size=(4, 5)),
        "b1": rng.normal(size=5),
        "W2": rng.normal(size=(5, 3)),
        "b2": np.zeros(3),
    }
    X = rng.normal(size=(12, 4))

    def proba(activation):
        h = (
            np.maximum(X @ net["W1"] + net["b1"], 0)
            if activation == "relu"
            else 1 / (1 + np.exp(-(X @ net["W1"] + net["b1"])))
        )
        e = np.exp(h @ net["W2"] + net["b2"] - (h @ net["W2"] + net["b2"]).max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    # "sigmoid" (xpnn's name) is scikit-learn's "logistic"; the default is the book's sigmoid
    for made in (
        MLPClassifier.from_network(net),
        MLPClassifier.from_network(net, activation="sigmoid"),
        MLPClassifier.from_network(xpnn.to_backend(net, activation="sigmoid")),
    ):
        assert made.activation == "logistic" and made.network_.activation == "sigmoid"
        np.testing.assert_allclose(made.predict_proba(X), proba("sigmoid"), rtol=1e-12)
    # activation= says how to run the network, whatever the Network says
    relu = MLPClassifier.from_network(xpnn.to_backend(net, activation="sigmoid"), activation="relu")
    assert relu.activation == "relu"
    np.testing.assert_allclose(relu.predict_proba(X), proba("relu"), rtol=1e-12)
    # a dict is placed where backend/device/dtype say, with its activation
    placed = MLPClassifier.from_network(
        net, activation="relu", backend="array_api_strict", device="device1", dtype="float32"
    )
    assert placed.network_.backend == "array_api_strict" and placed.network_.device == strict.Device(
        "device1"
    )
    assert all(a.dtype == strict.float32 for a in placed.coefs_) and placed.network_.activation == "relu"
    assert (placed.backend, placed.device, placed.dtype) == ("array_api_strict", "device1", "float32")
    np.testing.assert_allclose(
        xpnn.to_numpy(xpnn.predict_proba(placed.network_, X)), proba("relu"), rtol=1e-5
    )
    np.testing.assert_allclose(placed.predict_proba(X), proba("relu"), rtol=1e-5)
    # under dispatch, its answers follow the input like a fitted estimator's
    with sklearn.config_context(array_api_dispatch=True):
        for X_in in (strict.asarray(X), strict.asarray(X, device=strict.Device("device1"))):
            pred = relu.predict(X_in)
            assert xpnn.backend_of(pred) == "array_api_strict" and pred.device == X_in.device
            np.testing.assert_array_equal(xpnn.to_numpy(pred), proba("relu").argmax(axis=1))
    named = MLPClassifier.from_network(net, ["x", "y", "z"], activation="relu")
    with sklearn.config_context(array_api_dispatch=True):  # string labels stay NumPy
        np.testing.assert_array_equal(
            named.predict(strict.asarray(X)), np.array(["x", "y", "z"])[proba("relu").argmax(axis=1)]
        )
    for classes in (["a", "a", "b"], ["a", "b"], [["a", "b", "c"]]):
        message = f"the network has 3 outputs: give 3 distinct classes, in output order; got {np.asarray(classes)!r}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            MLPClassifier.from_network(net, classes)


# --- the benchmark script ----------------------------------------------------------------------------


@pytest.mark.skipif(REQUESTED[:1] != ["numpy"], reason="runs once, in the NumPy session")
def test_fit_benchmark_runs_and_writes_its_results(tmp_path: Path, real_data_dir: Path) -> None:
    """Only that it runs and what it writes: speed is read from its output, never asserted."""
    script = Path(__file__).parent.parent / "benchmarks" / "sklearn_fit.py"
    args = ["--epochs", "1", "--rounds", "1", "--train-rows", "300", "--backends", "numpy"]
    result = subprocess.run(
        [sys.executable, str(script), *args, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=dict(os.environ, XPNN_DATA_DIR=str(real_data_dir)),
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "sklearn-fit.json").read_text())
    assert set(data["raw"]) == {
        "1/scikit-learn MLPClassifier",
        "1/xpnn.MLPClassifier[numpy]",
        "diabetes/scikit-learn MLPRegressor",
        "diabetes/xpnn.MLPRegressor[numpy]",
    }
    assert all(r["median"] > 0 and r["score"] <= 1.0 for r in data["raw"].values())
    assert all(data["raw"][k]["score"] >= 0.0 for k in data["raw"] if k.startswith("1/"))
    md = (tmp_path / "sklearn-fit.md").read_text()
    assert "| epochs | estimator |" in md and "| estimator | fit s | ratio | test R² seed 0 |" in md


# --- sample_weight and class_weight ------------------------------------------------------------------


@pytest.mark.parametrize("early_stopping", [False, True])
def test_sample_weight_trains_as_scikit_learn_does(early_stopping) -> None:
    """Weighted loss, penalty over the batch's weight, weighted validation accuracy: scikit-learn's."""
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    X, y = make_blobs(n_samples=60, centers=3, n_features=4, cluster_std=3.0, random_state=3)
    w = np.random.default_rng(0).uniform(0.0, 3.0, 60)
    params = {"hidden_layer_sizes": (5,), "solver": "sgd", "learning_rate_init": 0.05, "batch_size": 16,
              "alpha": 0.1, "shuffle": False, "random_state": 0, "max_iter": 6, "early_stopping": early_stopping,
              "n_iter_no_change": 100}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**params).fit(X, y, sample_weight=w)
        ref = SklearnMLP(**params).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-10)
    if early_stopping:
        np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_, rtol=1e-12)
    assert ours.score(X, y, sample_weight=w) == ref.score(X, y, sample_weight=w)


def test_sample_weight_in_partial_fit_and_refusals(blobs) -> None:
    X, y = blobs
    w = np.where(y == 0, 0.0, 1.0)  # class 0 weighs nothing: as if its rows were not there
    params = {"max_iter": 3, "shuffle": False, "n_iter_no_change": 100}  # batch_size "auto": all rows
    dropped, weighted = quick(**params), quick(**params)
    for _ in range(3):
        dropped.partial_fit(X[y != 0], y[y != 0], classes=[0, 1, 2])
        weighted.partial_fit(X, y, w, [0, 1, 2])  # scikit-learn's order: sample_weight, then classes
    np.testing.assert_allclose(weighted.predict_proba(X), dropped.predict_proba(X), rtol=1e-10)
    np.testing.assert_allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=1e-10)  # a weighted mean
    for bad, message in [
        (np.ones(3), "sample_weight must have shape (120,), one weight per sample; got shape (3,)"),
        (np.full(120, np.nan), "sample_weight must be finite and non-negative"),
        (np.zeros(120), "Sample weights must contain at least one non-zero number."),
        (np.array(["a"] * 120), "sample_weight must hold numbers; got dtype <U1"),
    ]:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            quick().fit(X, y, sample_weight=bad)
    with pytest.warns(ConvergenceWarning):  # a scalar weighs all rows alike
        assert quick(max_iter=2).fit(X, y, sample_weight=2.0).n_iter_ == 2


def test_class_weight_is_a_weight_per_class(blobs) -> None:
    """class_weight multiplies sample_weight by each row's class weight; 'balanced' as scikit-learn's."""
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = blobs
    names = np.array(["a", "b", "c"])[y]
    keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:10]]  # class "c" rare
    X, names = X[keep], names[keep]
    params = {"max_iter": 4, "batch_size": 25, "shuffle": False}
    runs = {}
    for key, extra, weights in [
        ("dict", {"class_weight": {"a": 1.0, "c": 3.0}}, np.where(names == "c", 3.0, 1.0)),
        ("balanced", {"class_weight": "balanced"}, compute_sample_weight("balanced", names)),
    ]:
        with pytest.warns(ConvergenceWarning):
            by_class = quick(**params, **extra).fit(X, names)
        with pytest.warns(ConvergenceWarning):
            by_row = quick(**params).fit(X, names, sample_weight=weights)
        np.testing.assert_allclose(by_class.loss_curve_, by_row.loss_curve_, rtol=1e-12)
        runs[key] = by_class
    twice = np.full(len(names), 2.0)
    with pytest.warns(ConvergenceWarning):  # both at once multiply
        both = quick(**params, class_weight={"c": 3.0}).fit(X, names, sample_weight=twice)
    with pytest.warns(ConvergenceWarning):
        product = quick(**params).fit(X, names, sample_weight=twice * np.where(names == "c", 3.0, 1.0))
    np.testing.assert_allclose(both.loss_curve_, product.loss_curve_, rtol=1e-12)
    with pytest.warns(ConvergenceWarning):
        plain = quick(**params).fit(X, names)
    assert plain.loss_curve_ != runs["dict"].loss_curve_
    with pytest.raises(ValueError, match="^class_weight='balanced' is not supported for partial_fit: pass"):
        quick(class_weight="balanced").partial_fit(X, names, classes=["a", "b", "c"])
    with pytest.raises(ValueError, match=re.escape("The classes, ['a', 'b', 'c'], are not in class_weight")):
        quick(class_weight={"z": 2.0}).fit(X, names)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_two_classes_early_stopping_split_is_stratified(dtype) -> None:
    """Two classes: the held-out rows are a stratified split, as scikit-learn's; weights follow them.

    The network answers class 0 for every row and barely trains: the held-out accuracy is the
    share of class 0 among the rows held out.
    """
    from sklearn.model_selection import train_test_split

    y = np.repeat([0, 1], [30, 10])
    X = np.random.default_rng(0).uniform(0.0, 1.0, (40, 2)).astype(dtype)
    net = {"W1": np.zeros((2, 2)), "b1": np.zeros(2), "W2": np.zeros((2, 2)), "b2": np.array([1.0, 0.0])}
    clf = MLPClassifier.from_network(net, **BARELY_TRAINING, max_iter=2, n_iter_no_change=5, dtype=dtype)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y, sample_weight=np.ones(40))  # float64 weights, held out in the network's dtype
    _, held_out = train_test_split(
        np.arange(40), random_state=np.random.RandomState(0), test_size=0.2, stratify=y
    )
    _, unstratified = train_test_split(np.arange(40), random_state=np.random.RandomState(0), test_size=0.2)
    expected = float(np.mean(y[held_out] == 0))
    assert expected != float(np.mean(y[unstratified] == 0))  # the split tells
    assert clf.validation_scores_ == [expected] * 2


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_learning_rate_schedules_are_for_sgd_only(blobs, learning_rate) -> None:
    """As scikit-learn's, Adam ignores ``learning_rate``: it trains and stops as with 'constant'."""
    X, y = blobs
    params = {"max_iter": 8, "tol": 10.0, "n_iter_no_change": 2, "shuffle": False}
    constant = quick(**params).fit(X, y)
    scheduled = quick(**params, learning_rate=learning_rate).fit(X, y)
    assert scheduled.n_iter_ == constant.n_iter_ < params["max_iter"]
    assert scheduled.loss_curve_ == constant.loss_curve_


def test_sklearn_init_writes_the_signature_once() -> None:
    """The estimators' ``__init__``: named so, scikit-learn's signature, every argument stored."""
    import inspect

    from xpnn.estimators._base import PARAMETERS, sklearn_init

    class Estimator:
        __init__ = sklearn_init({"first": 1}, extra=2)

    assert Estimator.__init__.__name__ == "__init__"
    names = list(inspect.signature(Estimator.__init__).parameters)
    assert names == ["self", "first", "hidden_layer_sizes", "activation", *PARAMETERS, "extra"]
    est = Estimator(3, (4,), extra=5)
    assert (est.first, est.hidden_layer_sizes, est.activation, est.extra) == (3, (4,), "relu", 5)
    assert est.solver == PARAMETERS["solver"]
