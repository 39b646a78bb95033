"""The ch. 7-8 layers of xpnn.nn (issue 20): forward against NumPy float64 references, backward
against torch autograd in float64 and against central differences, on every backend.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import reference_nn as ref
from conftest import Case, assert_close, host

import xpnn
from xpnn.nn import (
    LAYERS,
    Affine,
    BatchNormalization,
    Convolution,
    Dropout,
    Identity,
    Pooling,
    Relu,
    Sequential,
    Sigmoid,
    Tanh,
    activation_layer,
    col2im,
    im2col,
    layer_from_spec,
)
from xpnn.nn.sequential import backward_layers, forward_layers

nn_im2col = sys.modules["xpnn.nn.im2col"]  # the module: xpnn.nn.im2col is also the function
patches = nn_im2col.patches

NO_DASK = "layers run on Dask only inside Sequential's chunks (map_blocks of NumPy)"


def float64(backend: Case) -> object:
    """float64, or the default floating dtype where there is none (JAX without x64: float32)."""
    if backend.name == "dask":
        pytest.skip(NO_DASK)
    return backend.dtype("float64") if backend.has_float64() else backend.default_float


def close(actual, expected, backend: Case, *, dtype, factor: float = 16.0) -> None:
    """:func:`assert_close`; float32 (JAX without x64) gets 64 times the epsilons: sums of many terms."""
    assert_close(actual, expected, backend, dtype=dtype, factor=factor * (1 if backend.has_float64() else 64))


def put(backend: Case, params: dict) -> dict:
    return {k: backend.asarray(v) for k, v in params.items()}


def torch_grads(fn, inputs: dict, dy: np.ndarray) -> tuple[np.ndarray, dict]:
    """``fn``'s output and the gradient of ``sum(fn(**inputs) * dy)`` by torch autograd (float64)."""
    torch = pytest.importorskip("torch", reason="torch autograd is the reference")
    ts = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in inputs.items()}
    y = fn(torch, **ts)
    (y * torch.tensor(dy)).sum().backward()
    return y.detach().numpy(), {k: t.grad.numpy() for k, t in ts.items()}


CONV_CASES = [(1, 0), (1, 1), (2, 1), (3, 2)]


@pytest.mark.parametrize(("stride", "pad"), CONV_CASES)
def test_im2col_and_col2im_are_the_books(backend: Case, stride: int, pad: int) -> None:
    dtype = float64(backend)
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    col = im2col(backend.asarray(x), 3, 2, stride=stride, pad=pad)
    expected = ref.im2col(x, 3, 2, stride, pad)
    close(col, expected, backend, dtype=dtype)
    c = np.random.default_rng(1).standard_normal(expected.shape)
    back = col2im(backend.asarray(c), x.shape, 3, 2, stride=stride, pad=pad)
    close(back, ref.col2im(c, x.shape, 3, 2, stride, pad), backend, dtype=dtype)


def test_im2col_defaults_and_a_one_by_one_filter_are_the_books(backend: Case) -> None:
    """Stride 1 and no padding by default; a 1 x 1 filter is one window per pixel, both ways."""
    dtype = float64(backend)
    x = np.random.default_rng(2).standard_normal((2, 3, 5, 4))
    close(patches(backend.asarray(x), 2, 2), ref.im2col(x, 2, 2, 1, 0).T, backend, dtype=dtype)
    close(im2col(backend.asarray(x), 1, 1), ref.im2col(x, 1, 1, 1, 0), backend, dtype=dtype)
    c = np.random.default_rng(3).standard_normal((2 * 5 * 4, 3))
    close(col2im(backend.asarray(c), x.shape, 1, 1), ref.col2im(c, x.shape, 1, 1), backend, dtype=dtype)


def _torch_conv(stride: int, pad: int):
    def fn(torch, x, W, b):
        return torch.nn.functional.conv2d(x, W, b, stride=stride, padding=pad)

    return fn


@pytest.mark.parametrize(("stride", "pad"), CONV_CASES)
def test_convolution_forward_and_backward_match_torch_autograd(backend: Case, stride: int, pad: int) -> None:
    dtype = float64(backend)
    rng = np.random.default_rng(stride * 10 + pad)
    inputs = {
        "x": rng.standard_normal((2, 3, 9, 8)),
        "W": rng.standard_normal((4, 3, 3, 2)),
        "b": rng.standard_normal(4),
    }
    layer = Convolution(1, stride=stride, pad=pad)
    params = put(backend, {"W1": inputs["W"], "b1": inputs["b"]})
    y, cache = layer.forward(params, backend.asarray(inputs["x"]), train=True)
    close(y, ref.conv(inputs["x"], inputs["W"], inputs["b"], stride, pad), backend, dtype=dtype)
    dy = rng.standard_normal(tuple(y.shape))
    y_t, g = torch_grads(_torch_conv(stride, pad), inputs, dy)
    dx, grads = layer.backward(params, cache, backend.asarray(dy))
    close(y, y_t, backend, dtype=dtype)
    close(dx, g["x"], backend, dtype=dtype)
    close(grads["W1"], g["W"], backend, dtype=dtype)
    close(grads["b1"], g["b"], backend, dtype=dtype)
    assert sorted(grads) == ["W1", "b1"]
    alone = layer.param_grads(params, cache, backend.asarray(dy))  # a first layer: no dx computed
    assert sorted(alone) == ["W1", "b1"]
    close(alone["W1"], g["W"], backend, dtype=dtype)
    close(alone["b1"], g["b"], backend, dtype=dtype)


@pytest.mark.parametrize(("size", "stride", "pad"), [(2, 2, 0), (2, 2, 1), (3, 1, 0), (2, 1, 1), (3, 2, 1)])
def test_pooling_matches_torch_autograd_with_the_books_zero_padding(
    backend: Case, size: int, stride: int, pad: int
) -> None:
    dtype = float64(backend)
    rng = np.random.default_rng(size + 10 * stride + 100 * pad)
    x = rng.standard_normal((2, 3, 7, 8))  # negative values too: a zero-padded window may have max 0
    layer = Pooling(size, size, stride=stride, pad=pad)
    y, cache = layer.forward({}, backend.asarray(x), train=True)
    close(y, ref.pool(x, size, size, stride, pad), backend, dtype=dtype)
    dy = rng.standard_normal(tuple(y.shape))

    def fn(torch, x):  # the book's im2col pads with zeros; torch's max_pool2d would pad with -inf
        return torch.nn.functional.max_pool2d(torch.nn.functional.pad(x, (pad,) * 4), size, stride)

    y_t, g = torch_grads(fn, {"x": x}, dy)
    dx, grads = layer.backward({}, cache, backend.asarray(dy))
    close(y, y_t, backend, dtype=dtype)
    close(dx, g["x"], backend, dtype=dtype)
    assert grads == {}
    y_inference, cache = layer.forward({}, backend.asarray(x))  # train=False keeps less: same gradient
    close(y_inference, y_t, backend, dtype=dtype)
    close(layer.backward({}, cache, backend.asarray(dy))[0], g["x"], backend, dtype=dtype)


#: What each backend's convolution and pooling delegate to (None: the generic im2col code).
NATIVE = {"numpy": "numpy", "torch": "torch", "jax": "jax"}


@pytest.mark.parametrize(("stride", "pad"), [(1, 0), (1, 1), (2, 1), (3, 2), (2, 0)])
def test_native_kernels_and_the_generic_im2col_code_agree(
    backend: Case, monkeypatch: pytest.MonkeyPatch, stride: int, pad: int
) -> None:
    """Convolution and pooling, forward and backward, with the library's own kernels and with the
    generic code (DELEGATE off): the same numbers, ties in pooling sent to the same element."""
    dtype = float64(backend)
    rng = np.random.default_rng(stride * 10 + pad)
    x = rng.standard_normal((3, 2, 9, 8))
    tied = np.round(x * 2.0) / 2.0  # many equal values in each pooling window, zeros among them
    params = put(backend, {"W1": rng.standard_normal((4, 2, 3, 2)), "b1": rng.standard_normal(4)})
    conv, pool = Convolution(1, stride=stride, pad=pad), Pooling(3, 2, stride=stride, pad=pad)
    results = {}
    for delegate in (True, False):
        monkeypatch.setattr(nn_im2col, "DELEGATE", delegate)
        xb = backend.asarray(x)
        assert nn_im2col.native_kind(xb) == (NATIVE.get(backend.name) if delegate else None)
        y, cache = conv.forward(params, xb, train=True)
        dy = np.random.default_rng(1).standard_normal(tuple(y.shape))
        dx, grads = conv.backward(params, cache, backend.asarray(dy))
        yp, cache_p = pool.forward({}, backend.asarray(tied), train=True)
        dyp = np.arange(1.0, 1.0 + math.prod(tuple(yp.shape))).reshape(tuple(yp.shape))
        dxp, _ = pool.backward({}, cache_p, backend.asarray(dyp))
        results[delegate] = [y, dx, grads["W1"], grads["b1"], yp, dxp]
    for native, generic in zip(results[True], results[False]):
        close(native, host(generic, backend), backend, dtype=dtype, factor=256)  # sums in other orders


@pytest.mark.sessions("array_api_strict")
def test_numpy_patches_are_the_generic_patches() -> None:
    """NumPy's im2col (one sliding-window view) equals the generic one, run on array-api-strict."""
    xs = pytest.importorskip("array_api_strict")
    x = np.random.default_rng(0).standard_normal((3, 2, 9, 8))
    for stride, pad, fh, fw in [(1, 0, 3, 3), (1, 1, 3, 2), (2, 1, 3, 3), (3, 2, 2, 3), (2, 0, 5, 5)]:
        cols = patches(x, fh, fw, stride, pad)
        assert type(cols) is np.ndarray
        np.testing.assert_array_equal(cols, np.asarray(patches(xs.asarray(x), fh, fw, stride, pad)))


def test_pooling_sends_a_tied_gradient_to_the_first_maximum(backend: Case) -> None:
    float64(backend)
    x = np.zeros((1, 1, 2, 2))  # four equal values: the book's argmax picks the first
    layer = Pooling(2, 2, stride=2)
    _, cache = layer.forward({}, backend.asarray(x), train=True)
    dx, _ = layer.backward({}, cache, backend.asarray(np.ones((1, 1, 1, 1))))
    np.testing.assert_array_equal(host(dx, backend), [[[[1.0, 0.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("shape", [(6, 5), (6, 2, 3, 3)])
def test_batch_normalization_in_training_matches_torch_autograd(backend: Case, shape: tuple) -> None:
    dtype = float64(backend)
    rng = np.random.default_rng(len(shape))
    d = int(np.prod(shape[1:]))
    inputs = {
        "x": rng.standard_normal(shape) * 3 + 1,
        "gamma": rng.standard_normal(d),
        "beta": rng.standard_normal(d),
    }
    layer = BatchNormalization(2, momentum=0.8)
    state = {"running_mean2": rng.standard_normal(d), "running_var2": rng.random(d) + 0.5}
    params = put(backend, {"gamma2": inputs["gamma"], "beta2": inputs["beta"], **state})
    y, cache = layer.forward(params, backend.asarray(inputs["x"]), train=True)
    dy = rng.standard_normal(shape)

    def fn(torch, x, gamma, beta):  # the book's formula, per input value, eps 10e-7
        x2 = x.reshape(x.shape[0], -1)
        mu = x2.mean(0)
        var = ((x2 - mu) ** 2).mean(0)
        return (gamma * (x2 - mu) / torch.sqrt(var + 10e-7) + beta).reshape(x.shape)

    y_t, g = torch_grads(fn, inputs, dy)
    dx, grads = layer.backward(params, cache, backend.asarray(dy))
    close(y, y_t, backend, dtype=dtype)
    close(dx, g["x"], backend, dtype=dtype, factor=256)
    close(grads["gamma2"], g["gamma"], backend, dtype=dtype)
    close(grads["beta2"], g["beta"], backend, dtype=dtype)
    x2 = inputs["x"].reshape(shape[0], -1)
    new = layer.new_state(params, cache)
    close(new["running_mean2"], 0.8 * state["running_mean2"] + 0.2 * x2.mean(0), backend, dtype=dtype)
    close(new["running_var2"], 0.8 * state["running_var2"] + 0.2 * x2.var(0), backend, dtype=dtype)


def test_batch_normalization_at_inference_uses_the_running_statistics(backend: Case) -> None:
    dtype = float64(backend)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3))
    p = {"gamma1": rng.standard_normal(3), "beta1": rng.standard_normal(3)}
    p |= {"running_mean1": rng.standard_normal(3), "running_var1": rng.random(3) + 0.1}
    y, _ = BatchNormalization(1).forward(put(backend, p), backend.asarray(x))
    expected = p["gamma1"] * (x - p["running_mean1"]) / np.sqrt(p["running_var1"] + 1e-6) + p["beta1"]
    close(y, expected, backend, dtype=dtype)


def test_batch_normalization_keeps_the_shape_of_any_input(backend: Case) -> None:
    """Values per input are normalized flat, and the output has the input's shape (3-D too)."""
    dtype = float64(backend)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 2, 3))
    p = {"gamma1": rng.standard_normal(6), "beta1": rng.standard_normal(6)}
    p |= {"running_mean1": rng.standard_normal(6), "running_var1": rng.random(6) + 0.1}
    y, _ = BatchNormalization(1).forward(put(backend, p), backend.asarray(x))
    x2 = x.reshape(4, 6)
    expected = p["gamma1"] * (x2 - p["running_mean1"]) / np.sqrt(p["running_var1"] + 1e-6) + p["beta1"]
    close(y, expected.reshape(x.shape), backend, dtype=dtype)


def test_backward_without_a_training_forward_is_a_clear_error(backend: Case) -> None:
    float64(backend)
    dy = backend.asarray(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^dropout's backward needs a forward pass with train=True$"):
        Dropout(0.5).backward({}, None, dy)


def test_dropout_is_the_books_scaling_at_inference_and_a_mask_in_training(backend: Case) -> None:
    dtype = float64(backend)
    rng = np.random.default_rng(4)
    x, dy = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    layer = Dropout(0.3)
    y, _ = layer.forward({}, backend.asarray(x))
    close(y, x * 0.7, backend, dtype=dtype)  # not inverted dropout: no 1/(1-ratio) in training
    y, cache = layer.forward({}, backend.asarray(x), train=True, rng=np.random.default_rng(5))
    mask = np.random.default_rng(5).random((5, 7)) > 0.3  # the book's rand(*shape) > ratio, same draw

    def fn(torch, x):
        return x * torch.tensor(mask, dtype=torch.float64)

    y_t, g = torch_grads(fn, {"x": x}, dy)
    dx, _ = layer.backward({}, cache, backend.asarray(dy))
    close(y, y_t, backend, dtype=dtype)
    close(dx, g["x"], backend, dtype=dtype)
    with pytest.raises(ValueError, match="rng="):
        layer.forward({}, backend.asarray(x), train=True)


def test_affine_flattens_conv_output_and_relu_sigmoid_match_torch(backend: Case) -> None:
    dtype = float64(backend)
    rng = np.random.default_rng(6)
    inputs = {
        "x": rng.standard_normal((3, 2, 2, 3)),
        "W": rng.standard_normal((12, 4)),
        "b": rng.standard_normal(4),
    }
    layers = [Affine(5), Sigmoid(), Relu()]
    params = put(backend, {"W5": inputs["W"], "b5": inputs["b"] - 0.5})
    y, caches = forward_layers(layers, params, backend.asarray(inputs["x"]), train=True)
    dy = rng.standard_normal((3, 4))

    def fn(torch, x, W, b):
        return torch.relu(torch.sigmoid(x.reshape(3, -1) @ W + (b - 0.5)) - 0.0)

    y_t, g = torch_grads(fn, inputs, dy)
    dx, grads = backward_layers(layers, params, caches, backend.asarray(dy))
    close(y, y_t, backend, dtype=dtype)
    assert tuple(dx.shape) == (3, 2, 2, 3)
    close(dx, g["x"], backend, dtype=dtype)
    close(grads["W5"], g["W"], backend, dtype=dtype)
    close(grads["b5"], g["b"], backend, dtype=dtype)


def test_tanh_and_identity_layers_match_torch(backend: Case) -> None:
    dtype = float64(backend)
    rng = np.random.default_rng(9)
    inputs = {"x": rng.standard_normal((3, 4))}
    layers = [Tanh(), Identity(), Tanh()]
    y, caches = forward_layers(layers, {}, backend.asarray(inputs["x"]), train=True)
    dy = rng.standard_normal((3, 4))
    y_t, g = torch_grads(lambda torch, x: torch.tanh(torch.tanh(x)), inputs, dy)
    dx, grads = backward_layers(layers, {}, caches, backend.asarray(dy))
    close(y, y_t, backend, dtype=dtype)
    close(dx, g["x"], backend, dtype=dtype)
    assert grads == {}


def test_every_activation_of_the_registry_has_its_layer() -> None:
    """One table: each name of ``HIDDEN_ACTIVATIONS`` builds a layer whose forward is the table's."""
    from xpnn.functions import ACTIVATIONS, HIDDEN_ACTIVATIONS

    assert set(HIDDEN_ACTIVATIONS) == set(ACTIVATIONS)
    x = np.linspace(-3.0, 3.0, 7)
    for name, fn in HIDDEN_ACTIVATIONS.items():
        layer = activation_layer(name.upper())
        assert layer.kind in LAYERS
        np.testing.assert_array_equal(layer.forward({}, x)[0], fn(x, np))
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; choose one of \['identity'"):
        activation_layer("swish")


def _small_net(bn: bool = True) -> tuple[list, dict]:
    rng = np.random.default_rng(7)
    layers = [Convolution(1, stride=2, pad=1), Relu(), Pooling(2, 2, stride=1)]
    p = {"W1": rng.standard_normal((3, 2, 3, 3)) * 0.5, "b1": rng.standard_normal(3) * 0.1}
    if bn:
        layers.append(BatchNormalization(2))
        p |= {"gamma2": 1 + 0.1 * rng.standard_normal(12), "beta2": 0.1 * rng.standard_normal(12)}
        p |= {"running_mean2": np.zeros(12), "running_var2": np.ones(12)}
    layers += [Affine(3), Sigmoid(), Dropout(0.25), Affine(4)]
    p |= {"W3": rng.standard_normal((12, 5)) * 0.3, "b3": np.zeros(5)}
    p |= {"W4": rng.standard_normal((5, 4)) * 0.5, "b4": rng.standard_normal(4) * 0.1}
    return layers, p


def test_loss_and_gradient_match_central_differences() -> None:
    """The whole backward pass of a Sequential (conv, pool, batch norm, dropout) against
    numerical differentiation in float64, with the same dropout mask on every evaluation."""
    layers, p = _small_net()
    rng = np.random.default_rng(8)
    x, t = rng.standard_normal((4, 2, 6, 6)), np.array([0, 3, 1, 3])
    net = Sequential(layers, p, input_shape=(2, 6, 6))
    loss, grads, state = net.loss_and_gradient(x, t, rng=np.random.default_rng(9))
    assert sorted(grads) == sorted(k for k in p if not k.startswith("running"))
    assert sorted(state) == ["running_mean2", "running_var2"]
    h = 1e-6
    for name in grads:
        flat = p[name].reshape(-1)
        for i in np.random.default_rng(10).choice(flat.size, min(flat.size, 4), replace=False):
            values = []
            for step in (h, -h):
                q = {k: v.copy() for k, v in p.items()}
                q[name].reshape(-1)[i] += step
                values.append(float(net.replace(q).loss(x, t, train=True, rng=np.random.default_rng(9))))
            numeric = (values[0] - values[1]) / (2 * h)
            np.testing.assert_allclose(np.asarray(grads[name]).reshape(-1)[i], numeric, rtol=1e-5, atol=1e-8)
    assert float(loss) == pytest.approx(float(net.loss(x, t, train=True, rng=np.random.default_rng(9))))


_MUTATORS = ("__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__imatmul__", "__ipow__")


@pytest.mark.sessions("array_api_strict")
def test_no_layer_writes_in_place_on_array_api_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every in-place operator of array-api-strict's arrays raises: forward and backward still run."""
    strict = pytest.importorskip("array_api_strict")

    def refuse(self, *args):
        raise AssertionError("an in-place write")

    array_type = type(strict.zeros(1))
    for name in _MUTATORS:
        monkeypatch.setattr(array_type, name, refuse, raising=False)
    with pytest.raises(AssertionError):
        strict.zeros(2)[0] = 1.0  # the trap works
    layers, p = _small_net()
    net = Sequential(layers, p, input_shape=(2, 6, 6), backend="array_api_strict")
    x = net.prepare_input(np.random.default_rng(11).standard_normal((3, 2, 6, 6)))
    loss, grads, state = net.loss_and_gradient(x, strict.asarray([0, 1, 2]), rng=np.random.default_rng(12))
    assert all(isinstance(a, array_type) for a in (loss, *grads.values(), *state.values()))
    assert xpnn.predict(net, x).shape == (3,)


def test_every_layer_rebuilds_from_its_spec() -> None:
    samples = [
        Affine(2),
        Relu(),
        Sigmoid(),
        Tanh(),
        Identity(),
        Convolution(1, 2, 1),
        Pooling(3, 2, 1, 1),
        BatchNormalization(4, 0.7),
        Dropout(0.2),
    ]
    assert {type(s) for s in samples} == set(LAYERS.values())
    for layer in samples:
        assert layer_from_spec(layer.spec()) == layer
    with pytest.raises(ValueError, match="unknown layer type 'Conv'"):
        layer_from_spec({"type": "Conv"})
    with pytest.raises(ValueError, match="bad configuration for a Pooling layer"):
        layer_from_spec({"type": "Pooling", "size": 2})


def test_sequential_says_which_parameters_do_not_fit() -> None:
    layers, p = _small_net(bn=False)
    with pytest.raises(ValueError, match=r"needs the parameters \['W4'\]"):
        Sequential(layers, {k: v for k, v in p.items() if k != "W4"}, input_shape=(2, 6, 6))
    with pytest.raises(ValueError, match=r"params hold \['W9'\], which no layer uses"):
        Sequential(layers, {**p, "W9": np.zeros(1)}, input_shape=(2, 6, 6))
    with pytest.raises(
        ValueError, match=r"W3 of shape \(12, 5\) .* do not fit an input of shape \(3, 3, 3\) \(27 values\)"
    ):
        Sequential(layers, p, input_shape=(2, 8, 8))
    with pytest.raises(ValueError, match="W1 of shape .* a convolution takes"):
        Sequential(layers, p, input_shape=(3, 6, 6))
    net = Sequential(layers, p, input_shape=(2, 6, 6))
    with pytest.raises(ValueError, match="activation='relu' does not apply to a layer network"):
        xpnn.predict(net, np.zeros((1, 2, 6, 6)), activation="relu")


def test_sequential_loss_and_gradient_takes_loss_weights_and_the_books_weight_decay(backend: Case) -> None:
    """One place for every network: squared error with row weights, and the book's weight decay
    (``0.5 λ Σ W²``, gradient ``λ W``) over the conv kernel and the weight matrices only."""
    dtype = float64(backend)
    layers, p = _small_net(bn=False)
    layers = [layer for layer in layers if not isinstance(layer, Dropout)]
    net = Sequential(layers, p, input_shape=(2, 6, 6), backend=backend.name, device=backend.device)
    rng = np.random.default_rng(10)
    x = net.prepare_input(rng.standard_normal((3, 2, 6, 6)))
    targets = rng.standard_normal((3, 4))
    w = rng.random(3)
    t, sw = backend.asarray(targets), backend.asarray(w)
    plain, g0, _ = net.loss_and_gradient(x, t, loss="squared_error", sample_weight=sw)
    a = host(net.forward(x), backend)
    expected = 0.5 * np.sum(w / w.sum() * np.sum((a - targets) ** 2, axis=1))
    close(plain, np.asarray(expected), backend, dtype=dtype)
    value, g, _ = net.loss_and_gradient(x, t, loss="squared_error", sample_weight=sw, weight_decay=0.25)
    decay = 0.125 * sum(np.sum(p[k] ** 2) for k in ("W1", "W3", "W4"))
    close(value, np.asarray(expected + decay), backend, dtype=dtype)
    for k in g:
        extra = 0.25 * p[k] if k[0] == "W" else 0.0
        close(g[k], host(g0[k], backend) + extra, backend, dtype=dtype)
    only = net.loss(x, t, loss="squared_error", sample_weight=sw, weight_decay=0.25)
    close(only, np.asarray(expected + decay), backend, dtype=dtype)
