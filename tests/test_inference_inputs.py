"""What inference refuses (issue 8, item 6), and every entry point's input check (issues 26, 25)."""

from __future__ import annotations

import re
import sys
import warnings
from typing import Any

import numpy as np
import pytest
import reference
from conftest import Case, host, names_the_caller

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
        (lambda t: t.reshape(9, 1, 1), r"9 inputs but labels of shape \(9, 1, 1\)"),
    ],
)
def test_bad_labels_are_named(backend: Case, problem, make, message: str) -> None:
    net, x, t = problem
    with pytest.raises(ValueError, match=message):
        _accuracy(backend, net, backend.asarray(x), make(t))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: t.astype(bool), r"dtype bool: labels must be integer class indices"),
        (lambda t: t.astype(str), r"dtype <U\d+: labels must be integer class indices"),
    ],
)
def test_labels_that_are_not_numbers_are_a_type_error(backend: Case, problem, make, message: str) -> None:
    """The label check of train too (one validator): a dtype that is not class indices is a TypeError."""
    net, x, t = problem
    with pytest.raises(TypeError, match=message + r".*convert them, e\.g\. t\.astype\(int\)$"):
        _accuracy(backend, net, backend.asarray(x), make(t))


def test_bool_one_hot_rows_are_labels(backend: Case, problem) -> None:
    """True/False one-hot rows are 1/0 rows: accuracy takes them, as train always did."""
    net, x, t = problem
    assert _accuracy(backend, net, backend.asarray(x), np.eye(N_OUT, dtype=bool)[t]) == 1.0


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
        (t.astype(bool), "labels of shape (9,) and dtype bool: labels must be integer class indices (or one-hot rows of 0 and 1): convert them, e.g. t.astype(int)"),
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
        "input must be real numbers (bool, integer or floating); got dtype complex64: xpnn does not drop"
        " the imaginary part for you: pass x.real (or abs(x)) if that is what you mean"
    )
    assert _message(lambda: xpnn.predict(net, (x / 255.0).astype(np.float32), normalize=True)) == (
        "normalize=True divides integer images (uint8, 0..255) by 255, but the input is already float32:"
        " leave normalize out for floating input"
    )
    assert _message(lambda: xpnn.predict(net, x[None, ...], normalize=True)) == (
        "input must be one image (n_in,) or a batch (N, n_in); got shape (1, 9, 6)"
    )
    assert _message(lambda: xpnn.accuracy(net, x[:0], t[:0], normalize=True)) == (
        "accuracy of no inputs is undefined: give at least one input and its label"
    )
    for bad in (0, -1, 2.0, True, np.True_, "4"):
        assert _message(lambda bad=bad: xpnn.predict(net, x, batch_size=bad, normalize=True)) == (
            f"batch_size must be a positive integer or None (the default); got {bad!r}"
        )


def test_complex_backend_input_in_full(backend: Case, problem) -> None:
    net, x, _ = problem
    if "complex64" not in backend.xp.__array_namespace_info__().dtypes(device=backend.device):
        pytest.skip(f"{backend.name} has no complex64")
    bad = backend.xp.asarray(x.astype(np.complex64), device=backend.device)
    assert _message(lambda: xpnn.predict(net, bad, backend=backend.name, device=backend.device)) == (
        f"input must be real numbers (bool, integer or floating); got dtype {bad.dtype}: xpnn does not"
        " drop the imaginary part for you: pass x.real (or abs(x)) if that is what you mean"
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
    assert _message(lambda: xpnn.predict(net, x, progress=True, normalize=True)) == (
        "progress=True needs the `progress` extra: pip install 'xpnn[progress]' (in a clone:"
        " pip install -e '.[progress]'); tqdm cannot be imported here (import of tqdm.auto halted; None in sys.modules)"
    )
    xpnn.predict(net, x, normalize=True)  # without progress, tqdm is not needed


# --- Issue 26.2: one check of real numbers at every entry point -----------------------------------


def _every_entry_point(backend: Case, net: xpnn.Network, t: np.ndarray) -> dict:
    """Each public call that takes input ``x``, as ``name: call(x)``, on ``net``'s backend."""
    calls = {
        "forward": lambda x: xpnn.forward(net, x),
        "predict": lambda x: xpnn.predict(net, x),
        "predict_proba": lambda x: xpnn.predict_proba(net, x),
        "accuracy": lambda x: xpnn.accuracy(net, x, t),
        **{f.__name__: f for f in FUNCTIONS},
    }
    if backend.name != "dask":  # training refuses Dask arrays before it looks at them
        calls.update(
            train=lambda x: xpnn.train(net, x, t, iters=1, batch_size=3),
            loss=lambda x: xpnn.loss(net, x, t),
            gradient=lambda x: xpnn.gradient(net, x, t),
            numerical_gradient=lambda x: xpnn.numerical_gradient(net, x, t),
        )
    return calls


FUNCTIONS = (xpnn.sigmoid, xpnn.relu, xpnn.softmax, xpnn.step_function, xpnn.identity_function)


def _not_real_inputs(backend: Case, x: np.ndarray) -> list[tuple[Any, str]]:
    """Inputs that are not real numbers, each with the advice its TypeError must give."""
    scaled = x / 255.0
    bad: list[tuple[Any, str]] = [
        (scaled.astype(str), "parse it first"),  # text: NumPy's astype(float) would parse it silently
        (scaled.astype(object), "make a numeric array first"),  # objects: NaN out of the book's loop
        (np.array([[0.5, None, 0.5, 0.5, 0.5, 0.5]]), "make a numeric array first"),
    ]
    if "complex64" in backend.xp.__array_namespace_info__().dtypes(device=backend.device):
        complex_x = backend.xp.asarray(scaled.astype(np.complex64), device=backend.device)
        bad.append((complex_x, r"pass x\.real \(or abs\(x\)\)"))  # not the imaginary part dropped
    return bad


def test_every_entry_point_refuses_what_is_not_real_numbers(backend: Case, problem) -> None:
    net, x, t = problem
    placed = xpnn.to_backend(net, backend.name, backend.device)
    for bad, advice in _not_real_inputs(backend, x):
        dtype = re.escape(str(bad.dtype))
        message = (
            rf"^(input|x) must be real numbers \(bool, integer or floating\); got dtype {dtype}: .*{advice}"
        )
        for name, call in _every_entry_point(backend, placed, t[: bad.shape[0]]).items():
            with pytest.raises(TypeError, match=message):
                call(bad)
                pytest.fail(f"{name} took input of dtype {dtype}")


# --- Issue 26.3: the book reader's slips, named ------------------------------------------------------

LOAD_MNIST_HINT = "load_mnist returns two pairs: (x_train, t_train), (x_test, t_test) = xpnn.load_mnist()"


def test_load_mnists_pairs_in_place_of_images_are_named(backend: Case, problem) -> None:
    """``x, t = xpnn.load_mnist()`` gives two (images, labels) pairs, not images and labels."""
    net, x, t = problem
    placed = xpnn.to_backend(net, backend.name, backend.device)
    train_pair = (backend.asarray(x), backend.asarray(t))
    test_pair = [backend.asarray(x[:4]), backend.asarray(t[:4])]  # a list, as a user may build one
    pair = re.escape(f"is a pair (images of shape {x.shape}, labels of shape {t.shape}), not an array")
    for name, call in _every_entry_point(backend, placed, test_pair).items():  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=f"{pair}.*: {re.escape(LOAD_MNIST_HINT)}$"):
            call(train_pair)
            pytest.fail(f"{name} took a pair")
    whole = "is load_mnist\\(\\)'s whole result, two \\(images, labels\\) pairs"
    for name, call in _every_entry_point(backend, placed, test_pair).items():  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=f"{whole}.*{re.escape(LOAD_MNIST_HINT)}$"):
            call((train_pair, test_pair))
            pytest.fail(f"{name} took load_mnist()'s result")


def test_images_that_are_not_flat_rows_say_how_to_flatten(backend: Case) -> None:
    """``(N, 28, 28)`` or ``(N, 1, 28, 28)`` images, ``load_mnist(flatten=False)``, meet an MLP."""
    net = xpnn.to_backend(
        reference.random_network((784, 3, 2), np.float32, seed=3), backend.name, backend.device
    )
    images = np.random.default_rng(4).random((4, 28, 28)).astype(np.float32)
    flatten = r"flatten the images with x\.reshape\(len\(x\), -1\), or load them flat with xpnn\.load_mnist\(flatten=True\)$"
    t = np.zeros(4, dtype=np.int64)
    for shape in ((4, 28, 28), (4, 1, 28, 28)):
        x = backend.asarray(images.reshape(shape))
        calls = {
            "forward": lambda x: xpnn.forward(net, x),
            "predict": lambda x: xpnn.predict(net, x),
            "predict_proba": lambda x: xpnn.predict_proba(net, x),
            "accuracy": lambda x: xpnn.accuracy(net, x, t),
            "train": lambda x: xpnn.train(net, x, t, iters=1),
        }
        if backend.name != "dask":
            calls["loss"] = lambda x: xpnn.loss(net, x, t)
        for name, call in calls.items():
            with pytest.raises(ValueError, match=re.escape(str(shape)) + r".*\(N, 784\); " + flatten):
                call(x)
                pytest.fail(f"{name} took shape {shape}")
    one = backend.asarray(images[0])
    for call in (xpnn.forward, xpnn.predict, xpnn.predict_proba):
        with pytest.raises(
            ValueError, match=r"flatten this one image with x\.reshape\(-1\) \(shape \(784,\)\)$"
        ):
            call(net, one)


# --- Issue 25.3: raw pixels without normalize warn, once per call, unless normalize=False is said ----


def _pixel_warnings(call) -> list[warnings.WarningMessage]:
    """The warnings about raw pixels that ``call()`` gives (any other warning stays an error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error")
        warnings.filterwarnings("always", category=UserWarning, message=".*normalize=True")
        call()
    return caught


def test_raw_pixels_warn_once_per_call_unless_normalize_is_said(backend: Case, problem) -> None:
    net, x, t = problem
    placed = xpnn.to_backend(net, backend.name, backend.device)
    raw = {"uint8": backend.asarray(x), "uint8 on the host": x, "a list": x.tolist()}
    if backend.name != "dask":  # Dask arrays are not computed to look at them: floats are not seen
        raw["floats in [0, 255]"] = backend.asarray(x.astype(np.float32))
    calls = {
        "predict": lambda x, **kw: xpnn.predict(placed, x, **kw),
        "predict_proba": lambda x, **kw: xpnn.predict_proba(placed, x, **kw),
        "accuracy": lambda x, **kw: xpnn.accuracy(placed, x, t, **kw),
    }
    for what, inp in raw.items():
        for name, call in calls.items():
            caught = _pixel_warnings(
                lambda call=call, inp=inp: call(inp, batch_size=2)
            )  # 5 batches, one warning
            assert len(caught) == 1, f"{name} on {what}: {len(caught)} warnings"
            assert caught[0].category.__name__ == "UnscaledInputWarning"
            assert names_the_caller(caught[0], __file__), "the warning names the caller's line"
            assert "pixels in [0, 1]" in str(caught[0].message)
            call(inp, normalize=False)  # "I know": silent (warnings are errors here)
    assert xpnn.UnscaledInputWarning.__mro__[1] is UserWarning
    quiet = {
        "pixels in [0, 1]": backend.asarray(x / 255.0, dtype=np.float32),
        "standardized": backend.asarray((x - 127.5) / 64.0, dtype=np.float32),  # above 1, and below 0
        "booleans": backend.asarray(x > 127),
        "no rows": backend.asarray(x[:0]),
    }
    for name, call in calls.items():
        for inp in quiet.values():
            if name != "accuracy" or inp.shape[0]:
                call(inp)
        call(backend.asarray(x), normalize=True)


def test_the_raw_pixel_warning_in_full(problem) -> None:
    net, _, _ = problem
    x = np.array([[0, 255, 1, 2, 3, 4]], dtype=np.uint8)
    with pytest.warns(xpnn.UnscaledInputWarning) as caught:
        xpnn.predict(net, x)
    assert str(caught[0].message) == (
        "input of dtype uint8 holds values up to 255, but the network takes pixels in [0, 1], as"
        " load_mnist(normalize=True) gives them; raw pixels cost accuracy without an error. Pass"
        " normalize=True to divide integer images by 255 on the device (floats: divide them"
        " yourself), or normalize=False to say the network takes these values as they are."
    )
    with pytest.warns(
        xpnn.UnscaledInputWarning, match=r"^input of dtype float64 holds values up to 255 and none below 0, "
    ):
        xpnn.predict(net, x.astype(np.float64))


@pytest.mark.sessions("dask")
def test_dask_input_warns_on_its_dtype_without_computing(problem) -> None:
    da = pytest.importorskip("dask.array", reason="needs dask")
    net, x, _ = problem

    def never(block: np.ndarray) -> np.ndarray:
        raise AssertionError("the input's graph was computed")

    for dtype, warns in ((np.uint8, True), (np.float32, False)):
        lazy = da.from_array(x.astype(dtype), chunks=(3, -1)).map_blocks(
            never, dtype=dtype, meta=np.empty((0, 0), dtype=dtype)
        )
        caught = _pixel_warnings(lambda lazy=lazy: xpnn.predict(net, lazy))
        assert len(caught) == int(warns)
        if warns:
            assert "is a Dask array of uint8" in str(caught[0].message)


@pytest.mark.skip_backends("dask", reason="xpnn does not train on Dask arrays")
def test_training_on_raw_pixels_warns_once(backend: Case, problem) -> None:
    net, x, t = problem
    raw = backend.asarray(x)
    kw = {"epochs": 3, "batch_size": 3, "x_test": raw, "t_test": t}  # 9 iterations, 6 accuracies
    caught = _pixel_warnings(lambda: xpnn.train(net, raw, t, **kw))
    assert len(caught) == 1 and names_the_caller(caught[0], __file__)
    message = str(caught[0].message)
    assert (
        message.startswith("x of dtype ")
        and "train has no normalize: divide by 255 first (x / 255)" in message
    )
    assert message.endswith(
        "to train on these values on purpose, warnings.simplefilter('ignore', xpnn.UnscaledInputWarning)"
    )
    scaled = backend.asarray(x / 255.0, dtype=np.float32)
    test_only = _pixel_warnings(lambda: xpnn.train(net, scaled, t, **kw))  # x scaled, x_test raw
    assert len(test_only) == 1 and str(test_only[0].message).startswith("x_test of dtype ")
    xpnn.train(net, scaled, t, epochs=1)  # silent
    with warnings.catch_warnings():  # the documented way to train on raw values on purpose
        warnings.simplefilter("ignore", xpnn.UnscaledInputWarning)
        xpnn.train(net, raw, t, epochs=1)
