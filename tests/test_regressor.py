"""Regression (issue 21): the identity output with squared error, and ``xpnn.MLPRegressor``.

The loss and its gradient are checked against torch autograd in float64 (an independent
implementation); the estimator against scikit-learn's own checks and its ``MLPRegressor``.
"""

from __future__ import annotations

import itertools
import os
import pickle
import re
import warnings

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # scikit-learn's dispatch needs it before SciPy loads

import numpy as np
import pytest
from conftest import Case, assert_close

import xpnn
from xpnn.layers import loss_and_gradient, loss_value

if os.environ.get("XPNN_REQUIRE_SKLEARN") == "1":
    import sklearn
else:
    sklearn = pytest.importorskip("sklearn", reason="xpnn.MLPRegressor needs scikit-learn (xpnn[sklearn])")

from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor as SklearnRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from xpnn import MLPRegressor

ACTIVATIONS = ["sigmoid", "relu", "tanh", "identity"]


def problem(sizes: tuple[int, ...], n: int = 7, seed: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    """A float64 network with nonzero biases, inputs, real targets and positive row weights."""
    rng = np.random.default_rng(seed)
    net = {}
    for i, (a, b) in enumerate(itertools.pairwise(sizes), start=1):
        net[f"W{i}"] = rng.standard_normal((a, b)) / np.sqrt(a)
        net[f"b{i}"] = 0.1 * rng.standard_normal(b)
    x = rng.standard_normal((n, sizes[0]))
    t = rng.standard_normal((n, sizes[-1])) * 2.0
    return net, x, t


def torch_reference(net, x, t, activation, weight_decay, loss, w=None) -> tuple:
    """Loss and gradient by torch autograd in float64."""
    torch = pytest.importorskip("torch", reason="torch is the autograd reference")
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.items()}
    z = torch.tensor(x, dtype=torch.float64)
    hidden = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh, "identity": lambda a: a}
    n = len(net) // 2
    for i in range(1, n + 1):
        z = z @ params[f"W{i}"] + params[f"b{i}"]
        if i < n:
            z = hidden[activation](z)
    weights = torch.ones(x.shape[0], dtype=torch.float64) if w is None else torch.tensor(w)
    if loss == "squared_error":
        rows = 0.5 * ((z - torch.tensor(t)) ** 2).sum(dim=1)
    else:
        rows = torch.nn.functional.cross_entropy(z, torch.tensor(t, dtype=torch.int64), reduction="none")
    value = (weights * rows).sum() / weights.sum()
    value = value + 0.5 * weight_decay * sum((params[f"W{i}"] ** 2).sum() for i in range(1, n + 1))
    value.backward()
    return float(value.detach()), {k: p.grad.numpy() for k, p in params.items()}


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [(5, 4, 1), (6, 5, 4, 3)], ids=["1-output", "3-outputs"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True], ids=["mean", "sample_weight"])
def test_squared_error_gradient_matches_torch_autograd(
    backend: Case, activation, sizes, weight_decay, weighted
):
    """``loss="squared_error"``: 0.5 * Σ_outputs (y - t)², mean (or weighted mean) over rows."""
    if backend.name == "dask":
        pytest.skip("training does not run on Dask by design")
    wide = backend.has_float64()
    dtype, host = (backend.dtype("float64"), np.float64) if wide else (backend.dtype("float32"), np.float32)
    net, x, t = problem(sizes)
    w = np.random.default_rng(3).uniform(0.0, 3.0, x.shape[0]) if weighted else None
    expected_loss, expected = torch_reference(net, x, t, activation, weight_decay, "squared_error", w)
    params = {k: backend.asarray(v, host) for k, v in net.items()}
    kwargs = {"activation": activation, "weight_decay": weight_decay, "loss": "squared_error"}
    if weighted:
        kwargs["sample_weight"] = backend.asarray(w, host)
    value, grads = loss_and_gradient(params, backend.asarray(x, host), backend.asarray(t, host), **kwargs)
    assert list(grads) == list(net)
    assert_close(value, np.asarray(expected_loss), backend, dtype=dtype, factor=16)
    for key in net:
        assert_close(grads[key], expected[key], backend, dtype=dtype, factor=64 if wide else 256)
    forward_only = loss_value(params, backend.asarray(x, host), backend.asarray(t, host), **kwargs)
    assert_close(forward_only, np.asarray(expected_loss), backend, dtype=dtype, factor=16)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_xpnn_gradient_and_loss_of_squared_error_match_torch_autograd(backend: Case, activation) -> None:
    """``xpnn.gradient(..., loss="squared_error")`` and ``xpnn.loss``: placed as for labels, same math."""
    if backend.name == "dask":
        pytest.skip("training does not run on Dask by design")
    wide = backend.has_float64()
    dtype, host = (backend.dtype("float64"), np.float64) if wide else (backend.dtype("float32"), np.float32)
    net, x, t = problem((6, 5, 2))
    expected_loss, expected = torch_reference(net, x, t, activation, 0.1, "squared_error")
    net = {k: v.astype(host) for k, v in net.items()}
    kwargs = {"activation": activation, "weight_decay": 0.1, "loss": "squared_error"}
    grads = xpnn.gradient(net, backend.asarray(x, host), backend.asarray(t, host), **kwargs)
    for key in net:
        assert_close(grads[key], expected[key], backend, dtype=dtype, factor=64 if wide else 256)
    value = xpnn.loss(net, x, t, backend=backend.name, device=backend.device, **kwargs)
    assert value == pytest.approx(expected_loss, rel=1e-12 if wide else 1e-5)


@pytest.mark.parametrize("activation", ["tanh", "identity"])
@pytest.mark.sessions("torch")
def test_weighted_cross_entropy_and_new_activations_match_torch_autograd(activation) -> None:
    net, x, _ = problem((5, 4, 3))
    t = np.random.default_rng(1).integers(0, 3, x.shape[0])
    w = np.random.default_rng(2).uniform(0.0, 3.0, x.shape[0])
    for weights in (None, w):
        expected_loss, expected = torch_reference(net, x, t, activation, 0.05, "cross_entropy", weights)
        value, grads = loss_and_gradient(
            net, x, t, activation=activation, weight_decay=0.05, sample_weight=weights
        )
        np.testing.assert_allclose(float(value), expected_loss, rtol=1e-13)
        for key in net:
            np.testing.assert_allclose(grads[key], expected[key], rtol=1e-12, atol=1e-15)


def test_squared_error_refusals_are_clear() -> None:
    net, x, t = problem((3, 2, 2))
    with pytest.raises(ValueError, match=r"^t must hold the targets, shape \(7, 2\); got shape \(7,\)$"):
        loss_and_gradient(net, x, t[:, 0], loss="squared_error")
    with pytest.raises(
        ValueError, match=r"^unknown loss 'poisson'; choose one of cross_entropy, squared_error$"
    ):
        loss_and_gradient(net, x, t, loss="poisson")
    with pytest.raises(
        ValueError, match=r"^sample_weight must have shape \(7,\), one weight per row; got \(3,\)$"
    ):
        loss_and_gradient(net, x, t, loss="squared_error", sample_weight=np.ones(3))


# --- the estimator ------------------------------------------------------------------------------

#: Small and quick for scikit-learn's checks (its regressors must reach R² > 0.5 on its data).
CHECK_PARAMS = {"hidden_layer_sizes": (8,), "max_iter": 100, "learning_rate_init": 0.02}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([MLPRegressor(**CHECK_PARAMS)], expected_failed_checks=lambda est: {})
@pytest.mark.sessions("torch")
def test_sklearn_estimator_check(estimator, check) -> None:
    check(estimator)


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled diabetes data (no download), split 3:1 and standardized."""
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def test_diabetes_r2_reaches_scikit_learns(diabetes) -> None:
    """The same split and parameters: the mean test R² of two seeds is within 0.05 of scikit-learn's."""
    X_train, X_test, y_train, y_test = diabetes
    params = {"hidden_layer_sizes": (16,), "learning_rate_init": 0.05, "alpha": 1.0, "max_iter": 200}
    scores: dict[str, list[float]] = {"xpnn": [], "sklearn": []}
    for seed in (0, 1):
        for name, cls in (("xpnn", MLPRegressor), ("sklearn", SklearnRegressor)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = cls(random_state=seed, **params).fit(X_train, y_train)
            scores[name].append(model.score(X_test, y_test))
    ours, theirs = np.mean(scores["xpnn"]), np.mean(scores["sklearn"])
    assert theirs > 0.2, scores  # both learn something: far above the mean's R² of 0
    assert abs(ours - theirs) <= 0.05, scores


def _curve_data(n_outputs: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(n_samples=48, n_features=4, n_targets=n_outputs, noise=5.0, random_state=2)
    return X, y / 50.0


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "sgd", "momentum": 0.0, "batch_size": 16, "alpha": 0.01, "max_iter": 5},
        {"solver": "sgd", "batch_size": 16, "alpha": 0.0, "max_iter": 3},  # no penalty in the loss
        {
            "solver": "sgd",
            "activation": "tanh",
            "batch_size": 10,
            "hidden_layer_sizes": (6, 4),
            "max_iter": 4,
        },
        {
            "solver": "sgd",
            "activation": "logistic",
            "nesterovs_momentum": False,
            "batch_size": 20,
            "max_iter": 4,
        },
        {
            "solver": "sgd",
            "activation": "identity",
            "learning_rate": "invscaling",
            "power_t": 0.25,
            "max_iter": 4,
        },
        {"solver": "sgd", "learning_rate": "adaptive", "tol": 0.5, "n_iter_no_change": 1, "max_iter": 30},
        {"solver": "sgd", "early_stopping": True, "validation_fraction": 0.25, "max_iter": 6, "tol": 1.0},
        {"solver": "adam", "batch_size": 16, "beta_1": 0.8, "beta_2": 0.99, "max_iter": 4},
    ],
)
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_trains_as_scikit_learn_does(params, n_outputs, weighted, capsys) -> None:
    """Same initialisation, batches, loss (a mean over the outputs too), updates, schedule, stopping.

    Without shuffling both walk the same batches, so the training is the same up to rounding;
    Adam's epsilon is the book's 1e-7 (scikit-learn's is 1e-8), hence its looser tolerance.
    """
    X, y = _curve_data(n_outputs)
    w = np.random.default_rng(0).uniform(0.0, 2.0, X.shape[0]) if weighted else None
    params = {"hidden_layer_sizes": (5,), "learning_rate_init": 0.05, "shuffle": False, "random_state": 0,
              "verbose": True, **params}  # fmt: skip
    runs = []
    for model in (MLPRegressor(**params), SklearnRegressor(**params)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X, y, sample_weight=w)
        runs.append((model, capsys.readouterr().out, [(c.category, str(c.message)) for c in caught]))
    (ours, out, warned), (ref, ref_out, ref_warned) = runs
    rtol = 1e-4 if params["solver"] == "adam" else 1e-11
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=rtol)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol * 10, atol=rtol)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=rtol, atol=rtol)
    assert ours.predict(X).shape == ref.predict(X).shape == y.shape
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(ref, name), name
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, ref.validation_scores_, rtol=rtol)
        assert ours.best_validation_score_ == pytest.approx(ref.best_validation_score_, rel=rtol)
    else:
        assert ours.best_loss_ == pytest.approx(ref.best_loss_, rel=rtol)
    assert warned == ref_warned
    if params["solver"] != "adam":
        assert out == ref_out  # "Iteration 1, loss = ...", learning-rate changes, the reason for stopping
    assert ours.score(X, y, sample_weight=w) == pytest.approx(ref.score(X, y, sample_weight=w), rel=rtol * 10)


def namespace(name: str):
    """(xp, device) for an Array API library by name, skipping where it is absent."""
    if name == "numpy":
        return np, None
    if name == "array_api_strict":
        strict = pytest.importorskip("array_api_strict")
        return strict, strict.Device("device1")
    torch = pytest.importorskip("torch")
    return torch, "cpu"


@pytest.mark.parametrize("name", ["numpy", "array_api_strict", "torch"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.sessions("torch")
def test_dispatch_follows_the_input(name, dtype, n_outputs) -> None:
    X, y = _curve_data(n_outputs)
    X, y = X.astype(dtype), y.astype(dtype)
    xp, device = namespace(name)
    X_xp, y_xp = xp.asarray(X, device=device), xp.asarray(y, device=device)
    params = {"hidden_layer_sizes": (6,), "max_iter": 5, "learning_rate_init": 0.02, "random_state": 0}
    with pytest.warns(ConvergenceWarning):
        ref = MLPRegressor(**params).fit(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.warns(ConvergenceWarning):
            model = MLPRegressor(**params).fit(X_xp, y_xp)
        pred = model.predict(X_xp)
        score = model.score(X_xp, y_xp)
    for out in (pred, model.coefs_[0]):
        assert xpnn.backend_of(out) == name
        if device is not None:
            assert str(out.device) == str(X_xp.device)
    assert str(pred.dtype).endswith(dtype) and tuple(pred.shape) == y.shape
    assert model.network_.backend == name and model.network_.activation == "relu"
    rtol = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(xpnn.to_numpy(pred), ref.predict(X), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(model.loss_curve_, ref.loss_curve_, rtol=rtol)
    assert isinstance(score, float) and score == pytest.approx(ref.score(X, y), rel=rtol, abs=rtol)
    assert isinstance(model.predict(X), np.ndarray)  # without dispatch: NumPy out


def test_backend_parameter_pickle_and_partial_fit(backend: Case) -> None:
    if backend.name == "dask":
        pytest.skip("training on Dask is not offered: train on NumPy/CuPy, predict on Dask")
    X, y = _curve_data(2)
    dtype = "float64" if backend.has_float64() else "float32"
    params = {
        "hidden_layer_sizes": (6,),
        "max_iter": 4,
        "dtype": dtype,
        "random_state": 5,
        "activation": "tanh",
    }
    with pytest.warns(ConvergenceWarning):
        ref = MLPRegressor(**params).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        model = MLPRegressor(backend=backend.name, device=backend.device_arg, **params).fit(X, y)
    assert model.network_.backend == backend.name and model.network_.activation == "tanh"
    pred = model.predict(X)
    assert isinstance(pred, np.ndarray) and pred.shape == y.shape
    rtol = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(pred, ref.predict(X), rtol=rtol, atol=rtol)
    again = pickle.loads(pickle.dumps(model))
    assert again.network_.backend == backend.name and again.network_.activation == "tanh"
    np.testing.assert_array_equal(again.predict(X), pred)
    again.partial_fit(X, y)
    assert again.n_iter_ == 1 and len(again.loss_curve_) == 5
    message = "y has 1 outputs, but MLPRegressor was fitted with 2"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        again.partial_fit(X, y[:, 0])


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_early_stopping_scores_r2_on_the_device(backend: Case, weighted) -> None:
    """Validation R² is computed where the network trains: the same scores as on NumPy."""
    if backend.name == "dask":
        pytest.skip("training on Dask is not offered")
    X, y = _curve_data(2)
    w = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    dtype = "float64" if backend.has_float64() else "float32"
    params = {"hidden_layer_sizes": (5,), "early_stopping": True, "validation_fraction": 0.25, "max_iter": 4,
              "random_state": 0, "dtype": dtype, "n_iter_no_change": 100}  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        ref = MLPRegressor(**params).fit(X, y, sample_weight=w)
    with pytest.warns(ConvergenceWarning):
        model = MLPRegressor(backend=backend.name, device=backend.device_arg, **params).fit(
            X, y, sample_weight=w
        )
    rtol = 1e-9 if dtype == "float64" else 1e-3
    np.testing.assert_allclose(model.validation_scores_, ref.validation_scores_, rtol=rtol)
    sklearn_ref = SklearnRegressor(**{k: v for k, v in params.items() if k != "dtype"})
    with pytest.warns(ConvergenceWarning):
        sklearn_ref.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.validation_scores_, sklearn_ref.validation_scores_, rtol=max(rtol, 1e-4))


def test_partial_fit_equals_fit_epoch_by_epoch() -> None:
    X, y = _curve_data(1)
    params = {"shuffle": False, "batch_size": 16, "max_iter": 3, "n_iter_no_change": 100, "random_state": 0}
    with pytest.warns(ConvergenceWarning):
        full = MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", learning_rate="invscaling", **params).fit(
            X, y
        )
    inc = MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", learning_rate="invscaling", **params)
    for _ in range(3):
        inc.partial_fit(X, y)
        inc = pickle.loads(pickle.dumps(inc))  # the scheduled learning rate and momentum survive it
    np.testing.assert_allclose(full.loss_curve_, inc.loss_curve_, rtol=1e-12)
    for a, b in zip(full.coefs_ + full.intercepts_, inc.coefs_ + inc.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_one_column_targets_and_refusals() -> None:
    """A column-vector y is 1-D with scikit-learn's DataConversionWarning; bad input says what is wrong."""
    from sklearn.exceptions import DataConversionWarning

    X, y = _curve_data(1)
    with pytest.warns(ConvergenceWarning):
        flat = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    with (
        pytest.warns(DataConversionWarning, match="A column-vector y was passed"),
        pytest.warns(ConvergenceWarning),
    ):
        column = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y[:, None])
    assert column.n_outputs_ == 1 and column.predict(X).shape == (48,)
    np.testing.assert_array_equal(column.predict(X), flat.predict(X))
    cases = [
        (
            {"loss": "poisson"},
            {},
            "loss must be 'squared_error'; got 'poisson' (the Poisson loss is not offered)",
        ),
        ({"loss": "absolute_error"}, {}, "loss must be 'squared_error'; got 'absolute_error'"),
        (
            {"loss": (16,)},
            {},
            "loss must be 'squared_error'; got (16,) (loss is the first positional parameter, as in"
            " scikit-learn: write hidden_layer_sizes=...)",
        ),
        (
            {},
            {"sample_weight": np.ones(3)},
            "sample_weight must have shape (48,), one weight per sample; got shape (3,)",
        ),
        ({}, {"sample_weight": -np.ones(48)}, "sample_weight must be finite and non-negative"),
        ({}, {"sample_weight": np.zeros(48)}, "Sample weights must contain at least one non-zero number."),
    ]
    for params, fit_args, message in cases:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            MLPRegressor(**params).fit(X, y, **fit_args)
    defaults = MLPRegressor().get_params()
    theirs = SklearnRegressor().get_params()
    shared = set(defaults) & set(theirs)
    assert set(theirs) - shared == {"epsilon", "max_fun"}
    assert {k: defaults[k] for k in shared} == {k: theirs[k] for k in shared}
    assert set(defaults) - shared == {"backend", "device", "dtype"}


def test_sample_weight_is_repetition_and_zero_weight_is_removal() -> None:
    """Full batches: weight 2 is a row seen twice, weight 0 a row left out (scikit-learn's meaning)."""
    X, y = _curve_data(2)
    counts = np.tile([0, 1, 2], 16)
    params = {"hidden_layer_sizes": (5,), "max_iter": 5, "random_state": 0}  # batch_size "auto": all rows
    with pytest.warns(ConvergenceWarning):
        repeated = MLPRegressor(**params).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0))
    with pytest.warns(ConvergenceWarning):
        weighted = MLPRegressor(**params).fit(X, y, sample_weight=counts)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-10)
    assert weighted.score(X, y, sample_weight=counts) == pytest.approx(
        repeated.score(np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0)), rel=1e-10
    )


def test_a_batch_of_weight_zero_is_skipped() -> None:
    """Mini-batches whose rows all weigh 0 make no step (scikit-learn's would divide by 0)."""
    X, y = _curve_data(1)
    w = np.r_[np.zeros(16), np.ones(32)]
    params = {"hidden_layer_sizes": (4,), "batch_size": 8, "shuffle": False, "max_iter": 3, "random_state": 0}
    with pytest.warns(ConvergenceWarning):
        weighted = MLPRegressor(**params).fit(X, y, sample_weight=w)
    with pytest.warns(ConvergenceWarning):
        dropped = MLPRegressor(**params).fit(X[16:], y[16:])
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, np.array(dropped.loss_curve_) * (32 / 48), rtol=1e-12)


@pytest.mark.parametrize("estimator", ["MLPRegressor", "MLPClassifier"])
@pytest.mark.sessions("torch")
def test_bfloat16_on_pytorch_trains_and_answers_in_float32(estimator) -> None:
    """dtype="bfloat16" trains on PyTorch; NumPy has no bfloat16, so NumPy answers are float32."""
    torch = pytest.importorskip("torch")
    X, y = _curve_data(1)
    target = y if estimator == "MLPRegressor" else (y > 0).astype(int)
    params = {
        "hidden_layer_sizes": (4,),
        "max_iter": 3,
        "random_state": 0,
        "backend": "torch",
        "dtype": "bfloat16",
    }
    with pytest.warns(ConvergenceWarning):
        model = getattr(xpnn, estimator)(**params).fit(X, target)
    assert model.coefs_[0].dtype == torch.bfloat16 and model.network_.dtype == torch.bfloat16
    out = model.predict(X) if estimator == "MLPRegressor" else model.predict_proba(X)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert np.isfinite(model.score(X, target))
    again = pickle.loads(pickle.dumps(model))  # bfloat16 weights are exact in float32 on the way
    assert again.network_.dtype == torch.bfloat16
    for a, b in zip(again.coefs_ + again.intercepts_, model.coefs_ + model.intercepts_, strict=True):
        assert torch.equal(a, b)


def test_validation_r2_is_scikit_learns_at_its_edges() -> None:
    """Validation R² is ``r2_score``: a held-out column of total sum of squares 1 is scored as
    any; a constant one scores 1 where predicted exactly (scikit-learn's ``force_finite``).

    The network is set by hand to answer a constant and barely trains (warm_start, tiny rate).
    """
    from sklearn.metrics import r2_score

    X = np.random.default_rng(0).normal(size=(20, 3))
    params = {"hidden_layer_sizes": (3,), "solver": "sgd", "learning_rate_init": 1e-9, "max_iter": 1,
              "warm_start": True, "early_stopping": True, "validation_fraction": 0.2, "random_state": 0}  # fmt: skip
    model = MLPRegressor(**params)
    with pytest.warns(ConvergenceWarning):
        model.fit(X, np.zeros(20))
    _, held_out = train_test_split(np.arange(20), random_state=np.random.RandomState(0), test_size=0.2)
    y = np.zeros(20)
    for answer, y_held_out in [(0.0, [0.0] * 4), (0.25, [0.5, -0.5, 0.5, -0.5])]:  # sums of squares 0, 1
        for a in model.coefs_ + model.intercepts_:
            a[...] = 0.0
        model.intercepts_[-1][...] = answer
        y[held_out] = y_held_out
        with pytest.warns(ConvergenceWarning):
            model.fit(X, y)
        expected = r2_score(y[held_out], model.predict(X[held_out]))
        assert model.validation_scores_[-1] == pytest.approx(expected, rel=1e-6)
