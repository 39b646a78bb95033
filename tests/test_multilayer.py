"""The book's ch. 6 networks (issue 20 items 3 and 5): MultiLayerNet, MultiLayerNetExtend, the examples.

The specification is the book's ``common/multi_layer_net.py`` and ``multi_layer_net_extend.py``:
its parameter names and shapes, its weight scales, its weight decay (``0.5 * lambda * sum W**2``
in the loss, ``lambda * W`` in the gradient), and gradients equal to the numerical gradient.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import Case, assert_close, host, tolerance

import xpnn
from xpnn.nn import MultiLayerNet, MultiLayerNetExtend, train_network

EXAMPLES = Path(__file__).parent.parent / "examples"

#: Central differences in float64 with h = 1e-5 agree with the exact gradient to about 1e-9
#: (truncation h**2, rounding eps/h); 1e-6 leaves room and still fails a wrong gradient.
NUMERICAL_GRADIENT_TOL = 1e-6


def numerical_gradient(loss, params: dict[str, np.ndarray], h: float = 1e-5) -> dict[str, np.ndarray]:
    """The book's central difference ``(f(x+h) - f(x-h)) / 2h``, element by element, in float64."""
    grads = {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus, minus = value.copy(), value.copy()
            plus[idx] += h
            minus[idx] -= h
            g[idx] = (loss({**params, key: plus}) - loss({**params, key: minus})) / (2 * h)
        grads[key] = g
    return grads


def small_net(**kw) -> MultiLayerNetExtend:
    return MultiLayerNetExtend(6, [5, 4], 3, seed=1, **kw)


CONFIGS = {
    "relu+decay": {"weight_decay_lambda": 0.1},
    "sigmoid+xavier": {"activation": "sigmoid", "weight_init_std": "xavier"},
    "batchnorm+dropout+decay": {
        "use_batchnorm": True,
        "use_dropout": True,
        "dropout_ration": 0.3,
        "weight_decay_lambda": 0.05,
    },
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_gradient_equals_the_numerical_gradient(backend: Case, config: str) -> None:
    if not backend.has_float64():
        pytest.skip(f"{backend.name} has no float64 on {backend.device}: the check is in float64")
    if backend.name == "dask":
        pytest.skip("training does not run on Dask")
    net = small_net(**CONFIGS[config])
    data = np.random.default_rng(2)
    x, t = data.standard_normal((8, 6)), data.integers(0, 3, 8)
    # random biases, gammas and betas: zero biases put ReLU inputs on its kink (a row of dead
    # units gives exactly 0), where the central difference is half the gradient
    net = net.replace(
        {k: v + 0.3 * data.standard_normal(v.shape) for k, v in net.params.items() if k[0] != "W"}
    )
    placed = net.to_backend(backend.name, backend.device)
    # the same seed each time: the same dropout masks in every forward pass
    loss, grads, _ = placed.loss_and_gradient(
        placed.prepare_input(backend.asarray(x)), backend.asarray(t), rng=np.random.default_rng(7)
    )
    host_params = {k: np.asarray(v) for k, v in net.params.items()}

    def f(params: dict[str, np.ndarray]) -> float:
        return float(net.replace(params).loss(x, t, train=True, rng=np.random.default_rng(7)))

    expected = numerical_gradient(f, host_params)
    assert sorted(grads) == sorted(host_params)
    for key, g in grads.items():
        assert g.dtype == placed.dtype
        np.testing.assert_allclose(
            host(g, backend),
            expected[key],
            rtol=NUMERICAL_GRADIENT_TOL,
            atol=NUMERICAL_GRADIENT_TOL,
            err_msg=key,
        )
    assert float(host(loss, backend)) == pytest.approx(f(host_params), rel=1e-12)


def test_dropout_masks_make_the_gradient_differ_from_no_dropout() -> None:
    # the fixed-mask check above could pass with dropout ignored; this one would not
    x, t = np.random.default_rng(2).standard_normal((8, 6)), np.arange(8) % 3
    with_drop = small_net(use_dropout=True, dropout_ration=0.3)
    without = small_net()
    g1 = with_drop.loss_and_gradient(x, t, rng=np.random.default_rng(7))[1]
    g0 = without.loss_and_gradient(x, t, rng=np.random.default_rng(7))[1]
    assert not np.allclose(g1["W1"], g0["W1"])


def test_parameter_names_and_shapes_are_the_books() -> None:
    net = MultiLayerNetExtend(784, [100, 50], 10, use_batchnorm=True, seed=0)
    shapes = {k: tuple(v.shape) for k, v in net.params.items()}
    assert shapes == {
        "W1": (784, 100), "b1": (100,), "gamma1": (100,), "beta1": (100,),
        "W2": (100, 50), "b2": (50,), "gamma2": (50,), "beta2": (50,),
        "W3": (50, 10), "b3": (10,),
    }  # fmt: skip
    assert sorted(net.state) == ["running_mean1", "running_mean2", "running_var1", "running_var2"]
    plain = MultiLayerNet(784, [100, 100, 100], 10, seed=0)
    assert list(plain.params) == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    assert plain.n_in == (784,) and plain.n_out == 10
    assert np.all(np.asarray(net.params["gamma1"]) == 1.0) and np.all(np.asarray(net.params["b2"]) == 0.0)


@pytest.mark.parametrize(
    ("spec", "scale"),
    [("relu", 2.0), ("he", 2.0), ("sigmoid", 1.0), ("xavier", 1.0), ("HE", 2.0), (0.05, None)],
)
def test_weight_init_std_is_the_books(spec, scale) -> None:
    net = MultiLayerNet(400, [800], 500, weight_init_std=spec, seed=3)
    for key, n in (("W1", 400), ("W2", 800)):
        expected = 0.05 if scale is None else np.sqrt(scale / n)
        w = np.asarray(net.params[key])
        assert abs(w.mean()) < 0.01 * expected * 10
        assert w.std() == pytest.approx(expected, rel=0.01)  # 320,000 draws: std error 0.13%


def test_a_zero_weight_init_std_gives_zero_weights() -> None:
    net = MultiLayerNet(4, [3], 2, weight_init_std=0.0, seed=0)
    assert all(not np.any(np.asarray(net.params[k])) for k in ("W1", "W2"))


def test_weight_decay_term_in_loss_and_gradient() -> None:
    x, t = np.random.default_rng(4).random((10, 6)), np.arange(10) % 3
    plain = small_net()
    decayed = small_net(weight_decay_lambda=0.3)
    w = {k: np.asarray(v) for k, v in plain.params.items()}
    term = 0.5 * 0.3 * sum(float(np.sum(w[k] ** 2)) for k in ("W1", "W2", "W3"))
    assert float(decayed.loss(x, t)) == pytest.approx(float(plain.loss(x, t)) + term, rel=1e-12)
    l0, g0, _ = plain.loss_and_gradient(x, t)
    l1, g1, _ = decayed.loss_and_gradient(x, t)
    assert float(l1) == pytest.approx(float(l0) + term, rel=1e-12)
    for k in g0:
        expected = g0[k] + 0.3 * w[k] if k[0] == "W" else g0[k]
        np.testing.assert_allclose(g1[k], expected, rtol=1e-12, atol=1e-15)


def test_the_nets_run_with_predict_accuracy_to_backend_and_train_network(backend: Case) -> None:
    data = np.random.default_rng(5)
    x, t = data.random((40, 6)), data.integers(0, 3, 40)
    net = small_net(use_batchnorm=True, use_dropout=True, weight_decay_lambda=0.1)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    assert isinstance(placed, MultiLayerNetExtend) and placed.weight_decay_lambda == 0.1
    scores = net.forward(x)  # NumPy float64 (the running statistics start at zero, as the book's)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    assert_close(xpnn.predict_proba(placed, backend.asarray(x)), e / e.sum(axis=1, keepdims=True), backend)
    assert 0.0 <= xpnn.accuracy(placed, backend.asarray(x), backend.asarray(t)) <= 1.0
    if backend.name == "dask":
        return
    trained, history = train_network(placed, x, t, optimizer="sgd", lr=0.1, batch_size=10, epochs=3)
    assert isinstance(trained, MultiLayerNetExtend) and trained.weight_decay_lambda == 0.1
    assert len(history["loss"]) == 3 and all(np.isfinite(history["loss"]))
    moved = {
        k for k in net.params if not np.allclose(host(trained.params[k], backend), np.asarray(net.params[k]))
    }
    # every parameter learns but the biases before batch normalization (it subtracts the mean:
    # their gradient is zero up to rounding)
    assert moved >= set(net.params) - {"b1", "b2"}
    for k in ("b1", "b2"):
        change = host(trained.params[k], backend) - np.asarray(net.params[k])
        assert np.max(np.abs(change)) < tolerance(str(placed.dtype), 1e3)
    assert any(not np.allclose(host(v, backend), 0.0) for v in trained.state.values())


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"activation": "tanh"}, "activation is 'relu' or 'sigmoid'"),
        ({"weight_init_std": "lecun"}, "weight_init_std is 'relu' or 'he'"),
        ({"weight_init_std": -1.0}, "weight_init_std must be a finite number >= 0"),
        ({"weight_decay_lambda": -0.1}, "weight_decay_lambda must be a finite number >= 0"),
        ({"use_dropout": True, "dropout_ration": 1.0}, "dropout_ration is the share"),
    ],
)
def test_bad_arguments_are_clear_errors(kw, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        small_net(**kw)


def test_bad_sizes_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="every hidden size"):
        MultiLayerNet(784, [100, 0], 10)


# --- the examples -------------------------------------------------------------------------------

RESULT = re.compile(r"^result: (\S+)((?: \w+=-?[0-9.]+)+)$")


def run_example(name: str, *args: str) -> dict[str, dict[str, float]]:
    """Run ``examples/NAME`` as a user runs it; its ``result:`` lines as ``{name: {key: value}}``."""
    done = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("result:"):
            m = RESULT.match(line)
            assert m, f"unparsable result line {line!r}"
            results[m.group(1)] = {k: float(v) for k, v in (p.split("=") for p in m.group(2).split())}
    return results


@pytest.mark.parametrize(
    ("example", "args", "names", "keys"),
    [
        ("ch6_optimizers.py", ["--iters", "3"], {"SGD", "Momentum", "AdaGrad", "Adam"}, {"final_loss"}),
        ("ch6_weight_init.py", ["--iters", "3"], {"std=0.01", "Xavier", "He"}, {"final_loss"}),
        (
            "ch6_batch_norm.py",
            ["--iters", "20", "--scales", "0.01,1"],
            {"W=0.01", "W=1"},
            {"batchnorm_train_acc", "plain_train_acc"},
        ),
        (
            "ch6_overfit.py",
            ["--iters", "6", "--test-size", "100"],
            {"plain", "weight_decay_0.1", "dropout_0.2"},
            {"train_acc", "test_acc", "gap"},
        ),
    ],
)
def test_example_writes_its_png_and_result_lines(
    real_data_dir: Path, tmp_path: Path, example: str, args: list[str], names: set, keys: set
) -> None:
    out = tmp_path / "figure.png"
    results = run_example(
        example, *args, "--data-dir", str(real_data_dir), "--no-download", "--out", str(out)
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(results) == names
    for values in results.values():
        assert set(values) == keys
        assert all(np.isfinite(v) for v in values.values())
    if "final_loss" in keys:
        assert all(0.0 < v["final_loss"] < 10.0 for v in results.values())
    else:
        assert all(0.0 <= v <= 1.0 for r in results.values() for k, v in r.items() if k != "gap")


def test_example_with_a_missing_data_dir_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "ch6_optimizers.py"), "--data-dir", str(tmp_path), "--no-download",
         "--out", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_batch_norm_example_shows_the_books_result(real_data_dir: Path, tmp_path: Path) -> None:
    # 5 epochs at scale 0.01 (about 10 s): the plain net stays at chance, batch norm learns
    out = tmp_path / "bn.png"
    args = ["--iters", "50", "--scales", "0.01", "--out", str(out), "--no-download"]
    results = run_example("ch6_batch_norm.py", *args, "--data-dir", str(real_data_dir))
    r = results["W=0.01"]
    assert r["plain_train_acc"] < 0.2 < 0.6 < r["batchnorm_train_acc"]
