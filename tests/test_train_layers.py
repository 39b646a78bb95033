"""``xpnn.train`` runs every network (issue 20 item 4; issue 19: one training loop).

The book's ch. 6-7 layer networks train through the same call as its ch. 4-5 dict: batch
normalization in training mode (its running statistics come back in the trained network),
dropout on during training and off at inference, the masks and the mini-batch order from the
one seeded source, so a seed gives the same run on every backend (the reference: NumPy float64).
Labels are judged by the one label check before any step, at every entry point.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Case, host, tolerance

import xpnn
from xpnn import MultiLayerNetExtend, SimpleConvNet

CONV = {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8x8 one-channel images, a bright column for class 0 and a bright row for class 1."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    x = rng.random((n, 1, 8, 8)) * 0.2
    lines = np.zeros((n, 1, 8, 8))
    where = rng.integers(0, 8, n)
    for i in range(n):  # a fixture on the host: assignment is fine here
        if t[i]:
            lines[i, 0, :, where[i]] = 1.0
        else:
            lines[i, 0, where[i], :] = 1.0
    return x + 0.8 * lines, t


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 6)), rng.integers(0, 3, n)


NETWORKS = {
    "simple_convnet": (lambda **kw: SimpleConvNet((1, 8, 8), CONV, 8, 2, 0.1, seed=0, **kw), _images),
    "batchnorm_dropout": (
        lambda **kw: MultiLayerNetExtend(
            6, [5, 4], 3, seed=1, use_batchnorm=True, use_dropout=True, dropout_ration=0.3, **kw
        ),
        _rows,
    ),
}


def _dtype(backend: Case) -> str:
    return "float64" if backend.has_float64() else "float32"


def _train(net, x, t):
    return xpnn.train(net, x, t, optimizer="sgd", lr=0.1, batch_size=10, epochs=2, seed=3)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_train_runs_a_layer_network_the_same_on_every_backend(backend: Case, name: str) -> None:
    make, data = NETWORKS[name]
    x, t = data(30, 0)
    if backend.name == "dask":
        net = make(backend="dask")
        with pytest.raises(ValueError, match="^xpnn does not train on Dask arrays: train on NumPy"):
            _train(net, x, t)
        return
    reference, ref_history = _train(make(dtype="float64"), x, t)
    net = make(dtype=_dtype(backend), backend=backend.name, device=backend.device)
    before = {k: host(v, backend) for k, v in {**net.params, **net.state}.items()}
    trained, history = _train(net, x, backend.asarray(t))
    assert type(trained) is type(net) and trained.backend == backend.name
    assert list(history) == ["epoch", "iteration", "loss", "train_acc"] and history["iteration"] == [3, 6]
    rtol = tolerance(trained.dtype, 1e4)
    np.testing.assert_allclose(history["loss"], ref_history["loss"], rtol=rtol)
    for key, value in {**trained.params, **trained.state}.items():
        got = host(value, backend).astype(np.float64)
        np.testing.assert_allclose(got, reference.to_numpy()[key], rtol=rtol, atol=rtol, err_msg=key)
        assert not np.array_equal(got, before[key]), f"{key} did not change in training"
    after = {k: host(v, backend) for k, v in {**net.params, **net.state}.items()}
    assert all(np.array_equal(after[k], before[k]) for k in before), "the network given was modified"


def test_dropout_is_on_in_training_only_and_drawn_from_the_seed() -> None:
    make, data = NETWORKS["batchnorm_dropout"]
    x, t = data(30, 0)
    net = make(dtype="float64")
    runs = [xpnn.train(net, x, t, epochs=1, batch_size=30, lr=0.1, seed=s)[0] for s in (5, 5, 6)]
    same, other = runs[0].params, runs[2].params
    assert all(np.array_equal(same[k], runs[1].params[k]) for k in same)
    assert not np.array_equal(same["W1"], other["W1"])  # another seed, other masks
    # at inference no mask is drawn: predictions do not depend on any generator
    assert np.array_equal(xpnn.predict_proba(runs[0], x), xpnn.predict_proba(runs[0], x))


def test_gradient_of_a_layer_network_is_its_numerical_gradient() -> None:
    make, data = NETWORKS["batchnorm_dropout"]
    x, t = data(8, 2)
    net = make(dtype="float64", weight_decay_lambda=0.05)
    analytic = xpnn.gradient(net, x, t, seed=4)
    numeric = xpnn.numerical_gradient(net, x, t, seed=4, h=1e-5)
    assert sorted(analytic) == sorted(net.params)
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-6, atol=1e-8, err_msg=key)
    other = xpnn.gradient(net, x, t, seed=5)
    assert not np.allclose(other["W1"], analytic["W1"])  # the masks come from the seed


def test_loss_of_a_layer_network_is_its_inference_cross_entropy() -> None:
    make, data = NETWORKS["batchnorm_dropout"]
    x, t = data(12, 1)
    net = xpnn.train(make(dtype="float64"), x, t, epochs=3, batch_size=4)[0]  # running statistics set
    p = xpnn.predict_proba(net, x)
    expected = -np.mean(np.log(p[np.arange(12), t]))
    assert xpnn.loss(net, x, t, weight_decay=0.0) == pytest.approx(expected, rel=1e-12)


def test_soft_labels_are_refused_before_any_step_by_every_entry_point(steps: list[int]) -> None:
    x, labels = _images(4, 0)
    soft = np.eye(2)[labels]
    soft[2] = [0.5, 0.5]
    not_one_hot = r"row 2 is not one-hot \(exactly one 1, the rest 0\): \[0\.5 0\.5\]"
    net = NETWORKS["simple_convnet"][0]()
    with pytest.raises(ValueError, match=not_one_hot):
        xpnn.accuracy(net, x, soft)  # inference's check is training's
    with pytest.raises(ValueError, match=not_one_hot):
        xpnn.train(net, x, soft)
    with pytest.raises(ValueError, match=not_one_hot):
        xpnn.nn.train_network(net, x, soft)
    with pytest.raises(ValueError, match=not_one_hot):
        xpnn.train(xpnn.random_network([64, 2]), x.reshape(4, 64), soft)
    assert steps == []  # MLPClassifier.fit: tests/test_estimator.py (scikit-learn's own rule)
    xpnn.nn.train_network(net, x, np.eye(2)[labels])  # one-hot rows are labels too
    assert len(steps) == 1


def test_train_uses_a_networks_own_weight_decay_unless_given() -> None:
    x, t = _rows(20, 0)
    net = MultiLayerNetExtend(6, [5], 3, seed=1, weight_decay_lambda=0.5, dtype="float64")
    runs = {
        decay: xpnn.train(net, x, t, epochs=2, batch_size=5, weight_decay=decay)[0].params["W1"]
        for decay in (None, 0.5, 0.0)
    }
    np.testing.assert_array_equal(runs[None], runs[0.5])  # None: weight_decay_lambda
    assert not np.allclose(runs[None], runs[0.0])


def test_raw_pixels_for_a_convnet_warn_once_before_training() -> None:
    x, t = _images(6, 0)
    with pytest.warns(xpnn.UnscaledInputWarning, match="train has no normalize: divide by 255 first"):
        xpnn.train(NETWORKS["simple_convnet"][0](), (x * 255).astype(np.uint8), t, epochs=1)


class _Counting:
    """SGD that counts its steps."""

    def __init__(self) -> None:
        self.inner, self.steps = xpnn.optimizers.get_optimizer("sgd", lr=0.1), 0

    def init(self, params):
        return self.inner.init(params)

    def update(self, params, grads, state):
        self.steps += 1
        return self.inner.update(params, grads, state)


def test_train_network_takes_batches_of_100_and_keeps_a_short_history() -> None:
    """The book's Trainer: mini-batches of 100 by default; a history of ``epoch`` and ``loss``."""
    net = MultiLayerNetExtend(6, [5], 3, seed=0)
    x, t = _rows(101, 0)
    counting = _Counting()
    _, history = xpnn.nn.train_network(net, x, t, optimizer=counting, epochs=2)
    assert counting.steps == 4 and list(history) == ["epoch", "loss"]


def test_train_network_refuses_bad_arguments_by_name() -> None:
    net = MultiLayerNetExtend(6, [5], 3, seed=0)
    x, t = _rows(10, 0)
    with pytest.raises(TypeError, match=r"^train_network trains an xpnn.Sequential network; got dict"):
        xpnn.nn.train_network({"W1": np.zeros((6, 3)), "b1": np.zeros(3)}, x, t)
    with pytest.raises(ValueError, match=r"^give both x_test and t_test, or neither$"):
        xpnn.nn.train_network(net, x, t, x_test=x)
    with pytest.raises(ValueError, match=r"^seed must be a non-negative integer or None; got -1$"):
        xpnn.nn.train_network(net, x, t, seed=-1)
