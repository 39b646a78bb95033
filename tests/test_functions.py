"""The book's functions on every backend, against NumPy float64 references."""

from __future__ import annotations

import re

import numpy as np
import pytest
import reference
from conftest import Case, assert_close
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xpnn

FLOATS = ["float16", "float32", "float64"]
property_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_saturates_exactly_without_warnings(backend: Case, dtype: str) -> None:
    dt = backend.dtype(dtype)
    y = xpnn.sigmoid(backend.asarray([-1000.0, 0.0, 1000.0], dtype=dtype))
    assert y.dtype == dt
    np.testing.assert_array_equal(xpnn.to_numpy(y), np.array([0.0, 0.5, 1.0]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_matches_reference(backend: Case, dtype: str) -> None:
    x = np.linspace(-30, 30, 121)
    dt = backend.dtype(dtype)
    assert_close(
        xpnn.sigmoid(backend.asarray(x, dtype=dtype)), reference.sigmoid(x.astype(dtype)), backend, dtype=dt
    )


def test_softmax_book_example(backend: Case) -> None:
    x = np.array([0.3, 2.9, 4.0])
    y = xpnn.softmax(backend.asarray(x))
    assert_close(y, reference.softmax(x), backend)


def test_softmax_rows_are_independent_and_do_not_overflow(backend: Case) -> None:
    x = np.array([[1000.0, 1001.0, 1002.0], [1.0, 2.0, 3.0]])
    y = xpnn.softmax(backend.asarray(x))
    assert not np.isnan(xpnn.to_numpy(y)).any()
    assert_close(y, reference.softmax(x), backend)
    assert_close(backend.xp.sum(y, axis=-1), np.ones(2), backend)


def test_softmax_other_axis(backend: Case) -> None:
    x = np.arange(6.0).reshape(2, 3)
    assert_close(xpnn.softmax(backend.asarray(x), axis=0), reference.softmax(x.T).T, backend)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_step_function_keeps_floating_dtype(backend: Case, dtype: str) -> None:
    dt = backend.dtype(dtype)
    x = np.array([-2.0, -0.0, 0.0, 0.5, 3.0])
    y = xpnn.step_function(backend.asarray(x, dtype=dtype))
    assert_close(y, (x > 0).astype(np.float64), backend, dtype=dt)


def test_relu(backend: Case) -> None:
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    assert_close(xpnn.relu(backend.asarray(x, dtype="float32")), reference.relu(x), backend)


@pytest.mark.parametrize(
    "function, ref",
    [
        (xpnn.sigmoid, reference.sigmoid),
        (xpnn.relu, reference.relu),
        (xpnn.step_function, lambda x: (x > 0).astype(np.float64)),
        (xpnn.identity_function, lambda x: x.astype(np.float64)),
        (xpnn.softmax, reference.softmax),
    ],
)
def test_integer_input_is_cast_to_default_float(backend: Case, function, ref) -> None:
    x = np.array([[0, 1, 128, 255]], dtype=np.uint8)
    y = function(backend.asarray(x))
    assert_close(y, ref(x.astype(np.float64)), backend, dtype=backend.default_float)


def test_plain_lists_mean_numpy() -> None:
    y = xpnn.sigmoid([0.0, 1.0])
    assert isinstance(y, np.ndarray) and y.dtype == np.float64
    np.testing.assert_allclose(y, reference.sigmoid(np.array([0.0, 1.0])))


def test_affine_checks_shapes(backend: Case) -> None:
    x, W, b = backend.asarray(np.ones((4, 3))), backend.asarray(np.ones((2, 5))), backend.asarray(np.ones(5))
    with pytest.raises(ValueError) as e:
        xpnn.affine(x, W, b)
    # a bare affine names no layer: "in layer" belongs to a network's messages
    assert str(e.value) == "input of shape (4, 3) does not fit W of shape (2, 5): the last axis must be 2"
    with pytest.raises(ValueError, match=r"b must have shape \(5,\)"):
        xpnn.affine(backend.asarray(np.ones((4, 2))), W, backend.asarray(np.ones(4)))


def test_a_layer_that_does_not_chain_is_named(backend: Case) -> None:
    net = {"W1": np.ones((2, 3)), "b1": np.ones(3), "W2": np.ones((4, 2)), "b2": np.ones(2)}
    with pytest.raises(
        ValueError,
        match=r"^input of shape \(3,\) does not fit W2 of shape \(4, 2\) in layer 2: the last axis must be 4$",
    ):
        xpnn.forward(net, backend.asarray(np.ones((5, 2))), backend=backend.name)


@pytest.mark.parametrize("function", [xpnn.sigmoid, xpnn.relu, xpnn.softmax, xpnn.step_function])
def test_complex_input_is_a_type_error_naming_the_dtype(function) -> None:
    with pytest.raises(TypeError, match=r"^input must be real numbers .*; got dtype complex128: .*x\.real"):
        function(np.ones(3, dtype=np.complex128))


@pytest.mark.parametrize(
    "function", [xpnn.sigmoid, xpnn.relu, xpnn.softmax, xpnn.step_function, xpnn.identity_function]
)
def test_text_objects_and_complex_are_refused_not_converted(backend: Case, function) -> None:
    """Issue 26.2: NumPy's astype(float) would parse "0.5" and drop imaginary parts; xpnn refuses both."""
    bad = [(np.array(["0.5", "1"]), "parse it first"), (np.array([0.5, None]), "make a numeric array first")]
    if "complex64" in backend.xp.__array_namespace_info__().dtypes(device=backend.device):
        bad.append((backend.asarray([0.5, 1.0], dtype=np.complex64), r"pass x\.real"))
    for x, advice in bad:
        with pytest.raises(
            TypeError,
            match=rf"^input must be real numbers .*; got dtype {re.escape(str(x.dtype))}: .*{advice}",
        ):
            function(x)
    with pytest.raises(TypeError, match="got dtype <U3"):
        xpnn.cross_entropy_error(np.array(["0.5", "0.5"]), np.array([0, 1]))


def test_affine_matches_reference(backend: Case) -> None:
    rng = np.random.default_rng(1)
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    y = xpnn.affine(backend.asarray(x), backend.asarray(W), backend.asarray(b))
    assert_close(y, x @ W + b, backend)


rows = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
    elements=st.floats(-1e3, 1e3, allow_nan=False),
)


@property_settings
@given(x=rows, shift=st.floats(-100, 100))
def test_softmax_properties(backend: Case, x: np.ndarray, shift: float) -> None:
    y = xpnn.to_numpy(xpnn.softmax(backend.asarray(x, dtype="float32")))
    ys = xpnn.to_numpy(xpnn.softmax(backend.asarray(x + shift, dtype="float32")))
    tol = 64 * np.finfo(np.float32).eps
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=tol)
    assert (y >= 0).all() and (y <= 1).all()
    np.testing.assert_allclose(ys, y, atol=1e-4)  # shift invariance, up to the float32 rounding of x + shift
    # argmax preserved: the largest input has (one of) the largest probabilities
    top = np.take_along_axis(y, x.argmax(axis=-1)[:, None], axis=-1)[:, 0]
    np.testing.assert_array_equal(top, y.max(axis=-1))


@property_settings
@given(x=hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e4, 1e4, allow_nan=False)))
def test_sigmoid_properties(backend: Case, x: np.ndarray) -> None:
    x = np.sort(x)
    y = xpnn.to_numpy(xpnn.sigmoid(backend.asarray(x, dtype="float32")))
    assert ((y >= 0) & (y <= 1)).all()
    assert (np.diff(y) >= 0).all(), "sigmoid must be monotone"


def test_relu_keeps_nan(backend: Case) -> None:
    x = backend.asarray(np.array([np.nan, -1.0, 2.0]), dtype=np.float32)
    y = xpnn.to_numpy(xpnn.relu(x))
    assert np.isnan(y[0]) and y[1] == 0.0 and y[2] == 2.0


# --- mutation testing (nox -s mutation): labels given as Python ints and lists ----------------


@pytest.mark.parametrize(
    "y, t, expected",
    [
        ([0.1, 0.9], 1, -np.log(0.9 + 1e-7)),  # one output, one integer label
        ([0.1, 0.9], [0, 1], -np.log(0.9 + 1e-7)),  # one output, a one-hot list
        ([[0.1, 0.9], [0.8, 0.2]], [1, 0], -(np.log(0.9 + 1e-7) + np.log(0.8 + 1e-7)) / 2),  # a batch, a list
    ],
    ids=["1-d-int", "1-d-one-hot-list", "2-d-label-list"],
)
def test_cross_entropy_error_takes_python_labels(backend: Case, y: list, t: object, expected: float) -> None:
    dtype = backend.dtype("float32")
    out = xpnn.cross_entropy_error(backend.asarray(y, dtype=np.float32), t)
    assert_close(out, np.asarray(expected), backend, dtype=dtype, factor=64.0)


def test_cross_entropy_error_names_the_shapes_it_takes(backend: Case) -> None:
    y = backend.asarray([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], dtype=np.float32)
    with pytest.raises(ValueError) as e:
        xpnn.cross_entropy_error(y, backend.asarray([0, 1, 2]))
    assert str(e.value) == "t must be integer labels of shape (2,) or one-hot rows of shape (2, 3); got (3,)"


def test_one_hot_by_comparison_on_every_backend(backend: Case) -> None:
    t = backend.asarray(np.array([2, 0, 1, 2]))
    got = xpnn.functions.one_hot(t, 3, dtype=backend.default_float)
    assert_close(got, np.eye(3)[[2, 0, 1, 2]], backend, dtype=backend.default_float)
    rows = xpnn.functions.one_hot(got, 3, dtype=backend.default_float)  # already one-hot: kept
    assert_close(rows, np.eye(3)[[2, 0, 1, 2]], backend, dtype=backend.default_float)


def test_log_softmax_is_the_log_of_softmax_and_stays_finite(backend: Case) -> None:
    x = np.array([[0.3, 2.9, 4.0], [1000.0, 1001.0, -1000.0]])
    expected = x - x.max(axis=1, keepdims=True)
    expected = expected - np.log(np.exp(expected).sum(axis=1, keepdims=True))
    got = xpnn.functions.log_softmax(backend.asarray(x))
    assert_close(got, expected, backend)
