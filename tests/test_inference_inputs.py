"""What predict, predict_proba and accuracy refuse (issue 8, item 6), and the empty batch, on every backend."""

from __future__ import annotations

import re
import sys
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


# --- messages in full, and the edges of batching (from mutation testing, issue 14) -------------


def _message(call) -> str:
    with pytest.raises((ValueError, TypeError, ImportError)) as e:
        call()
    return str(e.value)


def test_label_errors_in_full(backend: Case, problem) -> None:
    net, x, t = problem
    x_dev = backend.asarray(x)
    one_hot = np.eye(N_OUT)[t]
    cases = [
        (t[:, None], f"labels of shape (9, 1) and dtype {t.dtype}: give one label per input as a 1-D array (t.ravel()), not a column"),
        (t[:-1], f"9 inputs but labels of shape (8,) and dtype {t.dtype}: give one label (N,) or one-hot row (N, 4) per input"),
        (t.astype(bool), "labels of shape (9,) and dtype bool: labels must be integers (or one-hot rows of 0 and 1)"),
        (np.eye(5)[t], "labels of shape (9, 5) and dtype float64: one-hot rows must have the network's 4 outputs"),
        (np.where(np.arange(9) == 3, 4, t), f"labels of shape (9,) and dtype {t.dtype}: label 4 at index 3 is not a class index in [0, 4)"),
        (np.where(np.arange(9) == 7, 4.0, t), "labels of shape (9,) and dtype float64: label 4.0 at index 7 is not a class index in [0, 4)"),
        (np.where(np.arange(9) == 8, 0.5, t), "labels of shape (9,) and dtype float64: label 0.5 at index 8 is not a class index in [0, 4)"),
        (np.where(np.arange(9) == 4, -1, t), f"labels of shape (9,) and dtype {t.dtype}: label -1 at index 4 is not a class index in [0, 4)"),
    ]  # fmt: skip
    two_ones, no_one, a_two = one_hot.copy(), one_hot.copy(), one_hot.copy()
    two_ones[2] = [1, 1, 0, 0]
    no_one[5] = 0
    a_two[7] = [0, 2, 0, 0]
    for labels, row, values in (
        (two_ones, 2, "[1. 1. 0. 0.]"),
        (no_one, 5, "[0. 0. 0. 0.]"),
        (a_two, 7, "[0. 2. 0. 0.]"),
    ):
        cases.append((labels, f"labels of shape (9, 4) and dtype float64: row {row} is not one-hot (exactly one 1, the rest 0): {values}"))  # fmt: skip
    for labels, message in cases:
        assert _message(lambda labels=labels: _accuracy(backend, net, x_dev, labels)) == message


def test_labels_at_the_ends_of_the_range(backend: Case) -> None:
    net = reference.random_network((N_IN, 5, N_OUT), seed=0)
    x = np.random.default_rng(0).standard_normal((12, N_IN)) * 3
    t = reference.forward(net, x).argmax(axis=1)
    assert {0, N_OUT - 1} <= set(t.tolist()), "the problem should have the first and the last class"
    placed = xpnn.to_backend(net, backend.name, backend.device)
    x_dev = backend.asarray(x, dtype=np.float64 if backend.has_float64() else np.float32)
    for labels in (t, t.astype(np.float32), np.eye(N_OUT)[t].astype(np.uint8), backend.asarray(t)):
        assert xpnn.accuracy(placed, x_dev, labels) == 1.0
        assert xpnn.accuracy(placed, x_dev, labels, batch_size=5) == 1.0
    assert xpnn.accuracy(placed, x_dev, np.where(t == 0, 1, t)) == float(np.mean(t != 0))


def test_a_one_output_network_takes_one_hot_columns() -> None:
    net = reference.random_network((3, 2, 1), seed=5)
    x = np.random.default_rng(6).standard_normal((4, 3))
    assert xpnn.accuracy(net, x, np.zeros(4, dtype=int)) == 1.0
    assert xpnn.accuracy(net, x, np.ones((4, 1))) == 1.0


def test_one_input_and_its_label_in_every_form(backend: Case) -> None:
    net = xpnn.to_backend(xpnn.init_network(), backend.name, backend.device)  # two classes
    x = np.array([1.0, 0.5])  # class 1
    for label in (
        1,
        np.int64(1),
        np.array(1),
        np.array([1]),
        np.array([0, 1]),
        [0.0, 1.0],
        backend.asarray([1]),
    ):
        assert xpnn.accuracy(net, backend.asarray(x), label) == 1.0
    for label in (0, np.array([0]), np.array([1, 0])):
        assert xpnn.accuracy(net, x, label) == 0.0


def test_input_errors_in_full(problem) -> None:
    net, x, t = problem
    assert _message(lambda: xpnn.predict(net, x.astype(np.complex64))) == (
        "input must be real numbers (integer or floating); got dtype complex64"
    )
    assert _message(lambda: xpnn.predict(net, (x / 255.0).astype(np.float32), normalize=True)) == (
        "normalize=True divides integer images (uint8, 0..255) by 255, but the input is already float32:"
        " leave normalize out for floating input"
    )
    assert _message(lambda: xpnn.predict(net, x[None, ...])) == (
        "input must be one image (n_in,) or a batch (N, n_in); got shape (1, 9, 6)"
    )
    assert _message(lambda: xpnn.accuracy(net, x[:0], t[:0])) == (
        "accuracy of no inputs is undefined: give at least one input and its label"
    )
    for bad in (0, -1, 2.0, True, np.True_, "4"):
        assert _message(lambda bad=bad: xpnn.predict(net, x, batch_size=bad)) == (
            f"batch_size must be a positive integer or None (the default); got {bad!r}"
        )


def test_complex_backend_input_in_full(backend: Case, problem) -> None:
    net, x, _ = problem
    if "complex64" not in backend.xp.__array_namespace_info__().dtypes(device=backend.device):
        pytest.skip(f"{backend.name} has no complex64")
    bad = backend.xp.asarray(x.astype(np.complex64), device=backend.device)
    assert _message(lambda: xpnn.predict(net, bad, backend=backend.name, device=backend.device)) == (
        f"input must be real numbers (integer or floating); got dtype {bad.dtype}"
    )


def test_boolean_and_list_input(backend: Case, problem) -> None:
    """Booleans are 0 and 1; lists are NumPy arrays; both refuse normalize only when floating."""
    net, x, _ = problem
    placed = xpnn.to_backend(net, backend.name, backend.device)
    mask = x > 127
    expected = reference.forward(net, mask.astype(np.float64)).argmax(axis=1)
    for inp in (backend.asarray(mask), mask, mask.tolist()):
        np.testing.assert_array_equal(host(xpnn.predict(placed, inp), backend), expected)
        np.testing.assert_array_equal(
            host(xpnn.predict(placed, inp, normalize=True), backend) * 0, expected * 0
        )
    assert xpnn.accuracy(placed, mask.tolist(), expected.tolist()) == 1.0
    as_list = (x / 255.0).tolist()
    with pytest.raises(ValueError, match="normalize=True"):
        xpnn.predict(placed, as_list, normalize=True)


def test_softmax_of_one_row_and_of_one_input(backend: Case, problem) -> None:
    net, x, _ = problem
    placed = xpnn.to_backend(net, backend.name, backend.device)
    expected = reference.forward(net, x[:1] / 255.0, output=reference.softmax)
    p = xpnn.predict_proba(placed, backend.asarray(x[:1]), normalize=True)
    assert tuple(p.shape) == (1, N_OUT)
    np.testing.assert_allclose(host(p, backend), expected, rtol=1e-5)
    one = xpnn.predict_proba(placed, backend.asarray(x[0]), normalize=True)
    assert tuple(one.shape) == (N_OUT,)
    np.testing.assert_allclose(host(one, backend), expected[0], rtol=1e-5)


@pytest.mark.skip_backends("dask", reason="Dask names the first bad row of its chunk, tested above")
def test_the_non_finite_error_in_full(backend: Case, problem) -> None:
    net, x, t = problem
    x = (x / 255.0).astype(np.float32)
    x[5, 1] = np.nan
    placed = xpnn.to_backend(net, backend.name, backend.device)
    message = (
        "the network's output for input row {} is not finite (NaN or infinity):"
        " check that input and the weights for NaN or infinite values"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for batch_size in (None, 1, 2, 5, 6):
            assert _message(lambda b=batch_size: xpnn.predict(placed, backend.asarray(x), batch_size=b)) == (
                message.format(5)
            )
        assert _message(lambda: xpnn.predict(placed, backend.asarray(x[5]))) == message.format(0)
        assert _message(lambda: xpnn.accuracy(placed, backend.asarray(x[5]), t[5])) == message.format(0)


def test_default_batches_are_the_networks(problem, monkeypatch: pytest.MonkeyPatch) -> None:
    """batch_size=None: the network's default_batch_rows (1,024 on NumPy), the last batch partial."""
    net, x, _ = problem
    placed = xpnn.to_backend(net)
    big = np.tile(x, (250, 1))  # 2250 rows: 1024 + 1024 + 202
    rows: list[int] = []
    original = xpnn.Network.run

    def recording(self, batch, **kw):
        rows.append(int(batch.shape[0]))
        return original(self, batch, **kw)

    monkeypatch.setattr(xpnn.Network, "run", recording)
    y = xpnn.predict(placed, big, normalize=True)
    assert rows == [1024, 1024, 202]
    np.testing.assert_array_equal(y, np.tile(xpnn.predict(placed, x, normalize=True), 250))
    rows.clear()
    xpnn.predict(placed, big[:5], batch_size=2, normalize=True)
    assert rows == [2, 2, 1]
    rows.clear()
    xpnn.accuracy(placed, big[:5], np.zeros(5, dtype=int), batch_size=3, normalize=True)
    assert rows == [3, 2]


def test_progress_bar_counts_batches(problem, capsys: pytest.CaptureFixture[str]) -> None:
    net, x, t = problem
    for call in (xpnn.accuracy, xpnn.predict_proba):
        args = (net, x, t) if call is xpnn.accuracy else (net, x)
        call(*args, batch_size=4, progress=True, normalize=True)
        err = capsys.readouterr().err
        assert "3/3" in err and "batch/s" in err


def test_progress_without_tqdm(problem, monkeypatch: pytest.MonkeyPatch) -> None:
    net, x, _ = problem
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails
    assert _message(lambda: xpnn.predict(net, x, progress=True)) == (
        "progress=True needs tqdm: pip install tqdm (or pip install 'xpnn[progress]')"
    )
    xpnn.predict(net, x)  # without progress, tqdm is not needed
