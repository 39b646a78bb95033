"""What predict, predict_proba and accuracy refuse (issue 8, item 6), and the empty batch, on every backend."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import reference
from conftest import Case, host

import xpnn

N_IN, N_OUT = 6, 4


@pytest.fixture(scope="module")
def problem() -> tuple[dict, np.ndarray, np.ndarray]:
    net = reference.random_network((N_IN, 5, N_OUT), np.float32, seed=21)
    rng = np.random.default_rng(22)
    x = rng.integers(0, 256, (9, N_IN), dtype=np.uint8)
    t = reference.forward(net, x / 255.0).argmax(axis=1)  # all correct: accuracy 1.0
    return net, x, t


def _accuracy(backend: Case, net: dict, x, t, **kw) -> float:
    placed = xpnn.to_backend(net, backend.name, backend.device)
    return xpnn.accuracy(placed, x, t, normalize=True, **kw)


def test_good_labels_of_every_form(backend: Case, problem) -> None:
    net, x, t = problem
    one_hot = np.eye(N_OUT)[t]
    forms = [
        t,
        t.astype(np.float64),
        t.astype(np.uint8),
        one_hot,
        one_hot.astype(np.int8),
        backend.asarray(t),
    ]
    for labels in forms:
        assert _accuracy(backend, net, backend.asarray(x), labels) == 1.0
    wrong = (t + 1) % N_OUT
    assert _accuracy(backend, net, x, wrong) == 0.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: t[:, None], r"shape \(9, 1\).*ravel"),
        (lambda t: t[:-1], r"9 inputs but labels of shape \(8,\)"),
        (lambda t: np.stack([t, t]), r"9 inputs but labels of shape \(2, 9\)"),
        (lambda t: np.eye(5)[t], r"shape \(9, 5\).*one-hot rows must have the network's 4 outputs"),
        (lambda t: np.where(np.arange(9) == 3, 4, t), r"label 4 at index 3 is not a class index in \[0, 4\)"),
        (lambda t: np.where(np.arange(9) == 2, -1, t), r"label -1 at index 2"),
        (lambda t: np.where(np.arange(9) == 5, 1.5, t), r"label 1\.5 at index 5"),
        (lambda t: np.where(np.arange(9) == 0, np.nan, t), r"label nan at index 0"),
        (lambda t: np.eye(N_OUT)[t] * 2, r"row 0 is not one-hot"),
        (lambda t: t.astype(bool), r"dtype bool.*must be integers"),
        (lambda t: t.astype(str), r"dtype <U\d+.*must be integers"),
        (lambda t: t.reshape(9, 1, 1), r"9 inputs but labels of shape \(9, 1, 1\)"),
    ],
)
def test_bad_labels_are_named(backend: Case, problem, make, message: str) -> None:
    net, x, t = problem
    with pytest.raises(ValueError, match=message):
        _accuracy(backend, net, backend.asarray(x), make(t))


@pytest.mark.parametrize("dtype", [np.complex64, "datetime64[s]", object, str])
def test_input_of_no_real_dtype_is_a_type_error(problem, dtype) -> None:
    net, x, t = problem
    bad = x.astype(dtype)
    for call in (
        lambda: xpnn.predict(net, bad),
        lambda: xpnn.predict_proba(net, bad),
        lambda: xpnn.accuracy(net, bad, t),
    ):
        with pytest.raises(TypeError, match=re.escape(f"got dtype {bad.dtype}")):
            call()


def test_complex_input_of_a_backend_is_a_type_error(backend: Case, problem) -> None:
    net, x, _ = problem
    if "complex64" not in backend.xp.__array_namespace_info__().dtypes(device=backend.device):
        pytest.skip(f"{backend.name} has no complex64")
    bad = backend.xp.asarray(x.astype(np.complex64), device=backend.device)
    with pytest.raises(TypeError, match="complex64"):
        xpnn.predict(net, bad, backend=backend.name, device=backend.device)


def test_normalize_on_floating_input_is_refused(backend: Case, problem) -> None:
    net, x, t = problem
    x_float = backend.asarray(x / 255.0, dtype=np.float32)
    with pytest.raises(ValueError, match="normalize=True.*already"):
        xpnn.predict(net, x_float, normalize=True)
    with pytest.raises(ValueError, match="normalize=True.*already"):
        xpnn.accuracy(net, x_float, t, normalize=True)
    assert xpnn.accuracy(net, x_float, t) == 1.0


@pytest.mark.parametrize("where", ["pixel", "weight"])
def test_non_finite_outputs_name_the_first_bad_row(backend: Case, problem, where: str) -> None:
    net, x, t = problem
    x = (x / 255.0).astype(np.float32)
    if where == "pixel":
        x[6, 2] = np.nan
        x[8, 0] = np.inf
        rows = [6, 8]
    else:
        net = {k: v.copy() for k, v in net.items()}
        net["b2"][1] = np.nan  # every row's output
        rows = list(range(9))
    # Dask checks its chunks in parallel: the first bad row of whichever chunk finds one.
    row = "|".join(map(str, rows)) if backend.name == "dask" else str(rows[0])
    placed = xpnn.to_backend(net, backend.name, backend.device)
    x_dev = backend.asarray(x)
    with warnings.catch_warnings():  # NumPy's "invalid value in matmul" comes first; the error is what counts
        warnings.simplefilter("ignore", RuntimeWarning)
        _assert_names_row(backend, placed, x_dev, t, row)


def _assert_names_row(backend: Case, placed: xpnn.Network, x_dev, t, row: str) -> None:
    for batch_size in (None, 4):
        with pytest.raises(ValueError, match=rf"input row ({row}) is not finite"):
            host(xpnn.predict(placed, x_dev, batch_size=batch_size), backend)  # Dask: when computed
        with pytest.raises(ValueError, match=rf"input row ({row}) is not finite"):
            host(xpnn.predict_proba(placed, x_dev, batch_size=batch_size), backend)
        with pytest.raises(ValueError, match=rf"input row ({row}) is not finite"):
            xpnn.accuracy(placed, x_dev, t, batch_size=batch_size)


def test_an_empty_batch_gives_an_empty_result(backend: Case, problem) -> None:
    net, x, t = problem
    placed = xpnn.to_backend(net, backend.name, backend.device)
    empty = backend.asarray(x[:0])
    assert host(xpnn.predict(placed, empty, normalize=True), backend).shape == (0,)
    assert host(xpnn.predict(placed, x[:0], normalize=True), backend).shape == (0,)
    assert host(xpnn.predict_proba(placed, empty, normalize=True), backend).shape == (0, N_OUT)
    with pytest.raises(ValueError, match="accuracy of no inputs"):
        xpnn.accuracy(placed, empty, t[:0], normalize=True)


def test_one_input_or_a_batch_and_no_other_rank(backend: Case, problem) -> None:
    net, x, t = problem
    placed = xpnn.to_backend(net, backend.name, backend.device)
    one = host(xpnn.predict(placed, backend.asarray(x[3]), normalize=True), backend)
    assert one.shape == () and int(one) == t[3]
    assert xpnn.accuracy(placed, x[3], t[3], normalize=True) == 1.0
    assert xpnn.accuracy(placed, x[3], np.eye(N_OUT)[t[3]], normalize=True) == 1.0
    for bad in (x[None, ...], np.uint8(7)):
        for call in (xpnn.predict, xpnn.predict_proba):
            with pytest.raises(ValueError, match=r"one image \(n_in,\) or a batch \(N, n_in\)"):
                call(placed, bad, normalize=True)
    with pytest.raises(ValueError, match=r"one image \(n_in,\) or a batch \(N, n_in\)"):
        xpnn.accuracy(placed, x[None, ...], t[None, ...], normalize=True)


@pytest.mark.parametrize("batch_size", [np.int64(4), np.int32(4), np.uint8(4)])
def test_batch_size_takes_numpy_integers(problem, batch_size) -> None:
    net, x, t = problem
    np.testing.assert_array_equal(xpnn.predict(net, x, batch_size=batch_size, normalize=True), t)
    assert xpnn.accuracy(net, x, t, batch_size=batch_size, normalize=True) == 1.0


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, True, np.float64(4), "4"])
def test_bad_batch_sizes(problem, batch_size) -> None:
    net, x, _ = problem
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        xpnn.predict(net, x, batch_size=batch_size)
