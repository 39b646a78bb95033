"""Issue 19: one model. The book's dict placed by ``to_backend`` is a :class:`xpnn.Sequential` of
``Affine``/activation layers over ``W1, b1, ...``; it runs, trains, saves and exports as the
equivalent explicit layer network does."""

from __future__ import annotations

import os

import numpy as np
import pytest
import reference
from conftest import Case, assert_close, host, tolerance

import xpnn
import xpnn.layers  # the ch. 5 layer functions over a dict (a submodule: imported by name)
from xpnn.nn import Affine, Dropout, Relu, Sigmoid

SIZES = (6, 5, 4, 3)
ACTIVATION_LAYERS = {"sigmoid": Sigmoid, "relu": Relu}


def _explicit(net: dict[str, np.ndarray], activation: str, backend: Case) -> xpnn.Sequential:
    """The layer network the book's dict stands for, written out layer by layer."""
    n = len(net) // 2
    layers: list = []
    for i in range(1, n + 1):
        layers += [Affine(i), ACTIVATION_LAYERS[activation]()] if i < n else [Affine(i)]
    return xpnn.Sequential(layers, net, input_shape=(SIZES[0],), backend=backend.name, device=backend.device)


@pytest.mark.parametrize("activation", [None, "relu"])
def test_a_placed_dict_is_a_sequential_of_affine_and_activation_layers(
    backend: Case, activation: str | None
) -> None:
    net = reference.random_network(SIZES, np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device, activation=activation)
    act = ACTIVATION_LAYERS[activation or "sigmoid"]
    assert isinstance(placed, xpnn.Sequential) and isinstance(placed, xpnn.Network)
    assert placed.layers == (Affine(1), act(), Affine(2), act(), Affine(3))
    assert list(placed.params) == ["W1", "b1", "W2", "b2", "W3", "b3"] == list(placed.keys())
    assert all(placed.params[k] is placed[k] for k in placed)
    assert placed.state == {} and placed.spec() == [layer.spec() for layer in placed.layers]
    assert (placed.n_in, placed.n_out, placed.sizes, placed.activation) == (6, 3, SIZES, activation)
    moved = placed.to_backend(backend.name, backend.device)
    assert type(moved) is xpnn.Network and moved.activation == activation and moved.layers == placed.layers


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_a_dict_network_runs_as_its_explicit_layer_network(backend: Case, activation: str) -> None:
    net = reference.random_network(SIZES, np.float32, seed=3)
    x = np.random.default_rng(4).standard_normal((9, SIZES[0])).astype(np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device, activation=activation)
    explicit = _explicit(net, activation, backend)
    expected = reference.forward(net, x.astype(np.float64), hidden=getattr(reference, activation))
    for network in (placed, explicit):
        y = xpnn.forward(network, backend.asarray(x))
        assert_close(y, expected, backend, dtype=backend.dtype("float32"), factor=64)
        assert_close(network.forward(network.prepare_input(x)), expected, backend, factor=64)
    assert np.array_equal(
        host(xpnn.predict_proba(placed, backend.asarray(x)), backend),
        host(xpnn.predict_proba(explicit, backend.asarray(x)), backend),
    )


def test_replace_gives_a_network_of_the_new_arrays_and_the_same_activation(backend: Case) -> None:
    """What training relies on: ``replace`` keeps the class and activation, and runs the new arrays
    (nothing derived from the old ones, such as the sigmoid shortcut's rescaled weights, is kept)."""
    net = reference.random_network(SIZES, np.float32, seed=5)
    x = np.random.default_rng(6).standard_normal((4, SIZES[0])).astype(np.float32)
    for activation in (None, "relu"):
        placed = xpnn.to_backend(net, backend.name, backend.device, activation=activation)
        xpnn.forward(placed, backend.asarray(x))  # the first call may keep derived arrays
        doubled = {k: v * 2.0 for k, v in net.items()}
        new = placed.replace({k: xpnn.to_backend(doubled, backend.name, backend.device)[k] for k in doubled})
        assert type(new) is xpnn.Network and new.activation == activation and new.layers == placed.layers
        hidden = reference.relu if activation else reference.sigmoid
        assert_close(
            xpnn.forward(new, backend.asarray(x)),
            reference.forward(doubled, x.astype(np.float64), hidden=hidden),
            backend,
            factor=64,
        )


def test_forward_in_training_mode_draws_the_dropout_mask_from_rng(backend: Case) -> None:
    """``forward(x, train=True, rng=...)``: the book's mask ``rand(*shape) > ratio``; else the scaling."""
    if backend.name == "dask":
        pytest.skip("training does not run on Dask by design")
    rng = np.random.default_rng(7)
    p = {"W1": rng.standard_normal((6, 5)), "b1": rng.standard_normal(5)}
    net = xpnn.Sequential(
        [Affine(1), Dropout(0.5)], p, input_shape=(6,), backend=backend.name, device=backend.device
    )
    x = rng.standard_normal((4, 6))
    h = x @ p["W1"] + p["b1"]
    y = net.forward(net.prepare_input(x), train=True, rng=np.random.default_rng(1))
    assert_close(y, h * (np.random.default_rng(1).random((4, 5)) > 0.5), backend, factor=64)
    assert_close(net.forward(net.prepare_input(x)), h * 0.5, backend, factor=64)


def test_training_passes_of_a_dict_network_are_those_of_its_layers(backend: Case) -> None:
    if not xpnn.backends.TABLE[backend.name].trainable:
        pytest.skip(f"{backend.name} does not train")
    net = reference.random_network(SIZES, np.float64 if backend.has_float64() else np.float32, seed=7)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    x = placed.prepare_input(np.random.default_rng(8).standard_normal((5, SIZES[0])))
    t = xpnn.asarray(np.array([0, 2, 1, 1, 0]), backend=backend.name, device=backend.device)
    value, grads, state = placed.loss_and_gradient(x, t, weight_decay=0.1)
    book_value, book_grads = xpnn.layers.loss_and_gradient(dict(placed.items()), x, t, weight_decay=0.1)
    assert state == {} and list(grads) == list(book_grads) == list(placed.params)
    rtol = tolerance(placed.dtype, 64)
    np.testing.assert_allclose(host(value, backend), host(book_value, backend), rtol=rtol)
    for k in grads:
        np.testing.assert_allclose(
            host(grads[k], backend), host(book_grads[k], backend), rtol=rtol, atol=rtol
        )


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_saved_dict_and_explicit_networks_predict_alike(tmp_path, suffix: str) -> None:
    if suffix == ".safetensors":
        pytest.importorskip("safetensors")
    net = reference.random_network(SIZES, np.float32, seed=9)
    x = np.random.default_rng(10).standard_normal((20, SIZES[0])).astype(np.float32)
    explicit = xpnn.Sequential(
        [Affine(1), Sigmoid(), Affine(2), Sigmoid(), Affine(3)], net, input_shape=(SIZES[0],)
    )
    from_dict = xpnn.load_weights(xpnn.save_weights(net, tmp_path / f"dict{suffix}"))
    from_layers = xpnn.load_weights(xpnn.save_weights(explicit, tmp_path / f"layers{suffix}"))
    assert isinstance(from_layers, xpnn.Sequential)
    assert {k: np.asarray(v) for k, v in from_layers.to_numpy().items()}.keys() == net.keys()
    for k in net:
        assert np.array_equal(xpnn.to_numpy(from_dict[k]), xpnn.to_numpy(from_layers.params[k]))
    np.testing.assert_array_equal(xpnn.forward(from_dict, x), xpnn.forward(from_layers, x))
    np.testing.assert_array_equal(xpnn.predict(from_dict, x), xpnn.predict(from_layers, x))


def test_exported_dict_and_explicit_networks_compute_alike(tmp_path) -> None:
    for module in ("ndonnx", "onnx", "onnxscript"):
        try:
            pytest.importorskip(module)
        except pytest.skip.Exception:
            if os.environ.get("XPNN_REQUIRE_ONNX") == "1":
                pytest.fail(f"{module} is not installed but XPNN_REQUIRE_ONNX=1")
            raise
    ort = pytest.importorskip("onnxruntime")
    net = reference.random_network(SIZES, np.float32, seed=11)
    x = np.random.default_rng(12).standard_normal((30, SIZES[0])).astype(np.float32)
    explicit = xpnn.Sequential(
        [Affine(1), Relu(), Affine(2), Relu(), Affine(3)], net, input_shape=(SIZES[0],)
    )
    outputs = []
    for name, network, options in (
        ("dict", net, {"activation": "relu"}),
        ("placed", xpnn.to_backend(net, activation="relu"), {}),
        ("layers", explicit, {}),
    ):
        model = xpnn.export_onnx(network, tmp_path / f"{name}.onnx", output="softmax", **options)
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {"input": x})[0])
    expected = reference.forward(net, x.astype(np.float64), hidden=reference.relu, output=reference.softmax)
    for y in outputs:
        np.testing.assert_allclose(y, expected, rtol=tolerance("float32", 64), atol=tolerance("float32", 64))
    assert np.array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(np.argmax(outputs[0], axis=1), np.argmax(outputs[2], axis=1))
