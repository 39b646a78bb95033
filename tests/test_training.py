"""Training (issue 10): layers, gradients, optimizers and ``train`` on every backend.

Gradients are checked against torch autograd in float64 (an independent implementation) where
torch is installed; sessions without torch check each backend against NumPy's result instead,
and the tests-torch session ties NumPy to autograd.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

import numpy as np
import pytest
from conftest import REQUESTED, Case, assert_close, tolerance

import xpnn
from xpnn import optimizers
from xpnn.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss, loss_and_gradient, loss_value

NO_DASK = "training does not run on Dask by design (train on NumPy/CuPy, predict on Dask)"


def trainable(backend: Case) -> None:
    if backend.name == "dask":
        pytest.skip(NO_DASK)


def float64(backend: Case) -> object:
    if not backend.has_float64():
        pytest.skip(f"{backend.name} has no float64 on {backend.device}")
    return backend.dtype("float64")


def problem(sizes: tuple[int, ...], n: int = 7, seed: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    """A float64 network with nonzero biases, inputs and integer labels."""
    rng = np.random.default_rng(seed)
    net = xpnn.random_network(sizes, weight_init="xavier", seed=seed, dtype="float64")
    net = {k: v + 0.1 * rng.standard_normal(v.shape) if k[0] == "b" else v for k, v in net.items()}
    x = rng.standard_normal((n, sizes[0]))
    t = rng.integers(0, sizes[-1], n)
    return net, x, t


def torch_reference(net: dict, x: np.ndarray, t: np.ndarray, activation: str, weight_decay: float) -> tuple:
    """Loss and gradient by torch autograd in float64: an implementation independent of xpnn's."""
    torch = pytest.importorskip(
        "torch", reason="torch is the autograd reference; the tests-torch session has it"
    )
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.items()}
    z = torch.tensor(x, dtype=torch.float64)
    n = len(net) // 2
    for i in range(1, n + 1):
        z = z @ params[f"W{i}"] + params[f"b{i}"]
        if i < n:
            z = torch.sigmoid(z) if activation == "sigmoid" else torch.relu(z)
    loss = torch.nn.functional.cross_entropy(z, torch.tensor(t, dtype=torch.int64))
    loss = loss + 0.5 * weight_decay * sum((params[f"W{i}"] ** 2).sum() for i in range(1, n + 1))
    loss.backward()
    return float(loss.detach()), {k: p.grad.numpy() for k, p in params.items()}


def on(backend: Case, net: dict, dtype: object = None) -> dict:
    return {k: backend.asarray(v, dtype) for k, v in net.items()}


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("sizes", [(5, 4, 3), (6, 5, 4, 3)], ids=["2-layer", "3-layer"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_gradient_matches_torch_autograd(
    backend: Case, activation: str, sizes: tuple, weight_decay: float
) -> None:
    trainable(backend)
    wide = backend.has_float64()  # else (JAX without x64) float32, within float32's tolerance
    dtype, host = (backend.dtype("float64"), np.float64) if wide else (backend.dtype("float32"), np.float32)
    net, x, t = problem(sizes)
    expected_loss, expected = torch_reference(net, x, t, activation, weight_decay)
    loss, grads = loss_and_gradient(
        on(backend, net, host),
        backend.asarray(x, host),
        backend.asarray(t),
        activation=activation,
        weight_decay=weight_decay,
    )
    assert list(grads) == list(net)
    assert_close(loss, np.asarray(expected_loss), backend, dtype=dtype)
    for key in net:
        assert_close(grads[key], expected[key], backend, dtype=dtype, factor=64 if wide else 256)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("sizes", [(5, 4, 3), (6, 5, 4, 3)], ids=["2-layer", "3-layer"])
def test_gradient_equals_numpy_on_every_backend(backend: Case, activation: str, sizes: tuple) -> None:
    """The same numbers as NumPy's (which the torch session ties to autograd), one-hot labels too."""
    trainable(backend)
    net, x, t = problem(sizes, seed=1)
    _, on_numpy = loss_and_gradient(net, x, t, activation=activation)
    one_hot = (t[:, None] == np.arange(sizes[-1])).astype(np.float64)
    bool_rows = one_hot.astype(bool)
    for labels in (t, one_hot, bool_rows, backend.asarray(bool_rows), backend.asarray(t)):
        grads = xpnn.gradient(
            net, x, labels, activation=activation, backend=backend.name, device=backend.device
        )
        for key in net:
            assert_close(grads[key], on_numpy[key], backend, factor=64)
    # Without backend= and device=, a NumPy network follows x to its backend and device.
    grads = xpnn.gradient(net, backend.asarray(x), backend.asarray(t), activation=activation)
    for key in net:
        assert_close(grads[key], on_numpy[key], backend, factor=64)


@pytest.mark.parametrize("activation", [None, "sigmoid", "relu"])
@pytest.mark.parametrize("sizes", [(5, 4, 3), (6, 5, 4, 3)], ids=["2-layer", "3-layer"])
@pytest.mark.parametrize("weight_decay", [None, 0.1])
def test_loss_is_the_loss_of_loss_and_gradient(
    backend: Case, activation: str | None, sizes: tuple, weight_decay: float | None
) -> None:
    """``loss_value`` and ``xpnn.loss`` (forward only) give the loss backpropagation starts from.

    None: the argument is left out, so the defaults (sigmoid, no weight decay) are checked too.
    """
    trainable(backend)
    net, x, t = problem(sizes, seed=5)
    kwargs = {k: v for k, v in (("activation", activation), ("weight_decay", weight_decay)) if v is not None}
    expected, _ = loss_and_gradient(net, x, t, **kwargs)  # NumPy float64
    params = on(backend, net)
    value = loss_value(params, backend.asarray(x), backend.asarray(t), **kwargs)
    assert_close(value, np.asarray(expected), backend, dtype=params["W1"].dtype, factor=64)
    rtol = tolerance(params["W1"].dtype, 64)
    placed = {"backend": backend.name, "device": backend.device}
    assert xpnn.loss(net, x, t, **kwargs, **placed) == pytest.approx(float(expected), rel=rtol)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_numerical_gradient_agrees_with_backpropagation(
    backend: Case, activation: str, weight_decay: float
) -> None:
    trainable(backend)
    float64(backend)
    net, x, t = problem((4, 3, 3), n=5, seed=2)
    kwargs = {
        "activation": activation,
        "weight_decay": weight_decay,
        "backend": backend.name,
        "device": backend.device,
    }
    numerical = xpnn.numerical_gradient(net, x, t, **kwargs)
    analytic = xpnn.gradient(net, x, t, **kwargs)
    assert list(numerical) == list(net)
    for key in net:
        diff = np.abs(xpnn.to_numpy(numerical[key]) - xpnn.to_numpy(analytic[key]))
        assert diff.mean() <= 1e-5, (key, diff.mean())  # the book's gradient check
        assert numerical[key].dtype == analytic[key].dtype
        assert repr(xpnn.backends.device_of(numerical[key])) == repr(backend.device)


def test_numerical_gradient_keeps_float32(backend: Case) -> None:
    trainable(backend)
    net, x, t = problem((4, 3), n=3, seed=3)
    net32 = on(backend, net, np.float32)
    numerical = xpnn.numerical_gradient(net32, backend.asarray(x, np.float32), backend.asarray(t), h=1e-2)
    _, analytic = loss_and_gradient(net, x, t)  # NumPy float64
    for key in net:
        assert_close(numerical[key], analytic[key], backend, dtype=backend.dtype("float32"), factor=1e4)


@pytest.mark.parametrize("h", [0.0, -1e-4, float("nan"), float("inf"), -float("inf")])
def test_numerical_gradient_needs_a_positive_step(h: float) -> None:
    net, x, t = problem((3, 2), n=2)
    with pytest.raises(ValueError, match=f"^h must be a positive finite step; got {re.escape(str(h))}$"):
        xpnn.numerical_gradient(net, x, t, h=h)
    with pytest.raises(ValueError, match="^h must be a positive finite step; got '0.1'$"):
        xpnn.numerical_gradient(net, x, t, h="0.1")  # type: ignore[arg-type]


def test_numerical_gradient_step_must_be_meaningful_in_the_dtype(backend: Case) -> None:
    """Issue 24: h=1e300 returned non-finite gradients; a step w + h == w gives rounding noise."""
    trainable(backend)
    net, x, t = problem((3, 2), n=2)
    net = {**net, "W1": net["W1"] / np.max(np.abs(net["W1"])) * 2.0}  # the largest weight is 2
    on = {"backend": backend.name, "device": backend.device}
    for h in (1e300, 1e10, 2.5):
        with pytest.raises(
            ValueError,
            match=f"^h={re.escape(str(h))} is too large for a derivative: it exceeds the weights' scale"
            r" max\(1, max \|w\|\) = 2; the book uses h=1e-4$",
        ):
            xpnn.numerical_gradient(net, x, t, h=h, **on)
    net32 = {k: v.astype(np.float32) for k, v in net.items()}
    with pytest.raises(ValueError, match=r"^h=1e-08 is too small for \S*float32: w \+ h rounds to w for the"):
        xpnn.numerical_gradient(net32, x, t, h=1e-8, **on)
    assert np.float32(2.0) + np.float32(1e-8) == np.float32(2.0)  # why: the step is lost
    grads = xpnn.numerical_gradient(net32, x, t, h=2.0, **on)  # the bounds themselves are fine
    assert all(np.isfinite(xpnn.to_numpy(g)).all() for g in grads.values())


@pytest.mark.parametrize("f", [xpnn.loss, xpnn.gradient, xpnn.numerical_gradient], ids=lambda f: f.__name__)
def test_one_input_or_an_unknown_device_is_a_clear_error(backend: Case, f) -> None:
    trainable(backend)
    net, x, t = problem((6, 3), n=4)
    on_backend = {"backend": backend.name, "device": backend.device}
    with pytest.raises(ValueError, match=r"^x must be a batch of shape \(N, 6\); got shape \(6,\)$"):
        f(net, x[0], t[:1], **on_backend)
    with pytest.raises((ValueError, xpnn.BackendUnavailableError), match="bogus"):  # not ignored
        f(net, x, t, backend=backend.name, device="bogus")


def test_numerical_gradient_leaves_the_network_alone() -> None:
    net, x, t = problem((3, 2), n=2)
    before = {k: v.copy() for k, v in net.items()}
    xpnn.numerical_gradient(net, x, t)
    for key in net:
        np.testing.assert_array_equal(net[key], before[key])


def test_weight_decay_adds_its_formula(backend: Case) -> None:
    trainable(backend)
    net, x, t = problem((5, 4, 3), seed=3)
    lam = 0.3
    args = {"backend": backend.name, "device": backend.device, "activation": "relu"}
    plain, decayed = xpnn.loss(net, x, t, **args), xpnn.loss(net, x, t, weight_decay=lam, **args)
    squares = sum(float(np.sum(net[k].astype(np.float64) ** 2)) for k in net if k[0] == "W")
    rtol = tolerance(xpnn.to_backend(net, backend.name, backend.device).dtype, 64)
    assert decayed - plain == pytest.approx(0.5 * lam * squares, rel=rtol, abs=rtol)
    g0, g1 = xpnn.gradient(net, x, t, **args), xpnn.gradient(net, x, t, weight_decay=lam, **args)
    for key in net:
        difference = xpnn.to_numpy(g1[key]).astype(np.float64) - xpnn.to_numpy(g0[key])
        expected = lam * net[key] if key[0] == "W" else np.zeros_like(net[key])
        np.testing.assert_allclose(difference, expected, rtol=rtol, atol=rtol)


def test_float32_stays_float32_on_the_device(backend: Case) -> None:
    trainable(backend)
    net, x, t = problem((5, 4, 3), seed=4)
    f32 = backend.dtype("float32")
    loss, grads = loss_and_gradient(
        on(backend, net, np.float32), backend.asarray(x, np.float32), backend.asarray(t)
    )
    assert loss.shape == () and loss.dtype == f32
    for key in net:
        assert grads[key].dtype == f32
        assert repr(xpnn.backends.device_of(grads[key])) == repr(backend.device)


def test_float64_input_is_cast_to_the_weights_dtype() -> None:
    net, x, t = problem((5, 3))
    net32 = {k: v.astype(np.float32) for k, v in net.items()}
    loss, grads = loss_and_gradient(net32, x, t)  # float64 x, float32 weights
    assert loss.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p, x, t: ({k: v for k, v in p.items() if k != "b2"}, x, t),
            "params need the keys W1..Wn and b1..bn; 'b2' is missing",
        ),
        (
            lambda p, x, t: ({**p, "c1": p["b1"]}, x, t),
            "params need the keys W1..Wn and b1..bn; got ['W1', 'W2', 'b1', 'b2', 'c1']",
        ),
        (lambda p, x, t: ({"b1": p["b1"]}, x, t), "params need the keys W1..Wn and b1..bn; got ['b1']"),
        (lambda p, x, t: (p, x[:, :3], t), "x must have shape (N, 5) to fit W1; got (7, 3)"),
        (
            lambda p, x, t: (p, x, t[:3]),
            "t must hold 7 integer labels (shape (7,)) or one-hot rows (shape (7, 3)); got shape (3,)",
        ),
        (
            lambda p, x, t: (p, x[:0], t[:0]),
            "no inputs: the loss and its gradient need a batch of at least one input and label",
        ),
    ],
    ids=["missing-key", "extra-key", "no-weights", "wrong-width", "wrong-labels", "no-inputs"],
)
def test_loss_and_gradient_errors_say_what_is_wrong(change, message: str) -> None:
    net, x, t = problem((5, 4, 3))
    for f in (loss_and_gradient, loss_value):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            f(*change(net, x, t))
    for activation in ("swish", ["relu"]):  # a list, unhashable, gets the same message
        with pytest.raises(
            ValueError,
            match=re.escape(
                f"unknown activation {activation!r}; training supports sigmoid, relu, tanh, identity"
            ),
        ):
            loss_and_gradient(net, x, t, activation=activation)  # type: ignore[arg-type]


def test_each_layer_is_the_books(backend: Case) -> None:
    """Affine, Relu, Sigmoid and SoftmaxWithLoss one by one, against the book's formulas in NumPy."""
    trainable(backend)
    xp = backend.xp
    rng = np.random.default_rng(11)
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    dout = rng.standard_normal((4, 2))
    X, Wd, bd, D = (backend.asarray(v) for v in (x, W, b, dout))
    assert_close(Affine.forward(X, Wd, bd), x @ W + b, backend)
    dx, dW, db = Affine.backward(D, X, Wd, xp=xp)  # need_dx defaults to True
    assert_close(dx, dout @ W.T, backend)
    assert_close(dW, x.T @ dout, backend)
    assert_close(db, dout.sum(axis=0), backend)
    assert Affine.backward(D, X, Wd, xp=xp, need_dx=False)[0] is None  # the first layer's input

    a = np.array([[-1.5, 0.0], [0.25, 2.0], [3.0, -0.5], [-2.0, 1.0]])  # the book's mask: x <= 0
    A = backend.asarray(a)
    out = Relu.forward(A, xp=xp)
    assert_close(out, np.maximum(a, 0.0), backend)
    assert_close(Relu.backward(D, out, xp=xp), np.where(a > 0.0, dout, 0.0), backend)
    y = Sigmoid.forward(A, xp=xp)
    assert_close(y, 1.0 / (1.0 + np.exp(-a)), backend)
    assert_close(
        Sigmoid.backward(D, y, xp=xp), dout * (1.0 - 1.0 / (1.0 + np.exp(-a))) / (1.0 + np.exp(-a)), backend
    )

    # Rows of very different scales: each row is shifted by its own maximum, so all stay finite.
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1.0, 2.0], [-5.0, -5.0, -5.0], [3.0, -1.0, 0.5]])
    labels = np.array([2, 0, 1, 0])
    dtype = backend.asarray(logits).dtype
    T = SoftmaxWithLoss.one_hot(backend.asarray(labels), 3, dtype, xp=xp)
    assert_close(T, np.eye(3)[labels], backend, dtype=dtype)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected_y = np.exp(shifted - log_sum)
    loss, y = SoftmaxWithLoss.forward(backend.asarray(logits), T, xp=xp)
    assert_close(loss, np.mean(log_sum[:, 0] - shifted[np.arange(4), labels]), backend, dtype=dtype)
    assert_close(y, expected_y, backend, dtype=dtype)
    assert_close(SoftmaxWithLoss.backward(y, T), (expected_y - np.eye(3)[labels]) / 4, backend, dtype=dtype)
    for rows in (np.eye(3, dtype=bool)[labels], np.eye(3, dtype=np.int64)[labels]):  # one-hot rows are cast
        assert_close(
            SoftmaxWithLoss.one_hot(backend.asarray(rows), 3, dtype, xp=xp),
            np.eye(3)[labels],
            backend,
            dtype=dtype,
        )


# --- cross_entropy_error ---------------------------------------------------------------------


def test_cross_entropy_error_is_the_books(backend: Case) -> None:
    rng = np.random.default_rng(5)
    y = rng.dirichlet(np.ones(4), size=6)
    y[0, 2] = 0.0  # the book's 1e-7 keeps this finite
    t = rng.integers(0, 4, 6)
    t[0] = 2
    expected = -np.sum(np.log(y[np.arange(6), t] + 1e-7)) / 6  # the book's code
    one_hot = (t[:, None] == np.arange(4)).astype(np.float64)
    for labels in (t, one_hot):
        result = xpnn.cross_entropy_error(backend.asarray(y), backend.asarray(labels))
        assert_close(result, np.asarray(expected), backend, factor=64)
    single = xpnn.cross_entropy_error(backend.asarray(y[1]), backend.asarray(one_hot[1]))
    assert_close(single, np.asarray(-np.log(y[1, t[1]] + 1e-7)), backend, factor=64)


# --- optimizers ------------------------------------------------------------------------------

P0, G1, G2 = 1.0, 0.5, -0.25  # one weight, two steps with these gradients


def hand_steps(name: str, lr: float) -> list[float]:
    """The book's rules (common/optimizer.py) written out for one weight, two steps."""
    p, out = P0, []
    if name == "sgd":
        for g in (G1, G2):
            p -= lr * g
            out.append(p)
    elif name in ("momentum", "nesterov"):
        v = 0.0
        for g in (G1, G2):
            if name == "momentum":
                v = 0.9 * v - lr * g
                p += v
            else:
                p += 0.81 * v - 1.9 * lr * g
                v = 0.9 * v - lr * g
            out.append(p)
    elif name in ("adagrad", "rmsprop"):
        h = 0.0
        for g in (G1, G2):
            h = h + g * g if name == "adagrad" else 0.99 * h + 0.01 * g * g
            p -= lr * g / (math.sqrt(h) + 1e-7)
            out.append(p)
    else:
        m = v = 0.0
        for i, g in enumerate((G1, G2), start=1):
            m += 0.1 * (g - m)
            v += 0.001 * (g * g - v)
            p -= lr * math.sqrt(1 - 0.999**i) / (1 - 0.9**i) * m / (math.sqrt(v) + 1e-7)
            out.append(p)
    return out


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_each_optimizer_takes_the_books_step(backend: Case, name: str) -> None:
    trainable(backend)
    opt = optimizers.get_optimizer(name, lr=0.1)
    params = {"W1": backend.asarray([[P0, P0]]), "b1": backend.asarray([P0])}
    original = xpnn.to_numpy(params["W1"]).copy()
    state = opt.init(params)
    for g, expected in zip((G1, G2), hand_steps(name, 0.1)):
        grads = {"W1": backend.asarray([[g, g]]), "b1": backend.asarray([g])}
        new, state = opt.update(params, grads, state)
        np.testing.assert_array_equal(xpnn.to_numpy(params["W1"]), original)  # nothing in place
        for key in params:
            assert_close(
                new[key], np.full(tuple(params[key].shape), expected), backend, dtype=params[key].dtype
            )
        params, original = new, xpnn.to_numpy(new["W1"]).copy()


#: Each optimizer's hyper-parameters (dataclass fields), ``lr`` first.
HYPER = {name: dataclasses.fields(cls) for name, cls in optimizers.OPTIMIZERS.items()}


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_optimizers_keep_float32(backend: Case, name: str) -> None:
    trainable(backend)
    # Every hyper-parameter a NumPy scalar (the book's values): none of them may promote.
    hyper = {f.name: np.float64(getattr(optimizers.OPTIMIZERS[name](), f.name)) for f in HYPER[name]}
    opt = optimizers.get_optimizer(name, **hyper)
    params = {"W1": backend.asarray([[1.0, 2.0]], np.float32)}
    state = opt.init(params)
    for _ in range(2):  # the second step uses the state the first one made
        params, state = opt.update(params, {"W1": backend.asarray([[0.5, 0.5]], np.float32)}, state)
        assert params["W1"].dtype == backend.dtype("float32")


@pytest.mark.parametrize(
    ("name", "field"), [(name, f.name) for name, fields in HYPER.items() for f in fields], ids=str
)
def test_hyper_parameters_are_python_floats_and_bad_ones_are_named(name: str, field: str) -> None:
    cls = optimizers.OPTIMIZERS[name]
    opt = cls(**{field: np.float64(0.5)})
    assert type(getattr(opt, field)) is float and getattr(opt, field) == 0.5
    assert type(cls(**{field: 1}).__dict__[field]) is float  # an int too
    assert sorted(vars(opt)) == sorted(f.name for f in HYPER[name])  # no other attribute set
    for bad, error, says in [
        ("fast", TypeError, "must be a real number; got 'fast'"),
        (None, TypeError, "must be a real number; got None"),
        (float("nan"), ValueError, "must be finite; got nan"),
        (np.float64("-inf"), ValueError, "must be finite; got "),
    ]:
        with pytest.raises(error, match=f"^{field} {re.escape(says)}"):
            cls(**{field: bad})


def test_get_optimizer_names_objects_and_errors() -> None:
    assert optimizers.get_optimizer("Adam", lr=0.01) == optimizers.Adam(lr=0.01)
    assert optimizers.get_optimizer("rmsprop", lr=0.1, decay_rate=0.9).decay_rate == 0.9
    custom = optimizers.SGD(lr=0.5)
    assert optimizers.get_optimizer(custom, lr=0.1) is custom
    assert isinstance(custom, optimizers.Optimizer)

    def says(message: str) -> str:
        return f"^{re.escape(message)}$"

    interface = "init(params) and update(params, grads, state)"
    names = "sgd, momentum, nesterov, adagrad, rmsprop, adam"
    with pytest.raises(
        ValueError,
        match=says(f"unknown optimizer 'adamw'; choose one of {names} or pass an object with {interface}"),
    ):
        optimizers.get_optimizer("adamw", lr=0.1)
    with pytest.raises(
        ValueError, match=says("optimizer 'sgd' takes no hyper-parameters besides lr; got ['momentum']")
    ):
        optimizers.get_optimizer("sgd", lr=0.1, momentum=0.9)
    with pytest.raises(
        ValueError,
        match=says("optimizer 'adam' takes beta1, beta2 besides lr; got ['decay_rate', 'momentum']"),
    ):
        optimizers.get_optimizer("adam", lr=0.1, momentum=0.9, decay_rate=0.5)
    with pytest.raises(
        ValueError,
        match=says(
            "hyper-parameters ['momentum'] apply to optimizers given by name; set them on your SGD object instead"
        ),
    ):
        optimizers.get_optimizer(custom, lr=0.1, momentum=0.9)

    class InitOnly:
        def init(self, params):
            return None

    class UpdateOnly:
        def update(self, params, grads, state):
            return params, state

    for wrong in (42, InitOnly(), UpdateOnly()):
        message = (
            f"optimizer must be a name ({names}) or an object with {interface}; got {type(wrong).__name__}"
        )
        with pytest.raises(TypeError, match=says(message)):
            optimizers.get_optimizer(wrong, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lr must be a real number"):
        optimizers.get_optimizer("sgd", lr="fast")  # type: ignore[arg-type]


# --- random_network --------------------------------------------------------------------------


@pytest.mark.parametrize(("weight_init", "scale"), [("he", 2.0), ("xavier", 1.0), (0.01, None)])
def test_random_network_scales(weight_init: object, scale: float | None) -> None:
    net = xpnn.random_network([400, 300, 10], weight_init=weight_init, seed=6)  # type: ignore[arg-type]
    assert [k for k in net] == ["W1", "b1", "W2", "b2"]
    assert all(v.dtype == np.float32 for v in net.values())
    for key, n_in in (("W1", 400), ("W2", 300)):
        expected = math.sqrt(scale / n_in) if scale else 0.01
        assert float(np.std(net[key])) == pytest.approx(expected, rel=0.05)
    assert not np.any(net["b1"]) and not np.any(net["b2"])


def test_random_network_same_seed_same_network() -> None:
    a = xpnn.random_network([5, 4, 3], seed=7, dtype="float64")
    b = xpnn.random_network([5, 4, 3], seed=7, dtype="float32")
    c = xpnn.random_network([5, 4, 3], seed=8, dtype="float64")
    for key in a:
        np.testing.assert_array_equal(a[key].astype(np.float32), b[key])
    assert not np.array_equal(a["W1"], c["W1"])
    with pytest.raises(ValueError, match="at least two positive layer widths"):
        xpnn.random_network([5])
    with pytest.raises(ValueError, match="unknown weight_init 'glorot'"):
        xpnn.random_network([5, 3], weight_init="glorot")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": [4, 0]}, "sizes needs at least two positive layer widths (input first); got [4, 0]"),
        ({"sizes": [5]}, "sizes needs at least two positive layer widths (input first); got [5]"),
        (
            {"weight_init": True},
            "weight_init must be 'he', 'xavier' or a finite standard deviation >= 0; got True",
        ),
        (
            {"weight_init": None},
            "weight_init must be 'he', 'xavier' or a finite standard deviation >= 0; got None",
        ),
        (
            {"weight_init": -0.01},
            "weight_init must be 'he', 'xavier' or a finite standard deviation >= 0; got -0.01",
        ),
        (
            {"weight_init": float("inf")},
            "weight_init must be 'he', 'xavier' or a finite standard deviation >= 0; got inf",
        ),
        (
            {"weight_init": float("nan")},
            "weight_init must be 'he', 'xavier' or a finite standard deviation >= 0; got nan",
        ),
        (
            {"weight_init": 1e39},
            "weight_init=1e+39 overflows float32 (its largest value is 3.403e+38): choose a smaller"
            " standard deviation",
        ),
        (
            {"weight_init": "glorot"},
            "unknown weight_init 'glorot'; choose 'he', 'xavier' or a standard deviation (0.01)",
        ),
        (
            {"dtype": "int32"},
            "dtype must be a real floating dtype (float32, float64, float16); got int32: weights are"
            " floating, and an integer or bool dtype would truncate every weight",
        ),
        (
            {"dtype": "complex64"},
            "dtype must be a real floating dtype (float32, float64, float16); got complex64: weights are"
            " real numbers, and a complex dtype would keep only part of them",
        ),
    ],
)
def test_random_network_refuses_what_is_not_a_network(kwargs: dict, message: str) -> None:
    kwargs = {"sizes": [4, 3], **kwargs}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        xpnn.random_network(**kwargs)


def test_random_network_edge_cases_that_are_fine() -> None:
    one_output = xpnn.random_network([3, 1], seed=0)  # a layer of width 1
    assert one_output["W1"].shape == (3, 1) and one_output["b1"].shape == (1,)
    zero = xpnn.random_network([3, 2], weight_init=0, seed=0)  # a standard deviation of 0: zeros
    assert not np.any(zero["W1"]) and zero["W1"].dtype == np.float32
    for name in ("HE", "Xavier", "ReLU", "SIGMOID"):  # names are case-insensitive
        assert xpnn.random_network([3, 2], weight_init=name, seed=0)["W1"].shape == (3, 2)


def test_activation_and_optimizer_names_are_case_insensitive() -> None:
    """``train``, ``loss`` and ``gradient`` read ``ReLU`` and ``Adam`` as the CLI does; a network
    placed with ``ReLU`` trains as ``relu``, and the trained network records ``relu``."""
    x, t = blobs(n=40)
    net = xpnn.random_network([6, 4, 3], seed=5)
    want, want_history = xpnn.train(net, x, t, activation="relu", optimizer="adam", iters=4, batch_size=10)
    runs = [
        xpnn.train(net, x, t, activation="ReLU", optimizer="Adam", iters=4, batch_size=10),
        xpnn.train(xpnn.to_backend(net, activation="ReLU"), x, t, optimizer="ADAM", iters=4, batch_size=10),
    ]
    for got, history in runs:
        assert got.activation == "relu" and history == want_history
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])
    assert xpnn.loss(net, x, t, activation="ReLU") == xpnn.loss(net, x, t, activation="relu")
    got_grads = xpnn.gradient(net, x, t, activation="Relu")
    for k, g in xpnn.gradient(net, x, t, activation="relu").items():
        np.testing.assert_array_equal(got_grads[k], g)


# --- train -----------------------------------------------------------------------------------


def blobs(n: int = 120, width: int = 6, classes: int = 3, seed: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Separable synthetic data: one Gaussian cluster per class."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((classes, width))
    t = rng.integers(0, classes, n)
    return centres[t] + rng.standard_normal((n, width)), t


def test_short_training_run_improves_accuracy(backend: Case, real_data_dir) -> None:
    trainable(backend)
    x, t = xpnn.load_mnist(normalize=True, split="test", data_dir=real_data_dir, download=False)
    x_train, t_train, x_test, t_test = x[:1000], t[:1000], x[1000:1500], t[1000:1500]
    net = xpnn.random_network([784, 16, 10], seed=0)
    before = xpnn.accuracy(net, x_test, t_test, activation="relu")
    trained, history = xpnn.train(
        net,
        backend.asarray(x_train),
        backend.asarray(t_train),
        activation="relu",
        optimizer="adam",
        lr=0.01,
        epochs=3,
        x_test=x_test,
        t_test=t_test,
        progress=False,
    )
    assert trained.backend == backend.name and repr(trained.device) == repr(backend.device)
    assert trained.dtype == backend.dtype("float32")  # float32 all the way through
    assert history["epoch"] == [1, 2, 3] and history["iteration"] == [10, 20, 30]
    assert all(type(v) is float for key in ("loss", "train_acc", "test_acc") for v in history[key])
    assert history["loss"][-1] < history["loss"][0]
    assert history["test_acc"][-1] > max(before + 0.4, 0.6)
    assert trained.activation == "relu"  # predict and accuracy use the network's own activation
    assert history["test_acc"][-1] == xpnn.accuracy(trained, x_test, t_test)
    np.testing.assert_array_equal(
        xpnn.to_numpy(xpnn.predict(trained, x_test)),
        xpnn.to_numpy(xpnn.predict(trained, x_test, activation="relu")),
    )
    np.testing.assert_array_equal(net["b1"], 0.0)  # the caller's network is left as it was


def test_same_seed_same_run_on_every_backend(backend: Case) -> None:
    trainable(backend)
    float64(backend)
    x, t = blobs()
    net = xpnn.random_network([6, 5, 3], seed=1, dtype="float64")
    runs = [
        xpnn.train(
            net,
            x,
            t,
            optimizer="momentum",
            lr=0.05,
            batch_size=16,
            iters=20,
            seed=3,
            progress=False,
            backend=name,
            device=device,
        )
        for name, device in (("numpy", None), (backend.name, backend.device))
    ]
    (reference_net, reference_history), (trained, history) = runs
    assert history.keys() == reference_history.keys()
    for key, values in history.items():
        assert values == pytest.approx(reference_history[key], rel=1e-9), key
    for key in net:
        assert_close(trained[key], xpnn.to_numpy(reference_net[key]), backend, factor=1024)
    other, _ = xpnn.train(
        net, x, t, optimizer="momentum", lr=0.05, batch_size=16, iters=20, seed=4, progress=False
    )
    assert not np.allclose(xpnn.to_numpy(other["W1"]), xpnn.to_numpy(reference_net["W1"]))


def test_iters_is_the_books_loop_and_epochs_shuffle() -> None:
    x, t = blobs(n=40)
    net = xpnn.random_network([6, 3], seed=2)
    _, history = xpnn.train(net, x, t, iters=10, batch_size=10, progress=False)  # 4 per epoch
    assert history["iteration"] == [4, 8, 10] and history["epoch"] == [1, 2, 3]
    _, history = xpnn.train(net, x, t, epochs=2, batch_size=16, progress=False)  # 16 + 16 + 8
    assert history["iteration"] == [3, 6]
    assert set(history) == {"epoch", "iteration", "loss", "train_acc"}


def test_one_epoch_sees_every_example_once(monkeypatch: pytest.MonkeyPatch) -> None:
    x, t = blobs(n=50)
    seen: list[np.ndarray] = []
    real = xpnn.Sequential.loss_and_gradient  # every network's one training step

    def spy(net, xb, tb, **kwargs):
        seen.append(xb.copy())
        return real(net, xb, tb, **kwargs)

    monkeypatch.setattr(xpnn.Sequential, "loss_and_gradient", spy)
    xpnn.train(xpnn.random_network([6, 3], dtype="float64"), x, t, epochs=1, batch_size=16, progress=False)
    rows = np.concatenate(seen)
    assert [len(b) for b in seen] == [16, 16, 16, 2]
    np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(x, axis=0))


def test_train_is_gradient_descent_on_whole_batches(backend: Case) -> None:
    """batch_size=N: each epoch is one step on the whole data, whatever the order, so the run is
    the book's update written out here, weight decay and the activation included."""
    trainable(backend)
    float64(backend)
    x, t = blobs(n=12, width=4)
    x_test, t_test = blobs(n=6, width=4, seed=10)
    net = xpnn.random_network([4, 5, 3], seed=3, dtype="float64")
    settings = {"activation": "relu", "weight_decay": 0.05}
    seen: list[dict] = []
    trained, history = xpnn.train(
        net, x, t, epochs=3, batch_size=12, lr=0.5, x_test=x_test, t_test=t_test, progress=False,
        on_epoch=seen.append, backend=backend.name, device=backend.device, **settings,
    )  # fmt: skip
    params, losses, train_acc, test_acc = dict(net), [], [], []
    for _ in range(3):
        losses.append(xpnn.loss(params, x, t, **settings))
        grads = xpnn.gradient(params, x, t, **settings)
        params = {k: v - 0.5 * grads[k] for k, v in params.items()}
        train_acc.append(xpnn.accuracy(params, x, t, activation="relu"))
        test_acc.append(xpnn.accuracy(params, x_test, t_test, activation="relu"))
    for key in net:
        assert_close(trained[key], params[key], backend, factor=256)
    assert history["epoch"] == [1, 2, 3] and history["iteration"] == [1, 2, 3]
    assert history["loss"] == pytest.approx(losses, rel=1e-12)
    assert history["train_acc"] == train_acc and history["test_acc"] == test_acc
    assert seen == [{k: v[i] for k, v in history.items()} for i in range(3)]  # one entry per epoch


def test_history_loss_is_the_mean_of_the_batch_losses(monkeypatch: pytest.MonkeyPatch) -> None:
    x, t = blobs(n=20)
    values: list[float] = []
    real = xpnn.Sequential.loss_and_gradient

    def spy(net, xb, tb, **kwargs):
        value, grads, state = real(net, xb, tb, **kwargs)
        values.append(float(value))
        return value, grads, state

    monkeypatch.setattr(xpnn.Sequential, "loss_and_gradient", spy)
    _, history = xpnn.train(xpnn.random_network([6, 3], seed=4), x, t, iters=7, batch_size=5, progress=False)
    assert history["iteration"] == [4, 7]  # 4 per epoch, then 3
    assert history["loss"] == pytest.approx([np.mean(values[:4]), np.mean(values[4:])], rel=1e-6)


def test_iters_draws_with_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    """The book's loop: each batch drawn at random from all N examples, repeats allowed."""
    x, t = np.eye(6), np.arange(6) % 3  # row i is example i
    drawn: list[np.ndarray] = []
    real = xpnn.Sequential.loss_and_gradient

    def spy(net, xb, tb, **kwargs):
        drawn.append(np.argmax(xb, axis=1))
        return real(net, xb, tb, **kwargs)

    monkeypatch.setattr(xpnn.Sequential, "loss_and_gradient", spy)
    xpnn.train(xpnn.random_network([6, 3], seed=4), x, t, iters=12, batch_size=3, progress=False)
    epochs = [np.concatenate(drawn[i : i + 2]) for i in range(0, 12, 2)]  # 2 batches of 3 per epoch
    assert any(len(set(e.tolist())) < 6 for e in epochs), "some epoch draws an example twice"
    assert set(np.concatenate(drawn).tolist()) == set(range(6)), "every example can be drawn"


def test_epochs_per_iteration_when_a_batch_holds_everything() -> None:
    x, t = blobs(n=8)
    net = xpnn.random_network([6, 3], seed=1)
    _, history = xpnn.train(net, x, t, iters=3, batch_size=50, progress=False)  # batch_size >= N: N
    assert history["iteration"] == [1, 2, 3] and history["epoch"] == [1, 2, 3]
    _, history = xpnn.train(net, x, t, batch_size=3, progress=False)  # neither iters nor epochs
    assert history["epoch"] == [1] and history["iteration"] == [3]


def test_progress_bar_counts_every_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    tqdm_auto = pytest.importorskip("tqdm.auto", reason="the progress bar needs tqdm")
    closed: list[tuple] = []

    class Recording(tqdm_auto.tqdm):  # type: ignore[misc,name-defined]
        def close(self) -> None:
            closed.append((self.n, self.total))
            super().close()

    monkeypatch.setattr(tqdm_auto, "tqdm", Recording)
    x, t = blobs(n=20)
    xpnn.train(xpnn.random_network([6, 3]), x, t, iters=5, batch_size=8, progress=True)
    assert closed and set(closed) == {(5, 5)}  # (tqdm may close twice)


def test_train_errors_are_clear() -> None:
    x, t = blobs(n=20)
    net = xpnn.random_network([6, 3])

    def says(message: str) -> str:
        return f"^{re.escape(message)}$"

    with pytest.raises(
        ValueError, match=says("give iters= (the book's loop, drawn with replacement) or epochs=, not both")
    ):
        xpnn.train(net, x, t, iters=1, epochs=1)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        xpnn.train(net, x, t, batch_size=0)
    with pytest.raises(ValueError, match=says("batch_size must be a positive integer; got None")):
        xpnn.train(net, x, t, batch_size=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown optimizer"):
        xpnn.train(net, x, t, optimizer="lbfgs")
    for test_data in ({"x_test": x}, {"t_test": t}):
        with pytest.raises(ValueError, match=says("give both x_test and t_test, or neither")):
            xpnn.train(net, x, t, **test_data)
    with pytest.raises(ValueError, match=r"^20 inputs but t of shape \(5,\)"):
        xpnn.train(net, x, t[:5])
    with pytest.raises(ValueError, match=r"label 3 at index \d+ is not a class index in \[0, 3\)"):
        xpnn.train(net, x, np.where(t == 2, 3, t))
    with pytest.raises(ValueError, match=r"label \d\.5 at index 0 is not a class index"):
        xpnn.train(net, x, t + 0.5)
    with pytest.raises(TypeError, match=r"dtype bool: labels must be .*: convert them, e.g. t.astype\(int\)"):
        xpnn.train(net, x, t == 1)
    with pytest.raises(TypeError, match=r"labels must be integer class indices.*t.astype\(int\)"):
        xpnn.train(net, x, t.astype(str))
    with pytest.raises(ValueError, match=says("x must have shape (N, 6) to fit W1; got (20, 4)")):
        xpnn.train(net, x[:, :4], t, batch_size=5)  # the whole data's shape, not a batch's
    for empty in (x[:0], 5.0):
        with pytest.raises(
            ValueError, match=says("no training data: x must have shape (N, n_in) with N >= 1")
        ):
            xpnn.train(net, empty, t[:0])


@pytest.mark.sessions("dask")
def test_dask_input_says_to_train_on_numpy() -> None:
    da = pytest.importorskip("dask.array", reason="needs dask")
    x, t = blobs(n=20)
    with pytest.raises(ValueError, match="train on NumPy or CuPy.*predict on Dask"):
        xpnn.train(xpnn.random_network([6, 3]), da.from_array(x), t)
    with pytest.raises(ValueError, match="train on NumPy or CuPy"):
        xpnn.train(xpnn.random_network([6, 3]), x, t, backend="dask")


def test_custom_optimizer_object() -> None:
    class Halve:
        def init(self, params):
            return 0

        def update(self, params, grads, state):
            return {k: p * 0.5 for k, p in params.items()}, state + 1

    x, t = blobs(n=20)
    net = xpnn.random_network([6, 3], seed=3)
    trained, _ = xpnn.train(net, x, t, optimizer=Halve(), iters=2, batch_size=10, progress=False)
    np.testing.assert_allclose(trained["W1"], net["W1"] * 0.25)


# --- the command line and the example ----------------------------------------------------------


@pytest.mark.skipif(REQUESTED[:1] != ["numpy"], reason="the command runs once, in the NumPy session")
def test_cli_train_then_mnist_evaluates_the_result(real_data_dir, tmp_path) -> None:
    import shlex

    from test_cli import xpnn_cli

    if not (real_data_dir / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("the MNIST training files are not in XPNN_DATA_DIR")
    out = tmp_path / "net.npz"
    common = ["--data-dir", str(real_data_dir), "--no-download"]
    result = xpnn_cli(
        "train", "--train-size", "500", "--iters", "12", "--batch-size", "100", "--out", str(out), *common
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("784-50-10 relu, sgd lr 0.1, batch 100, float32, 500 images on numpy cpu"), first
    lines = [ln for ln in result.stdout.splitlines() if "train acc, test acc |" in ln]
    assert len(lines) == 3  # 5 iterations per epoch: 5, 10, 12
    test_acc = float(lines[-1].rsplit(",", 1)[1])
    assert f"test accuracy {test_acc:.4f}" in result.stdout
    assert f"weights written to {out}" in result.stdout and out.is_file()
    # the file records its activation (relu): the printed command needs no --activation
    (hint,) = [ln for ln in result.stdout.splitlines() if ln.startswith("evaluate them with: ")]
    command = shlex.split(hint.removeprefix("evaluate them with: "))
    assert command[:2] == ["xpnn", "mnist"] and "--activation" not in command, hint
    assert xpnn.load_weights(out).activation == "relu"
    assert command[command.index("--data-dir") + 1] == str(real_data_dir), hint
    evaluated = xpnn_cli(*command[1:], "--no-download")
    assert evaluated.returncode == 0, evaluated.stderr
    assert float(evaluated.stdout.splitlines()[0].removeprefix("Accuracy:")) == pytest.approx(
        test_acc, abs=1e-4
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sizes", "784,abc,10"], "--sizes takes layer widths such as 784,50,10; got '784,abc,10'"),
        (["--sizes", "100,10"], "MNIST needs 784 inputs and 10 outputs: --sizes 784,...,10; got '100,10'"),
        (["--sizes", "784,5"], "MNIST needs 784 inputs and 10 outputs"),
        (["--out", "w.pkl"], "--out must name a .npz or .safetensors file; got 'w.pkl'"),
    ],
)
def test_cli_train_errors_are_one_line(args, message, tmp_path) -> None:
    from test_cli import xpnn_cli

    result = xpnn_cli("train", *args, "--data-dir", str(tmp_path), "--no-download")
    assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert message in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_train_mnist_example_draws_the_learning_curve(backend: Case, real_data_dir, tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    trainable(backend)
    if not (real_data_dir / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("the MNIST training files are not in XPNN_DATA_DIR")
    png = tmp_path / "curve.png"
    example = Path(__file__).parent.parent / "examples" / "train_mnist.py"
    result = subprocess.run(
        [sys.executable, "-W", "error", str(example), "--train-size", "300", "--iters", "6", "--plot", str(png),
         "--data-dir", str(real_data_dir), "--no-download", *backend.cli_args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("train acc, test acc |") == 2
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(REQUESTED[:1] != ["numpy"], reason="runs once, in the NumPy session")
def test_training_benchmark_runs_and_writes_results(real_data_dir, tmp_path) -> None:
    """Speed is read from the benchmark's output, never asserted here; only that it runs."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    if not (real_data_dir / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("the MNIST training files are not in XPNN_DATA_DIR")
    script = Path(__file__).parent.parent / "benchmarks" / "train.py"
    result = subprocess.run(
        [sys.executable, str(script), "book-ch5", "--iters", "20", "--rounds", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, XPNN_DATA_DIR=str(real_data_dir)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "train-book-ch5.json").read_text())
    assert set(data["times_s"]) == set(data["test_acc"]) and len(data["times_s"]) == 4
    assert "| code |" in (tmp_path / "train-book-ch5.md").read_text()


def test_progress_bar_on_request_only(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm")
    x, t = blobs(n=20)
    net = xpnn.random_network([6, 3])
    xpnn.train(net, x, t, iters=3, batch_size=10, progress=True)
    err = capsys.readouterr().err
    assert "/3 [" in err and re.search(r"[?\d]it/s\]", err), err  # a bar over 3 iterations ("it")
    assert err.split("\r")[-2].strip() == "" and not err.endswith("\n"), err  # cleared at the end
    xpnn.train(net, x, t, iters=3, batch_size=10, progress=False)
    xpnn.train(net, x, t, iters=3, batch_size=10)  # None: short runs show none
    assert capsys.readouterr().err == ""


def test_progress_bar_by_default_from_2000_iterations(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm")
    x, t = blobs(n=2000, width=2)  # batch_size=1: one epoch of 2,000 tiny steps (a fraction of a second)
    net = xpnn.random_network([2, 3], seed=1)
    xpnn.train(net, x[:1999], t[:1999], iters=1999, batch_size=1)
    assert capsys.readouterr().err == ""
    xpnn.train(net, x, t, iters=2000, batch_size=1)
    assert "/2000 [" in capsys.readouterr().err


def test_progress_without_tqdm(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """progress=True without tqdm says what to install; the default just trains without a bar."""
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # `from tqdm.auto import tqdm` fails
    x, t = blobs(n=2000, width=2)
    net = xpnn.random_network([2, 3], seed=1)
    with pytest.raises(ImportError) as e:
        xpnn.train(net, x[:20], t[:20], iters=1, batch_size=10, progress=True)
    assert str(e.value) == (  # the one wording of xpnn.backends.missing_extra
        "progress=True needs the `progress` extra: pip install 'xpnn[progress]' (in a clone:"
        " pip install -e '.[progress]'); tqdm cannot be imported here (import of tqdm.auto halted; None in sys.modules)"
    )
    trained, _ = xpnn.train(net, x, t, iters=2000, batch_size=1)
    assert not np.array_equal(trained["W1"], net["W1"]) and capsys.readouterr().err == ""


def test_train_defaults_are_the_documented_ones_and_data_may_be_lists() -> None:
    """sgd, lr 0.1, seed 0 and sigmoid; ``x`` and ``t`` as Python lists train the same."""
    x, t = blobs(n=40)
    net = xpnn.random_network([6, 4, 3], seed=5)
    common = {"iters": 3, "batch_size": 8, "progress": False}
    explicit, _ = xpnn.train(
        net, x, t, optimizer=optimizers.SGD(lr=0.1), seed=0, activation="sigmoid", **common
    )
    for data in ((x, t), (x.tolist(), t.tolist())):
        default, _ = xpnn.train(net, *data, **common)
        for key in net:
            np.testing.assert_array_equal(default[key], explicit[key])
    other_seed, _ = xpnn.train(net, x, t, seed=1, **common)
    assert not np.array_equal(other_seed["W1"], explicit["W1"]), "the seed chooses the batches"


def test_training_imports_no_optional_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, xpnn\n"
        "xpnn.train(xpnn.random_network([3, 2]), np.eye(3), np.array([0, 1, 1]), iters=2, batch_size=2)\n"
        "print(sorted(m for m in ('tqdm', 'matplotlib', 'torch', 'jax', 'cupy', 'dask') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_train_takes_integral_float_labels_and_numpy_integers(backend: Case) -> None:
    trainable(backend)
    x, t = blobs(n=20)
    net = xpnn.random_network([6, 3], seed=1)
    on = {"backend": backend.name, "device": backend.device, "progress": False}
    reference, _ = xpnn.train(net, x, t, iters=2, batch_size=10, **on)
    floats, _ = xpnn.train(
        net,
        x,
        xpnn.asarray(t.astype(np.float32), backend=backend.name, device=backend.device),
        iters=2,
        batch_size=10,
        **on,
    )
    numpy_ints, _ = xpnn.train(net, x, t, iters=np.int64(2), batch_size=np.int64(10), **on)
    for trained in (floats, numpy_ints):
        for key in reference:
            np.testing.assert_array_equal(xpnn.to_numpy(trained[key]), xpnn.to_numpy(reference[key]))
    assert not np.array_equal(xpnn.to_numpy(reference["W1"]), net["W1"]), "it trained"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"lr": -0.1}, "lr must be a non-negative finite number; got -0.1"),
        ({"lr": float("nan")}, "lr must be a non-negative finite number; got nan"),
        ({"lr": float("inf")}, "lr must be a non-negative finite number; got inf"),
        ({"lr": "0.1"}, "lr must be a non-negative finite number; got '0.1'"),
        ({"weight_decay": -1.0}, "weight_decay must be a non-negative finite number; got -1.0"),
        ({"progress": "yes"}, "progress must be True, False or None; got 'yes'"),
        ({"iters": 2.5}, "iters must be a positive integer"),
        ({"epochs": np.int64(0)}, "epochs must be a positive integer"),
    ],
)
def test_train_refuses_impossible_settings(kwargs: dict, message: str) -> None:
    x, t = blobs(n=20)
    with pytest.raises(ValueError, match=message):
        xpnn.train(xpnn.random_network([6, 3]), x, t, **{"progress": False, **kwargs})


def test_random_network_refuses_fractional_sizes_and_negative_seeds() -> None:
    with pytest.raises(ValueError, match=r"sizes must hold integers; got 2.5"):
        xpnn.random_network([4, 2.5, 3])
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        xpnn.random_network([4, 3], seed=-1)
    assert xpnn.random_network(np.array([4, 3]))["W1"].shape == (4, 3)


def test_labels_errors_name_the_problem_on_every_backend(backend: Case) -> None:
    trainable(backend)
    x, t = blobs(n=6)
    net = xpnn.random_network([6, 3])
    on_backend = {"backend": backend.name, "device": backend.device}
    convert = r": labels must be integer class indices \(or one-hot rows of 0 and 1\): convert them, e\.g\. t\.astype\(int\)$"
    for f in (xpnn.gradient, xpnn.train):
        with pytest.raises(
            TypeError, match=r"^t of shape \(6,\) and dtype bool" + convert
        ):  # the caller's dtype
            f(net, x, t == 1, **on_backend)
        with pytest.raises(TypeError, match=r"^t of shape \(6,\) and dtype bool" + convert):
            f(net, x, backend.asarray(t == 1), **on_backend)  # the backend's own bool array
        with pytest.raises(TypeError, match=r"^t of shape \(6,\) and dtype <U1" + convert):
            f(net, x, [str(v) for v in t], **on_backend)
        with pytest.raises(
            ValueError,
            match=r"^t of shape \(6,\) and dtype float(32|64): label \d\.5 at index 0 is not a class index in \[0, 3\)$",
        ):
            f(net, x, t + 0.5, **on_backend)
        bad = int(np.argmax(t == 2))
        for value in (3, -1):
            with pytest.raises(
                ValueError,
                match=rf"^t of shape \(6,\) and dtype int\d+: label {value} at index {bad} is not a class index in \[0, 3\)$",
            ):
                f(net, x, np.where(t == 2, value, t), **on_backend)
    with pytest.raises(
        ValueError,
        match="^"
        + re.escape("unknown activation 'swish'; choose one of ['identity', 'relu', 'sigmoid', 'tanh']")
        + "$",
    ):
        xpnn.loss(net, x, t, activation="swish", **on_backend)
    with pytest.raises(
        ValueError,
        match="^"
        + re.escape("unknown activation ['relu']; choose one of ['identity', 'relu', 'sigmoid', 'tanh']"),
    ):
        xpnn.train(net, x, t, activation=["relu"], **on_backend)  # type: ignore[arg-type]


DASK_MESSAGE = (
    "^xpnn does not train on Dask arrays: train on NumPy or CuPy \\(x\\.compute\\(\\) brings a Dask array home\\),"
    " then predict on Dask with the trained network$"
)


@pytest.mark.sessions("dask")
def test_dask_anywhere_in_training_says_to_train_on_numpy() -> None:
    da = pytest.importorskip("dask.array", reason="needs dask")
    x, t = blobs(n=20)
    net = xpnn.random_network([6, 3])
    for f in (xpnn.loss, xpnn.gradient, xpnn.numerical_gradient):
        with pytest.raises(ValueError, match=DASK_MESSAGE):
            f(net, da.from_array(x), t)
        with pytest.raises(ValueError, match=DASK_MESSAGE):
            f(net, x, t, backend="dask")
    with pytest.raises(ValueError, match=DASK_MESSAGE):
        xpnn.train(net, x, t, x_test=da.from_array(x), t_test=t)
    # Before any other argument is judged: the Dask message is the one to act on first.
    with pytest.raises(ValueError, match=DASK_MESSAGE):
        xpnn.train(net, da.from_array(x), t, iters=1, epochs=1)
    with pytest.raises(ValueError, match=DASK_MESSAGE):
        xpnn.train(net, x, t, backend="dask", iters=1, epochs=1)


def test_a_compiled_network_cannot_be_trained() -> None:
    pytest.importorskip("onnxruntime", reason="compile('onnxruntime') needs onnxruntime")
    x, t = blobs(n=4)
    fast = xpnn.compile(xpnn.random_network([6, 3]), "onnxruntime")
    with pytest.raises(
        TypeError,
        match=r"^training needs a book-style dict, a Network or an xpnn.Sequential network of arrays; got \w+Network$",
    ):
        xpnn.gradient(fast, x, t)


def test_loss_and_gradient_of_no_inputs_is_a_clear_error(backend: Case) -> None:
    trainable(backend)
    x, t = blobs(n=4)
    net = xpnn.random_network([6, 3])
    on = {"backend": backend.name, "device": backend.device}
    for f in (xpnn.loss, xpnn.gradient):
        with pytest.raises(ValueError, match="no inputs"):
            f(net, x[:0], t[:0], **on)


# --- issue 24: every argument checked once, the same way, before any work ----------------------


@pytest.mark.parametrize("value", [-100.0, -1e-9, float("nan"), float("inf"), "0.1", True])
def test_weight_decay_has_one_check_everywhere(value: object) -> None:
    """loss and gradient took weight_decay=-100 (a loss of -476) and nan; train refused them."""
    net, x, t = problem((3, 2), n=2)
    message = f"^weight_decay must be a non-negative finite number; got {re.escape(repr(value))}$"
    for f in (xpnn.loss, xpnn.gradient, xpnn.numerical_gradient, xpnn.train):
        with pytest.raises(ValueError, match=message):
            f(net, x, t, weight_decay=value)  # type: ignore[arg-type]


@pytest.fixture
def no_step(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the training steps taken: a refusal must come before the first one."""
    steps: list[int] = []
    real = xpnn.Sequential.loss_and_gradient  # every network's one training step

    def counted(*args, **kwargs):
        steps.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(xpnn.Sequential, "loss_and_gradient", counted)
    return steps


_T20 = blobs(n=20)[1]  # the labels of test_train_checks_every_argument_before_the_first_step


def _with(a: np.ndarray, row: int, value: float) -> np.ndarray:
    a = a.astype(np.float64)
    a[row, 1] = value
    return a


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x, t: {"x": _with(x, 12, np.nan)}, "x row 12 has NaN: drop or repair those rows"),
        (
            lambda x, t: {"x": _with(_with(x, 3, np.inf), 7, np.nan)},
            "x row 3 has infinity (1 more rows hold NaN or infinity): drop or repair those rows",
        ),
        (lambda x, t: {"x": x[:, :4]}, "x must have shape (N, 6) to fit W1; got (20, 4)"),
        (lambda x, t: {"x_test": x[:, :5]}, "x_test must have shape (N, 6) to fit W1; got (20, 5)"),
        (
            lambda x, t: {"x_test": x.reshape(5, 2, 2, 6)},
            "x_test must have shape (N, 6) to fit W1; got (5, 2, 2, 6)",
        ),
        (lambda x, t: {"x_test": x[:0]}, "x_test must have shape (N, 6) to fit W1; got (0, 6)"),
        (lambda x, t: {"x_test": _with(x, 19, -np.inf)}, "x_test row 19 has infinity: drop or repair"),
        (lambda x, t: {"t_test": t[:7]}, "20 inputs but t_test of shape (7,)"),
        (lambda x, t: {"t_test": np.where(t == 1, 5, t)}, f"t_test of shape (20,) and dtype DTYPE: label 5 at index {int(np.argmax(_T20 == 1))} is not a class index in [0, 3)"),
        (
            lambda x, t: {"t": _with(np.eye(3)[t], 4, np.nan)},
            "t of shape (20, 3) and dtype DTYPE: row 4 is not one-hot (exactly one 1, the rest 0): [",
        ),
        (
            lambda x, t: {"t": np.full((20, 3), 1.0 / 3.0)},
            "t of shape (20, 3) and dtype DTYPE: row 0 is not one-hot (exactly one 1, the rest 0): [",
        ),
        (
            lambda x, t: {"t_test": _with(np.eye(3)[t], 6, 0.5)},
            "t_test of shape (20, 3) and dtype DTYPE: row 6 is not one-hot (exactly one 1, the rest 0): [",
        ),
        (
            lambda x, t: {"net": {**xpnn.random_network([6, 3]), "b1": np.array([0.0, np.nan, 0.0], np.float32)}},
            "the network's b1 holds NaN or infinity: training cannot start from it"
            " (draw a new one with xpnn.random_network)",
        ),
        (lambda x, t: {"on_epoch": "print"}, "on_epoch must be a function of one dict, or None; got str"),
    ],
    ids=[
        "x-nan-row", "x-inf-row", "x-width", "x_test-width", "x_test-4d", "x_test-empty", "x_test-inf",
        "t_test-count", "t_test-values", "t-one-hot-nan", "t-soft-rows", "t_test-soft-row", "net-nan", "on_epoch",
    ],
)  # fmt: skip
def test_train_checks_every_argument_before_the_first_step(
    backend: Case, no_step: list[int], change, message: str
) -> None:
    """x_test was judged only after the first epoch's steps, a NaN in x later as 'output of row 0'."""
    trainable(backend)
    x, t = blobs(n=20)
    args = {"net": xpnn.random_network([6, 3]), "x": x, "t": t, "x_test": x, "t_test": t, **change(x, t)}
    args = {k: backend.asarray(v) if isinstance(v, np.ndarray) else v for k, v in args.items()}
    pattern = "^" + re.escape(message).replace(
        "DTYPE", r"\w+"
    )  # the caller's dtype: float32 on JAX without x64
    with pytest.raises((ValueError, TypeError), match=pattern):
        xpnn.train(
            args.pop("net"), args.pop("x"), args.pop("t"), epochs=1, batch_size=5, progress=False,
            backend=backend.name, device=backend.device, **args,
        )  # fmt: skip
    assert no_step == [], "refused only after training steps"


def test_a_clean_run_takes_its_steps(no_step: list[int]) -> None:
    x, t = blobs(n=20)
    xpnn.train(xpnn.random_network([6, 3]), x, t, x_test=x, t_test=np.eye(3)[t], epochs=1, batch_size=5)
    assert len(no_step) == 4


# --- issue 26: each optimizer's own learning rate ------------------------------------------


@pytest.mark.parametrize(
    ("name", "lr"),
    [
        ("sgd", 0.1),
        ("momentum", 0.01),
        ("nesterov", 0.01),
        ("adagrad", 0.01),
        ("rmsprop", 0.01),
        ("adam", 0.001),
    ],
)
def test_each_optimizer_trains_with_its_own_learning_rate(name: str, lr: float) -> None:
    """train(optimizer="adam") kept SGD's 0.1; lr=None (the default) is the optimizer's own."""
    x, t = blobs(n=40)
    net = xpnn.random_network([6, 4, 3], seed=5)
    common = {"iters": 4, "batch_size": 8, "progress": False, "optimizer": name}
    explicit, _ = xpnn.train(net, x, t, lr=lr, **common)
    assert xpnn.training.default_lr(name) == lr
    for given in ({}, {"lr": None}):
        default, _ = xpnn.train(net, x, t, **given, **common)
        for key in net:
            np.testing.assert_array_equal(default[key], explicit[key])
    other, _ = xpnn.train(net, x, t, lr=lr * 3, **common)
    assert not np.array_equal(other["W1"], explicit["W1"]), "lr reaches the optimizer"


def test_optimizer_defaults_are_the_books() -> None:
    assert optimizers.get_optimizer("adam") == optimizers.Adam(lr=0.001)
    assert optimizers.get_optimizer("sgd") == optimizers.SGD(lr=0.01)  # the class's; train uses 0.1
    assert optimizers.get_optimizer("RMSprop", lr=None).lr == 0.01
    with pytest.raises(ValueError, match="^unknown optimizer 'lbfgs'; choose one of sgd, momentum"):
        xpnn.training.default_lr("lbfgs")


# --- issue 26.4: the book's gradient check is a float64 check ------------------------------


def test_gradient_check_agrees_to_the_books_digits_in_float64_only() -> None:
    """The book's ch05/gradient_check.py shows ~1e-13..1e-10 differences; float32 gives ~1e-4."""
    rng = np.random.default_rng(0)
    x, t = rng.random((3, 20)), rng.integers(0, 5, 3)
    for dtype, low, high in (("float64", 0.0, 1e-9), ("float32", 1e-7, 1e-2)):
        net = xpnn.random_network([20, 10, 5], weight_init=0.01, seed=0, dtype=dtype)
        numerical = xpnn.numerical_gradient(net, x, t, activation="relu")
        analytic = xpnn.gradient(net, x, t, activation="relu")
        worst = max(float(np.mean(np.abs(numerical[k] - analytic[k]))) for k in net)
        assert low <= worst <= high, (dtype, worst)


def test_gradient_check_example(real_data_dir, tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    if not (real_data_dir / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("the MNIST training files are not in XPNN_DATA_DIR")
    example = Path(__file__).parent.parent / "examples" / "gradient_check.py"
    result = subprocess.run(
        [sys.executable, "-W", "error", str(example), "--hidden", "5", "--data-dir", str(real_data_dir),
         "--no-download"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[-4:]] == ["W1", "b1", "W2", "b2"]
    assert all(float(line.split(":")[1]) < 1e-8 for line in lines[-4:]), result.stdout


@pytest.mark.parametrize(
    "make",
    [
        lambda t: np.full(
            (len(t), 3), 1.0 / 3.0
        ),  # soft rows: trained a whole epoch, then failed in accuracy
        lambda t: np.where(np.arange(len(t))[:, None] == 4, [0.2, 0.3, 0.5], np.eye(3)[t]),
        lambda t: np.eye(3)[t] * 2.0,
        lambda t: np.where(np.arange(len(t)) == 3, 1.5, t),
        lambda t: np.where(np.arange(len(t)) == 5, 3, t),
        lambda t: t[:, None],
        lambda t: t.astype(bool),
    ],
    ids=["soft-rows", "one-soft-row", "twos", "fraction", "out-of-range", "column", "bool"],
)
def test_train_and_accuracy_share_one_label_check(backend: Case, no_step: list[int], make) -> None:
    """Issue: train judged one-hot rows by finiteness alone, accuracy by one-hotness; now one check, before any step."""
    trainable(backend)
    x, t = blobs(n=20)
    net = xpnn.random_network([6, 3], seed=1)
    labels = backend.asarray(make(t))
    with pytest.raises((ValueError, TypeError)) as in_accuracy:
        xpnn.accuracy(xpnn.to_backend(net, backend.name, backend.device), backend.asarray(x), labels)
    with pytest.raises(type(in_accuracy.value)) as in_train:
        xpnn.train(net, x, labels, epochs=1, batch_size=5, backend=backend.name, device=backend.device)
    assert no_step == [], "the labels were refused only after training steps"
    assert str(in_train.value) == "t" + str(in_accuracy.value).removeprefix("labels")


def test_huge_rates_and_bad_seeds_are_named() -> None:
    """Attack finding 10: lr=10**400 raised a raw OverflowError, seed=1.5 or 'a' NumPy's TypeError."""
    x, t = blobs(n=6)
    net = xpnn.random_network([6, 3])
    for name in ("lr", "weight_decay"):
        with pytest.raises(
            ValueError, match=rf"^{name} must be a non-negative finite number; got 1000000"
        ) as e:
            xpnn.train(net, x, t, epochs=1, **{name: 10**400})
        assert len(str(e.value)) < 120, "the message quotes 400 digits"
    seeds = "seed must be a non-negative integer, None, or a numpy.random.Generator / SeedSequence; got "
    for seed, shown in ((1.5, "float 1.5"), ("a", "str 'a'"), (True, "bool True"), ([1, 2], "list [1, 2]")):
        for f in (
            lambda seed=seed: xpnn.train(net, x, t, epochs=1, seed=seed),
            lambda seed=seed: xpnn.random_network([6, 3], seed=seed),
        ):
            with pytest.raises(TypeError, match="^" + re.escape(seeds + shown) + "$"):
                f()
    for seed in (None, 2**70, np.int64(3), np.random.default_rng(1), np.random.SeedSequence(2)):
        assert xpnn.random_network([2, 2], seed=seed)["W1"].shape == (2, 2)


def test_layer_network_refusals_name_the_network_and_its_input() -> None:
    """A layer network takes no activation=, and a wrong image shape is named against its input."""
    net = xpnn.SimpleConvNet(
        (1, 6, 6), {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}, 4, 3, 0.1, seed=0
    )
    x, t = np.zeros((4, 1, 6, 6), np.float32), np.array([0, 1, 2, 0])
    with pytest.raises(
        ValueError, match=r"^a layer network's activations are its layers: leave out activation=$"
    ):
        xpnn.train(net, x, t, epochs=1, activation="relu")
    message = "x must have shape (N, 1, 6, 6) to fit the network's input; got (4, 1, 5, 5)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        xpnn.train(net, x[:, :, :5, :5], t, epochs=1)
