"""No library code writes in place: every public path runs on read-only NumPy arrays.

Two kinds of read-only input, as array-api-extra's ``NumPyReadOnly`` test backend does it:

- ``flag``: plain ``np.ndarray`` inputs and parameters with ``flags.writeable = False``. A write
  into a caller's array (``x /= 255``, ``params[k] -= lr * g``) raises ``ValueError``.
- ``frozen``: :class:`Frozen`, an ``ndarray`` subclass whose every result (ufuncs, NumPy
  functions, ``astype``, ``copy``; views inherit the flag) is a read-only ``Frozen`` again, so
  the arrays xpnn *creates* from read-only arrays are read-only too, and ``y += b`` or
  ``y[i] = v`` on an intermediate raises. array-api-compat sees an ``ndarray``, so xpnn's
  backend detection treats it as NumPy. Results are checked to still be ``Frozen``: the chain
  from input to output stayed read-only.

Where xpnn deliberately copies (``to_backend``, ``Sequential``, the estimators' validation), the
copies are made read-only through public access (``Network[key]``, ``Sequential.replace``).
NumPy-specific by design: it runs in the NumPy session only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest
from conftest import REQUESTED

import xpnn
from xpnn.nn import MultiLayerNetExtend, SimpleConvNet, col2im, im2col, train_network
from xpnn.optimizers import OPTIMIZERS, get_optimizer

pytestmark = pytest.mark.skipif(
    "numpy" not in REQUESTED, reason="read-only NumPy arrays: runs in the NumPy session"
)


def _plain(a: Any) -> Any:
    if isinstance(a, Frozen):
        return a.view(np.ndarray)  # a view: still read-only
    if isinstance(a, (list, tuple)):
        return type(a)(_plain(v) for v in a)
    return a


def _freeze(a: Any) -> Any:
    if isinstance(a, np.ndarray):
        a = a if type(a) is Frozen else a.view(Frozen)
        a.flags.writeable = False
        return a
    if isinstance(a, (list, tuple)):
        return type(a)(_freeze(v) for v in a)
    return a  # NumPy scalars are immutable already


class Frozen(np.ndarray):
    """A NumPy array whose results are all read-only ``Frozen`` arrays (see the module docstring).

    The wrapped call gets plain read-only views, so a NumPy function that writes into its own
    new arrays still works, while one that writes into an argument (``out=``) fails.
    """

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if "out" in kwargs:
            kwargs["out"] = _plain(kwargs["out"])
        return _freeze(getattr(ufunc, method)(*_plain(inputs), **kwargs))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _freeze(func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()}))

    def astype(self, *args: Any, **kwargs: Any) -> Any:
        return _freeze(self.view(np.ndarray).astype(*args, **kwargs))

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        return _freeze(self.view(np.ndarray).copy(*args, **kwargs))


def _flag(a: Any) -> np.ndarray:
    a = np.array(a)
    a.flags.writeable = False
    return a


def _frozen(a: Any) -> Frozen:
    return _freeze(np.array(a))


MAKERS: dict[str, Callable[[Any], np.ndarray]] = {"flag": _flag, "frozen": _frozen}


@pytest.fixture(params=list(MAKERS))
def ro(request: pytest.FixtureRequest) -> Callable[[Any], np.ndarray]:
    """Makes a read-only copy of an array (``ro.kind`` says which kind)."""
    make = MAKERS[request.param]
    make.kind = request.param  # type: ignore[attr-defined]
    return make


def _ro_dict(ro: Callable[[Any], np.ndarray], d: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: ro(v) for k, v in d.items()}


def _snapshot(*items: Any) -> list[Any]:
    """Writeable copies of arrays (and of dicts of arrays), to check later that nothing changed."""
    return [{k: np.array(v) for k, v in i.items()} if isinstance(i, Mapping) else np.array(i) for i in items]


def _assert_unchanged(items: tuple[Any, ...], before: list[Any]) -> None:
    for item, old in zip(items, before):
        if isinstance(item, Mapping):
            for k in old:
                np.testing.assert_array_equal(np.asarray(item[k]), old[k], err_msg=f"{k} changed")
        else:
            np.testing.assert_array_equal(np.asarray(item), old)


def _assert_read_only_result(ro: Any, *results: Any) -> None:
    """With ``frozen`` inputs, the library's results are read-only ``Frozen`` arrays too."""
    if ro.kind != "frozen":
        return
    for r in results:
        arrays = r.values() if isinstance(r, Mapping) else [r]
        for a in arrays:
            if isinstance(a, np.generic):  # a NumPy scalar (a reduction's result): immutable
                continue
            assert isinstance(a, Frozen), f"a {type(a).__name__} came back: the read-only chain broke"
            assert not a.flags.writeable


# --- the wrapper itself can fail -----------------------------------------------------------------


def test_frozen_results_refuse_in_place_writes() -> None:
    """Writes into anything computed from a ``Frozen`` array raise (else the tests below prove nothing)."""
    x = _frozen(np.arange(6.0).reshape(2, 3))
    y = np.exp(x)
    assert isinstance(y, Frozen)
    writes: list[Callable[[], object]] = [
        lambda: x.__iadd__(1.0),
        lambda: y.__iadd__(1.0),
        lambda: y.__setitem__(0, 0.0),
        lambda: y.T.__imul__(2.0),  # a view
        lambda: np.add(x, 1.0, out=y),
        lambda: np.copyto(np.zeros_like(x), 1.0),  # NumPy functions' results
        lambda: np.matmul(x, x.T).__isub__(1.0),
        lambda: x.astype(np.float32).__setitem__((0, 0), 1.0),
        lambda: np.reshape(x, (3, 2)).__setitem__((0, 0), 1.0),
    ]
    for write in writes:
        with pytest.raises(ValueError, match="read-only"):
            write()


def test_a_function_that_writes_in_place_fails(ro: Any) -> None:
    """What a library write looks like here: a function with ``y += b`` fails on these inputs."""

    def affine_in_place(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        y = x @ W if ro.kind == "frozen" else x  # on plain read-only input: the caller's array
        y += b
        return y

    with pytest.raises(ValueError, match="read-only"):
        affine_in_place(ro(np.ones((2, 2))), ro(np.eye(2)), ro(np.ones(2)))


# --- the math functions, placement and files --------------------------------------------------


def test_functions(ro: Any) -> None:
    rng = np.random.default_rng(10)
    x, W, b = ro(rng.standard_normal((4, 3))), ro(rng.standard_normal((3, 2))), ro(rng.standard_normal(2))
    t = ro(np.eye(3)[[0, 2, 1, 0]])
    before = _snapshot(x, W, b, t)
    for f in (xpnn.sigmoid, xpnn.relu, xpnn.softmax, xpnn.identity_function, xpnn.step_function):
        _assert_read_only_result(ro, f(x))
    _assert_read_only_result(ro, xpnn.affine(x, W, b), xpnn.softmax(x, axis=0))
    y = ro(xpnn.softmax(x))
    xpnn.cross_entropy_error(y, t)
    xpnn.cross_entropy_error(y, ro(np.array([0, 2, 1, 0])))
    _assert_unchanged((x, W, b, t), before)


def test_placement_and_files(ro: Any, tmp_path: Any) -> None:
    net = _ro_dict(ro, xpnn.random_network([4, 3, 2], seed=0, dtype="float32"))
    x = ro(np.random.default_rng(11).random((3, 4)))
    before = _snapshot(net, x)
    placed = xpnn.to_backend(net, "numpy", dtype="float64", activation="relu")
    xpnn.to_numpy(placed)
    xpnn.to_numpy(x)
    xpnn.asarray(x, backend="numpy")
    xpnn.shape_trace(net, x)
    for suffix in (".npz", ".safetensors"):
        for network in (net, _read_only_network(placed)):
            loaded = xpnn.load_weights(xpnn.save_weights(network, tmp_path / f"w{suffix}"))
            assert sorted(loaded) == sorted(net)
    _assert_unchanged((net, x), before)


# --- the ch. 3-5 dict and Network ----------------------------------------------------------------


def _data(rng: np.random.Generator, n: int, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.random((n, n_in)), rng.integers(0, n_out, n)


def test_inference_on_the_books_dict(ro: Any) -> None:
    net = _ro_dict(ro, xpnn.init_network())
    x = ro(np.random.default_rng(0).random((5, 2)))
    t = ro(np.array([0, 1, 0, 1, 1]))
    before = _snapshot(net, x, t)
    for activation in ("sigmoid", "relu"):
        for output in ("identity", "softmax"):
            y = xpnn.forward(net, x, activation=activation, output=output)
            _assert_read_only_result(ro, y)
    one = xpnn.forward(net, ro(np.array([1.0, 0.5])))
    _assert_read_only_result(ro, one)
    _assert_read_only_result(ro, xpnn.predict_proba(net, x), xpnn.predict(net, x, normalize=False))
    assert 0.0 <= xpnn.accuracy(net, x, t, normalize=False) <= 1.0
    _assert_unchanged((net, x, t), before)


def _read_only_network(network: xpnn.Network) -> xpnn.Network:
    """``network`` with every array it holds made read-only (a Network is a Mapping of them)."""
    for key in network:
        network[key].flags.writeable = False
    return network


def test_inference_on_a_relu_network(ro: Any) -> None:
    rng = np.random.default_rng(1)
    params = _ro_dict(ro, xpnn.random_network([6, 5, 4, 3], seed=0, dtype="float64"))
    x, t = (ro(a) for a in _data(rng, 7, 6, 3))
    before = _snapshot(params, x, t)
    net = _read_only_network(xpnn.to_backend(params, "numpy", activation="relu"))
    for xin in (x, ro(x[0])):
        assert xpnn.forward(net, xin, output="softmax").shape[-1] == 3
    assert xpnn.predict_proba(net, x).shape == (7, 3)
    assert xpnn.predict(net, x, normalize=False).shape == (7,)
    xpnn.accuracy(net, x, t, normalize=False)
    _assert_read_only_result(ro, xpnn.forward(params, x, activation="relu"))  # the dict, as it is
    _assert_unchanged((params, x, t), before)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_loss_and_gradients(ro: Any, activation: str) -> None:
    rng = np.random.default_rng(2)
    net = _ro_dict(ro, xpnn.random_network([4, 3, 3], seed=0, dtype="float64"))
    x, t = (ro(a) for a in _data(rng, 5, 4, 3))
    onehot = ro(np.eye(3)[np.asarray(t)])
    before = _snapshot(net, x, t, onehot)
    for labels in (t, onehot):
        assert xpnn.loss(net, x, labels, activation=activation, weight_decay=0.1) > 0.0
        g = xpnn.gradient(net, x, labels, activation=activation, weight_decay=0.1)
        _assert_read_only_result(ro, g)
        n = xpnn.numerical_gradient(net, x, labels, activation=activation, weight_decay=0.1)
        assert sorted(n) == sorted(g)
    targets = ro(rng.random((5, 3)))
    xpnn.loss(net, x, targets, loss="squared_error")
    _assert_read_only_result(ro, xpnn.gradient(net, x, targets, loss="squared_error"))
    _assert_unchanged((net, x, t, onehot), before)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_train_one_epoch(ro: Any, optimizer: str) -> None:
    rng = np.random.default_rng(3)
    net = _ro_dict(ro, xpnn.random_network([4, 5, 3], seed=0, dtype="float64"))
    x, t = (ro(a) for a in _data(rng, 12, 4, 3))
    x_test, t_test = (ro(a) for a in _data(rng, 4, 4, 3))
    before = _snapshot(net, x, t, x_test, t_test)
    trained, history = xpnn.train(
        net, x, t, optimizer=optimizer, batch_size=4, epochs=1, x_test=x_test, t_test=t_test, progress=False
    )
    assert history["epoch"] == [1]
    xpnn.train(net, x, t, optimizer=optimizer, batch_size=5, iters=3, activation="relu", progress=False)
    xpnn.predict(_read_only_network(trained), x, normalize=False)
    _assert_unchanged((net, x, t, x_test, t_test), before)


# --- the estimators ----------------------------------------------------------------------------


def test_estimators_fit_and_predict(ro: Any) -> None:
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(4)
    x = ro(rng.random((20, 4)))
    labels = ro(rng.integers(0, 3, 20))
    targets = ro(rng.random((20, 2)))
    weights = ro(rng.random(20) + 0.5)
    before = _snapshot(x, labels, targets, weights)
    classifier = xpnn.MLPClassifier((5,), max_iter=2, batch_size=8, random_state=0, tol=0.0)
    regressor = xpnn.MLPRegressor(hidden_layer_sizes=(5,), max_iter=2, batch_size=8, random_state=0, tol=0.0)
    with pytest.warns(Warning, match="(?i)converge"):  # two epochs: scikit-learn's ConvergenceWarning
        classifier.fit(x, labels, sample_weight=weights)
    with pytest.warns(Warning, match="(?i)converge"):
        regressor.fit(x, targets)
    assert classifier.predict(x).shape == (20,)
    assert classifier.predict_proba(x).shape == (20, 3)
    assert regressor.predict(x).shape == (20, 2)
    classifier.score(x, labels)
    classifier.partial_fit(x, labels)
    _assert_unchanged((x, labels, targets, weights), before)


# --- the layer networks (ch. 6-8) ------------------------------------------------------------------


def _read_only_layers(ro: Any, net: Any) -> Any:
    """``net`` with every array (parameters and state) replaced by a read-only copy."""
    return net.replace({k: ro(v) for k, v in {**net.params, **net.state}.items()})


def _check_layer_network(ro: Any, net: Any, x: np.ndarray, t: np.ndarray) -> None:
    before = _snapshot(net.params, net.state, x, t)
    xb = net.prepare_input(x)
    _assert_read_only_result(ro, xpnn.predict_proba(net, x), net.forward(xb))
    xpnn.predict(net, x)
    xpnn.accuracy(net, x, t)
    loss, grads, state = net.loss_and_gradient(xb, t, rng=np.random.default_rng(0))
    assert sorted(grads) == sorted(net.params)
    _assert_read_only_result(ro, loss, grads, state)
    net.loss(xb, t, train=True, rng=np.random.default_rng(0))
    trained, history = train_network(net, x, t, batch_size=2, epochs=1, optimizer="adam", x_test=x, t_test=t)
    assert history["epoch"] == [1]
    xpnn.predict(_read_only_layers(ro, trained), x)
    _assert_unchanged((net.params, net.state, x, t), before)


@pytest.mark.parametrize(
    ("batchnorm", "dropout", "activation"),
    [(True, False, "relu"), (False, True, "relu"), (True, True, "relu"), (True, True, "sigmoid")],
)
def test_multilayer_net_extend(ro: Any, batchnorm: bool, dropout: bool, activation: str) -> None:
    rng = np.random.default_rng(5)
    net = MultiLayerNetExtend(
        6,
        [5, 4],
        3,
        activation,
        use_batchnorm=batchnorm,
        use_dropout=dropout,
        weight_decay_lambda=0.1,
        seed=0,
    )
    x, t = (ro(a) for a in _data(rng, 4, 6, 3))
    _check_layer_network(ro, _read_only_layers(ro, net), x, t)


def test_simple_convnet(ro: Any) -> None:
    rng = np.random.default_rng(6)
    conv = {"filter_num": 3, "filter_size": 3, "pad": 1, "stride": 1}
    net = SimpleConvNet((1, 6, 6), conv_param=conv, hidden_size=5, output_size=3, seed=0)
    x, t = ro(rng.random((3, 1, 6, 6))), ro(rng.integers(0, 3, 3))
    _check_layer_network(ro, _read_only_layers(ro, net), x, t)


def test_deep_convnet(ro: Any) -> None:
    """The book's DeepConvNet on 8x8 images (three 2x2 pools: 8 -> 1) with few filters."""
    rng = np.random.default_rng(7)
    params = {
        f"conv_param_{i}": {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1} for i in range(1, 7)
    }
    net = xpnn.DeepConvNet((1, 8, 8), **params, hidden_size=4, output_size=3, seed=0)  # type: ignore[arg-type]
    x, t = ro(rng.random((2, 1, 8, 8))), ro(rng.integers(0, 3, 2))
    _check_layer_network(ro, _read_only_layers(ro, net), x, t)


@pytest.mark.parametrize(("stride", "pad"), [(1, 0), (2, 1)])
def test_im2col_and_col2im(ro: Any, stride: int, pad: int) -> None:
    x = ro(np.random.default_rng(8).random((2, 3, 5, 5)))
    before = _snapshot(x)
    col = im2col(x, 3, 3, stride, pad)
    _assert_read_only_result(ro, col)
    col = ro(col)
    back = col2im(col, (2, 3, 5, 5), 3, 3, stride, pad)
    assert back.shape == (2, 3, 5, 5)
    _assert_read_only_result(ro, back)
    _assert_unchanged((x,), before)


# --- the optimizers ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_update(ro: Any, name: str) -> None:
    rng = np.random.default_rng(9)
    params = {"W1": ro(rng.random((3, 2))), "b1": ro(rng.random(2))}
    grads = {k: ro(rng.random(v.shape)) for k, v in params.items()}
    before = _snapshot(params, grads)
    opt = get_optimizer(name)
    state = opt.init(params)
    new, state = opt.update(params, grads, state)
    _assert_read_only_result(ro, new)
    if state is not None and ro.kind == "flag":  # the state of a step, made read-only for the next
        state = _freeze_state(state)
    for _ in range(2):  # a second step reads the state the first one made
        new, state = opt.update(new, grads, state)
        _assert_read_only_result(ro, new)
    _assert_unchanged((params, grads), before)


def _freeze_state(state: Any) -> Any:
    if isinstance(state, np.ndarray):
        state.flags.writeable = False
    elif isinstance(state, Mapping):
        for v in state.values():
            _freeze_state(v)
    elif isinstance(state, (list, tuple)):
        for v in state:
            _freeze_state(v)
    elif hasattr(state, "__dict__"):
        for v in vars(state).values():
            _freeze_state(v)
    return state
