"""``xpnn.compile``: onnxruntime (NumPy session, with the ``onnx`` extra) and ``jax.jit`` (JAX session).

The contract is the same answers as ``forward``: equal predictions on the 10,000 test images and
probabilities within the dtype's tolerance, through ``predict``, ``predict_proba`` and ``accuracy``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import reference
from conftest import BOOK_ACCURACY, COMPILE_JAX, tolerance
from test_export import _need

import xpnn
from xpnn.export import _bucket


@pytest.fixture(scope="module")
def ort():
    for module in ("ndonnx", "onnx", "onnxscript"):
        _need(module)
    return _need("onnxruntime")


@pytest.fixture(scope="module")
def jax():
    if not COMPILE_JAX:
        pytest.skip("compile('jax') is tested in the JAX session")
    return pytest.importorskip("jax")


def _targets(request: pytest.FixtureRequest, target: str) -> None:
    request.getfixturevalue("ort" if target == "onnxruntime" else "jax")


@pytest.fixture(params=["onnxruntime", "jax"])
def target(request: pytest.FixtureRequest) -> str:
    _targets(request, request.param)
    return request.param


def test_books_network_on_the_test_set(target: str, real_data_dir: Path) -> None:
    """Predictions equal ``xpnn.predict``'s on all 10,000 images; probabilities within float32 tolerance."""
    x8, t = xpnn.load_mnist(normalize=False, split="test", data_dir=real_data_dir, download=False)
    net = xpnn.load_sample_network(real_data_dir, download=False)
    fast = xpnn.compile(net, target)
    assert isinstance(fast, xpnn.network.Runnable)
    labels = xpnn.to_numpy(xpnn.predict(fast, x8, normalize=True))
    np.testing.assert_array_equal(labels, xpnn.predict(net, x8, normalize=True))
    assert xpnn.accuracy(fast, x8, t, normalize=True, batch_size=999) == BOOK_ACCURACY
    proba = xpnn.to_numpy(xpnn.predict_proba(fast, x8, normalize=True))
    expected = reference.forward(net, x8 / 255.0, output=reference.softmax)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba, expected, rtol=tolerance("float32", 64), atol=tolerance("float32", 64))


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_same_answers_as_forward(target: str, activation: str) -> None:
    """A 4-layer float64 network: batches of 1 and 7 rows, one input, logits and softmax.

    The compute dtype is the weights' (float64), except on JAX without ``jax_enable_x64`` (float32).
    """
    net = reference.random_network((5, 8, 7, 6, 3), np.float64, seed=3)
    fast = xpnn.compile(net, target, activation=activation)
    hidden = reference.sigmoid if activation == "sigmoid" else reference.relu
    for rows in (1, 7):
        x = np.random.default_rng(rows).standard_normal((rows, 5))
        for output, out in (("identity", lambda a: a), ("softmax", reference.softmax)):
            y = xpnn.to_numpy(xpnn.forward(fast, x, output=output))
            assert str(y.dtype) == str(fast.dtype) and y.shape == (rows, 3)
            expected = reference.forward(net, x, hidden=hidden, output=out)
            rtol = tolerance(y.dtype, 64)
            np.testing.assert_allclose(y, expected, rtol=rtol, atol=rtol)
    one = xpnn.to_numpy(xpnn.forward(fast, x[0]))
    np.testing.assert_allclose(one, reference.forward(net, x[:1], hidden=hidden)[0], rtol=rtol, atol=rtol)


def test_activation_is_fixed_and_placement_refused(target: str) -> None:
    fast = xpnn.compile(xpnn.init_network(), target)
    with pytest.raises(ValueError, match="compiled with activation='sigmoid'.*compile it again"):
        xpnn.predict(fast, [[1.0, 0.5]], activation="relu")
    with pytest.raises(ValueError, match="last axis must be 2"):
        xpnn.predict(fast, [[1.0, 0.5, 0.0]])
    with pytest.raises(ValueError, match="runs on backend"):
        xpnn.predict(fast, [[1.0, 0.5]], backend="array_api_strict")


def test_unknown_target_and_options() -> None:
    with pytest.raises(ValueError, match="unknown compile target 'tvm'"):
        xpnn.compile(xpnn.init_network(), "tvm")


def test_onnxruntime_cuda_where_absent_is_a_clear_error(ort) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider: benchmarks/gpu_checks.sh runs it")
    with pytest.raises(xpnn.BackendUnavailableError, match="CUDA execution provider is not available"):
        xpnn.compile(xpnn.init_network(), "onnxruntime", provider="cuda")
    with pytest.raises(ValueError, match="unknown provider 'tpu'"):
        xpnn.compile(xpnn.init_network(), "onnxruntime", provider="tpu")
    with pytest.raises(xpnn.BackendUnavailableError, match="CUDA execution provider is not available"):
        xpnn.compile(xpnn.init_network(), "onnxruntime", device="cuda")


def test_onnxruntime_takes_device_as_the_provider(ort) -> None:
    fast = xpnn.compile(xpnn.init_network(), "onnxruntime", device="cpu")
    assert fast.provider == "cpu" and fast.session.get_providers()[0] == "CPUExecutionProvider"
    with pytest.raises(ValueError, match="device 'cpu' or 'cuda'.*got device='tpu'"):
        xpnn.compile(xpnn.init_network(), "onnxruntime", device="tpu")
    with pytest.raises(ValueError, match="device='cuda' contradicts provider='cpu'"):
        xpnn.compile(xpnn.init_network(), "onnxruntime", device="cuda", provider="cpu")


@pytest.mark.parametrize(
    ("module", "target", "install"), [("onnxruntime", "onnxruntime", "onnx"), ("jax", "jax", "jax")]
)
def test_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, module, target, install) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(xpnn.BackendUnavailableError, match=rf"pip install -e '\.\[{install}\]'"):
        xpnn.compile(xpnn.init_network(), target)


def test_buckets() -> None:
    assert [_bucket(n) for n in (1, 7, 8, 9, 10, 11, 13, 15, 16, 17)] == [1, 7, 8, 10, 10, 12, 14, 16, 16, 20]
    for n in range(1, 5000):
        assert n <= _bucket(n) <= max(8, n * 1.25)
    assert len({_bucket(n) for n in range(1, 10_001)}) <= 8 + 4 * 11


def test_jax_compiles_once_per_bucket(jax) -> None:
    """A run of odd batch sizes compiles the forward a bounded number of times, counted by JAX itself."""
    net = reference.random_network((5, 8, 3), np.float32, seed=4)
    fast = xpnn.compile(net, "jax")
    x = np.random.default_rng(0).standard_normal((200, 5)).astype(np.float32)
    sizes = [100, 37, *range(9, 200, 6)]  # two exact sizes, then 32 odd ones
    for n in sizes:
        y = xpnn.to_numpy(xpnn.forward(fast, x[:n]))
        np.testing.assert_allclose(y, reference.forward(net, x[:n]), rtol=tolerance("float32", 64), atol=1e-6)
    buckets = {_bucket(n) for n in sizes[2:] if n not in (100, 37)}
    assert fast.compiles == fast._forward._cache_size() == 2 + len(buckets)
    assert fast.compiles < 20  # against 34 sizes
    before = fast.compiles
    xpnn.predict(fast, x, batch_size=50)  # 4 batches of 50, padded to 56: compiled already
    assert fast.compiles == before


def test_a_relu_network_compiles_with_its_own_activation(target: str) -> None:
    """A Network trained (or placed) with ReLU compiles as ReLU, not sigmoid; a contradiction is refused."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 5))
    t = rng.integers(0, 3, 16)
    start = reference.random_network((5, 8, 3), np.float64, seed=4)
    trained, _ = xpnn.train(start, x, t, activation="relu", iters=2, batch_size=8, progress=False)
    assert trained.activation == "relu"
    weights = {k: xpnn.to_numpy(v) for k, v in trained.items()}
    expected = reference.forward(weights, x, hidden=reference.relu)
    assert not np.allclose(expected, reference.forward(weights, x, hidden=reference.sigmoid))
    for net in (trained, xpnn.to_backend(weights, activation="relu")):
        fast = xpnn.compile(net, target)
        assert fast.activation == "relu"
        y = xpnn.to_numpy(xpnn.forward(fast, x))
        rtol = tolerance(y.dtype, 64)
        np.testing.assert_allclose(y, expected, rtol=rtol, atol=rtol)
        with pytest.raises(ValueError, match="own activation is 'relu'.*got activation='sigmoid'"):
            xpnn.compile(net, target, activation="sigmoid")


def test_a_dask_input_is_computed_eagerly(ort) -> None:
    """As the README says: a compiled network computes a Dask input at once (no lazy result)."""
    da = pytest.importorskip("dask.array", reason="dask not installed")
    x = np.random.default_rng(6).standard_normal((10, 2))
    fast = xpnn.compile(xpnn.init_network(), "onnxruntime")
    for function in (xpnn.forward, xpnn.predict, xpnn.predict_proba):
        y = function(fast, da.from_array(x, chunks=4))
        assert isinstance(y, np.ndarray)
        np.testing.assert_array_equal(y, function(fast, x))
