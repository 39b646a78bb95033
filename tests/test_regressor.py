"""Regression (issue 21): the identity output with squared error, and ``xpnn.MLPRegressor``.

The loss and its gradient are checked against torch autograd in float64 (an independent
implementation); the estimator against scikit-learn's own checks and its ``MLPRegressor``.
"""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # scikit-learn's dispatch needs it before SciPy loads

import numpy as np
import pytest
from conftest import Case, assert_close

from xpnn.layers import loss_and_gradient, loss_value

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


@pytest.mark.parametrize("activation", ["tanh", "identity"])
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
