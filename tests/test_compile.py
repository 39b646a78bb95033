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
from xpnn.export._jax import _bucket


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


#: The compile targets; jax's tests also run in the JAX session (conftest's sessions mark).
TARGETS = ["onnxruntime", pytest.param("jax", marks=pytest.mark.sessions("jax"))]


@pytest.fixture(params=TARGETS)
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
    with pytest.raises(
        ValueError,
        match=r"^this network was compiled with activation='sigmoid'; got activation='relu':"
        r" compile it again with activation='relu'$",
    ):
        xpnn.predict(fast, [[1.0, 0.5]], activation="relu")
    xpnn.predict(fast, [[1.0, 0.5]], activation="sigmoid")  # the one it was compiled with
    with pytest.raises(ValueError, match="last axis must be 2"):
        xpnn.predict(fast, [[1.0, 0.5, 0.0]])
    with pytest.raises(ValueError, match="runs on backend"):
        xpnn.predict(fast, [[1.0, 0.5]], backend="array_api_strict")


def test_activation_names_are_case_insensitive(target: str) -> None:
    """``compile(net, target, activation="ReLU")`` is the ReLU network; ``forward(..., activation="RELU")`` agrees."""
    net = reference.random_network((5, 8, 3), np.float64, seed=4)
    x = np.random.default_rng(5).standard_normal((16, 5))
    fast = xpnn.compile(net, target, activation="ReLU")
    assert fast.activation == "relu"
    y = xpnn.to_numpy(xpnn.forward(fast, x, activation="RELU"))
    rtol = tolerance(y.dtype, 64)
    np.testing.assert_allclose(y, reference.forward(net, x, hidden=reference.relu), rtol=rtol, atol=rtol)


def test_unknown_target_and_options() -> None:
    with pytest.raises(ValueError, match="^unknown compile target 'tvm'; choose 'onnxruntime' or 'jax'$"):
        xpnn.compile(xpnn.init_network(), "tvm")


def test_onnxruntime_cuda_where_absent_is_a_clear_error(ort) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider: benchmarks/gpu_checks.sh runs it")
    absent = (
        "onnxruntime's CUDA execution provider is not available here (this onnxruntime has"
        f" {ort.get_available_providers()}): install onnxruntime-gpu on a machine with an NVIDIA GPU,"
        " or use provider='cpu'"
    )
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        xpnn.compile(xpnn.init_network(), "onnxruntime", provider="cuda")
    assert str(caught.value) == absent
    with pytest.raises(ValueError, match=r"^unknown provider 'tpu'; choose 'cpu' or 'cuda'$"):
        xpnn.compile(xpnn.init_network(), "onnxruntime", provider="tpu")
    for device in ("cuda", "CUDA", "cuda:0", "gpu"):
        with pytest.raises(xpnn.BackendUnavailableError) as caught:
            xpnn.compile(xpnn.init_network(), "onnxruntime", device=device)
        assert str(caught.value) == absent


def test_onnxruntime_takes_device_as_the_provider(ort) -> None:
    for device, provider in (("cpu", None), ("CPU", "cpu"), (None, "cpu"), (None, None)):
        fast = xpnn.compile(xpnn.init_network(), "onnxruntime", device=device, provider=provider)
        assert fast.provider == "cpu" and fast.session.get_providers() == ["CPUExecutionProvider"]
    with pytest.raises(
        ValueError,
        match=r"^onnxruntime runs on device 'cpu' or 'cuda' \(its CUDA execution provider, GPU 0\); got device='tpu'$",
    ):
        xpnn.compile(xpnn.init_network(), "onnxruntime", device="tpu")
    for device, provider in (("cuda", "cpu"), ("cpu", "cuda")):
        with pytest.raises(
            ValueError, match=rf"^device='{device}' contradicts provider='{provider}': give one of them$"
        ):
            xpnn.compile(xpnn.init_network(), "onnxruntime", device=device, provider=provider)


def test_onnxruntime_threads(ort) -> None:
    """``threads`` sets onnxruntime's intra-op threads; the default leaves its own choice (0)."""
    assert (
        xpnn.compile(xpnn.init_network(), "onnxruntime").session.get_session_options().intra_op_num_threads
        == 0
    )
    fast = xpnn.compile(xpnn.init_network(), "onnxruntime", threads=2)
    assert fast.session.get_session_options().intra_op_num_threads == 2
    np.testing.assert_array_equal(
        xpnn.predict(fast, [[1.0, 0.5]]), xpnn.predict(xpnn.init_network(), [[1.0, 0.5]])
    )


@pytest.mark.parametrize(
    ("module", "target", "install"), [("onnxruntime", "onnxruntime", "onnx"), ("jax", "jax", "jax")]
)
def test_missing_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, module, target, install) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(xpnn.BackendUnavailableError) as caught:
        xpnn.compile(xpnn.init_network(), target)
    assert str(caught.value) == (
        f"compile(net, {target!r}) needs the `{install}` extra: pip install 'xpnn[{install}]' (in a clone:"
        f" pip install -e '.[{install}]'); {module} cannot be imported here (import of {module} halted;"
        " None in sys.modules)"
    )


def test_buckets() -> None:
    assert [_bucket(n) for n in (0, 1, 7, 8, 9, 10, 11, 13, 15, 16, 17)] == [
        1,
        1,
        7,
        8,
        10,
        10,
        12,
        14,
        16,
        16,
        20,
    ]
    for n in range(1, 5000):
        assert n <= _bucket(n) <= max(8, n * 1.25)
    assert len({_bucket(n) for n in range(1, 10_001)}) <= 8 + 4 * 11


@pytest.mark.sessions("jax")
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


def test_repr_and_shape_attributes(target: str) -> None:
    """The repr names the sizes, dtype, activation and where it runs; n_in and n_out are the network's."""
    net = reference.random_network((5, 8, 7, 6, 3), np.float32, seed=3)
    fast = xpnn.compile(net, target, activation="relu")
    assert (fast.n_in, fast.n_out, fast.activation, str(fast.dtype)) == (5, 3, "relu", "float32")
    where = "provider='cpu'" if target == "onnxruntime" else f"device={fast.device!r}"
    name = "OnnxRuntimeNetwork" if target == "onnxruntime" else "JaxNetwork"
    assert repr(fast) == f"{name}(5-8-7-6-3, dtype=float32, activation='relu', {where})"
    assert repr(xpnn.compile(xpnn.init_network(), target)).endswith("activation='sigmoid', " + where + ")")
    x = np.random.default_rng(0).standard_normal((4, 5))
    with pytest.raises(ValueError, match=r"label 3 at index 1 is not a class index in \[0, 3\)"):
        xpnn.accuracy(fast, x, [0, 3, 1, 2])
    with pytest.raises(ValueError, match="one-hot rows must have the network's 3 outputs"):
        xpnn.accuracy(fast, x, np.eye(4))


def test_compiled_input_and_output_checks(target: str) -> None:
    """A scalar input, a wrong width and an unknown output are ValueErrors; ``output`` may be a function."""
    fast = xpnn.compile(xpnn.init_network(), target)
    fits = "this network" if target == "onnxruntime" else r"W1 of shape \(2, 3\)"
    with pytest.raises(
        ValueError, match=rf"^input of shape \(1, 3\) does not fit {fits}: the last axis must be 2$"
    ):
        xpnn.forward(fast, [[1.0, 0.5, 0.0]])
    with pytest.raises(
        ValueError, match=rf"^input of shape \(\) does not fit {fits}: the last axis must be 2$"
    ):
        xpnn.forward(fast, 1.0)
    with pytest.raises(
        ValueError, match=r"^unknown output 'max'; choose one of \['identity', 'softmax'\] or pass"
    ):
        xpnn.forward(fast, [[1.0, 0.5]], output="max")
    x = np.array([[1.0, 0.5], [-1.0, 2.0]])
    expected = reference.forward(xpnn.init_network(), x)
    rtol = tolerance(fast.dtype, 64)
    np.testing.assert_allclose(
        xpnn.to_numpy(xpnn.forward(fast, x, output=lambda a: a * 2.0)), expected * 2.0, rtol=rtol
    )
    one = xpnn.to_numpy(xpnn.forward(fast, x[1], output="softmax"))
    np.testing.assert_allclose(one, reference.softmax(expected)[1], rtol=rtol)
    assert xpnn.to_numpy(xpnn.forward(fast, np.zeros((0, 2)))).shape == (0, 2)


@pytest.mark.sessions("jax")
def test_jax_exact_shapes_then_buckets(jax) -> None:
    """The first ``exact_shapes`` batch sizes compile as they are; later ones are padded to a bucket."""
    net = reference.random_network((5, 8, 3), np.float32, seed=4)
    x = np.random.default_rng(0).standard_normal((12, 5)).astype(np.float32)
    for exact, compiles in ((2, [1, 2, 3, 3, 3]), (3, [1, 2, 3, 4, 4]), (0, [1, 2, 3, 3, 3])):
        fast = xpnn.compile(net, "jax", exact_shapes=exact)
        counts = []
        for n in (3, 5, 11, 12, 3):  # exact_shapes=0: 3 -> 3, 5 -> 5, 11 and 12 -> 12, 3 -> 3
            y = xpnn.to_numpy(xpnn.forward(fast, x[:n]))
            assert y.shape == (n, 3)
            np.testing.assert_allclose(
                y, reference.forward(net, x[:n]), rtol=tolerance("float32", 64), atol=1e-6
            )
            counts.append(fast.compiles)
        assert counts == compiles, exact


@pytest.mark.sessions("jax")
def test_jax_padding_keeps_the_dtype(jax) -> None:
    """A float16 network's padded batch stays float16 (the padding rows take the input's dtype)."""
    net = reference.random_network((5, 8, 3), np.float32, seed=4)
    fast = xpnn.compile(net, "jax", dtype="float16", exact_shapes=0)
    assert str(fast.dtype) == "float16"
    x = np.random.default_rng(1).standard_normal((11, 5))
    y = xpnn.forward(fast, x)
    assert str(y.dtype) == "float16" and y.shape == (11, 3)
    np.testing.assert_allclose(xpnn.to_numpy(y), reference.forward(net, x), rtol=5e-3, atol=5e-3)


@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool"])
def test_a_non_floating_dtype_is_refused(target: str, dtype: str) -> None:
    """Issue 24: compile(net, "jax", dtype="int32") truncated every weight (100/100 predictions changed)."""
    with pytest.raises(ValueError) as e:
        xpnn.compile(xpnn.init_network(), target, dtype=dtype)
    assert str(e.value) == (
        f"dtype must be a real floating dtype (float32, float64, float16); got {dtype}: weights are"
        " floating, and an integer or bool dtype would truncate every weight"
    )


def test_dtype_chooses_the_compute_dtype(target: str) -> None:
    net = reference.random_network((4, 5, 3), np.float64, seed=2)
    fast = xpnn.compile(net, target, dtype="float32")
    assert str(fast.dtype).endswith("float32")
    x = np.random.default_rng(3).standard_normal((6, 4))
    proba = xpnn.to_numpy(xpnn.predict_proba(fast, x))
    assert proba.dtype == np.float32
    expected = reference.forward(net, x, output=reference.softmax)
    np.testing.assert_allclose(proba, expected, rtol=tolerance("float32", 64), atol=tolerance("float32", 64))


def test_non_finite_weights_are_refused_as_export_refuses_them(target: str) -> None:
    """Attack finding 11: compile ran NaN weights that export_onnx refuses; now both, with one escape."""
    net = reference.random_network((3, 4, 2), np.float32, seed=1)
    net["W2"] = net["W2"].copy()
    net["W2"][2, 1] = np.nan
    with pytest.raises(ValueError) as e:
        xpnn.compile(net, target)
    assert str(e.value) == (
        "weight W2 holds 1 non-finite value(s) (NaN or infinity; the first at index (2, 1)): every output"
        " of the compiled network would be NaN or meaningless. Fix the weights, or pass"
        " allow_nonfinite=True to compile them anyway"
    )
    fast = xpnn.compile(net, target, allow_nonfinite=True)  # the escape, as export_onnx's
    y = np.asarray(fast.run(fast.prepare_input(np.ones((2, 3)))))
    assert not np.isfinite(y[:, 1]).any()


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")
def test_the_one_dtype_rule(target: str) -> None:
    """longdouble and non-dtypes are refused as to_backend refuses them; other libraries' dtypes are read."""
    net = xpnn.init_network()
    for dtype in ("longdouble", np.longdouble):
        with pytest.raises(
            ValueError, match=r"^dtype must be a real floating dtype .*got float128: xpnn computes in"
        ):
            xpnn.compile(net, target, dtype=dtype)
    with pytest.raises(TypeError, match="a dtype object or its name; got object"):
        xpnn.compile(net, target, dtype=object())
    assert str(xpnn.compile(net, target, dtype=np.dtype(">f4")).dtype) == "float32"


# --- issue 20: layer networks (the book's CNNs, ch. 6 nets) on onnxruntime ---------------------


@pytest.mark.parametrize("name", ["SimpleConvNet", "DeepConvNet", "MultiLayerNet", "MultiLayerNetExtend"])
def test_a_compiled_layer_network_answers_as_the_reference(target: str, name: str) -> None:
    """predict, predict_proba, forward and one image through the Runnable protocol."""
    from test_export import LAYER_NETWORKS, _layer_reference

    net = LAYER_NETWORKS[name]()
    fast = xpnn.compile(net, target)
    assert isinstance(fast, xpnn.network.Runnable)
    assert (fast.n_in, fast.n_out, fast.activation) == (net.n_in, net.n_out, None)
    assert fast.default_batch_rows is not None  # a CNN's intermediate values grow with the batch
    dtype = str(fast.dtype).rsplit(".", 1)[-1]
    x = np.random.default_rng(8).standard_normal((9, *net.n_in))
    expected = _layer_reference(net, x.astype(dtype))
    rtol = tolerance(dtype, 256)
    atol = rtol * np.abs(expected).max()
    for rows in (4, 5, 9):  # on JAX the third size is padded up to a bucket
        labels = xpnn.to_numpy(xpnn.predict(fast, x, batch_size=rows))
        np.testing.assert_array_equal(labels, np.argmax(expected, axis=1))
    proba = xpnn.to_numpy(xpnn.predict_proba(fast, x))
    assert str(proba.dtype) == dtype
    np.testing.assert_allclose(proba, reference.softmax(expected), rtol=rtol, atol=rtol)
    one = xpnn.to_numpy(xpnn.forward(fast, x[0]))
    np.testing.assert_allclose(one, expected[0], rtol=rtol, atol=atol)
    kinds = "-".join(layer.kind for layer in net.layers)
    where = "provider='cpu'" if target == "onnxruntime" else f"device={fast.device!r}"
    kind = "OnnxRuntimeNetwork" if target == "onnxruntime" else "JaxNetwork"
    assert repr(fast) == f"{kind}({kinds}, input_shape={net.n_in}, dtype={fast.dtype}, {where})"


def test_a_compiled_layer_network_refuses_as_the_network_does(ort) -> None:
    net = xpnn.SimpleConvNet(seed=0)
    fast = xpnn.compile(net, "onnxruntime")
    assert str(fast.dtype) == "float32"  # onnxruntime's CPU Conv is float32 only
    with pytest.raises(ValueError, match=r"flat images: load_mnist\(flatten=False\)"):
        xpnn.predict(fast, np.zeros((2, 784)))
    with pytest.raises(ValueError, match=r"^activation='relu' does not apply to a layer network"):
        xpnn.predict(fast, np.zeros((2, 1, 28, 28)), activation="relu")
    with pytest.raises(ValueError, match=r"^activation='relu' does not apply to a layer network"):
        xpnn.compile(net, "onnxruntime", activation="relu")
    with pytest.raises(
        ValueError,
        match=r"^onnxruntime's CPU provider runs a convolution only in float32; got dtype='float64'",
    ):
        xpnn.compile(net, "onnxruntime", dtype="float64")
    bad = net.replace({"b1": xpnn.asarray(np.full(30, np.inf))})
    with pytest.raises(
        ValueError, match=r"^weight b1 holds 30 non-finite .* compiled network.* to compile them"
    ):
        xpnn.compile(bad, "onnxruntime")


@pytest.mark.parametrize("name", ["simple_convnet", "deep_convnet"])
def test_the_books_convnets_compiled_on_the_test_set(ort, real_data_dir: Path, name: str) -> None:
    """The book's trained CNNs on onnxruntime: xpnn's predictions image by image, so the book's accuracy."""
    from test_convnet import BOOK_CONVNET_ACCURACY, FILES

    if not (real_data_dir / "weights" / FILES[name]).is_file():
        pytest.skip(f"{real_data_dir}/weights lacks {FILES[name]}")
    x8, t = xpnn.load_mnist(
        normalize=False, flatten=False, split="test", data_dir=real_data_dir, download=False
    )
    net = xpnn.load_sample_network(real_data_dir, name=name, download=False)
    fast = xpnn.compile(net, "onnxruntime")
    expected = xpnn.predict(net, x8, normalize=True)  # xpnn on NumPy, in the network's float64
    np.testing.assert_array_equal(xpnn.predict(fast, x8, normalize=True), expected)
    accuracy = xpnn.accuracy(fast, x8, t, normalize=True)
    assert accuracy == float(np.mean(expected == t)) == BOOK_CONVNET_ACCURACY[name]


def test_jax_defaults_and_its_count_of_compiles(jax) -> None:
    """exact_shapes=2 by default; a dense network has no default_batch_rows; ``compiles`` counts
    the traces, of a layer network too."""
    from test_export import LAYER_NETWORKS

    fast = xpnn.compile(reference.random_network((5, 8, 3), np.float32, seed=4), "jax")
    assert fast.exact_shapes == 2 and fast.default_batch_rows is None
    layered = xpnn.compile(LAYER_NETWORKS["MultiLayerNet"](), "jax")
    x = np.zeros((3, *layered.n_in), np.float32)
    xpnn.forward(layered, x)
    xpnn.forward(layered, x)
    assert layered.compiles == 1
