"""The book's networks and ``forward`` on every backend."""

from __future__ import annotations

import re
from types import MappingProxyType, SimpleNamespace

import numpy as np
import pytest
import reference
from conftest import Case, assert_close, host

import xpnn
from xpnn import network as network_module


def test_toy_network_matches_the_book(backend: Case) -> None:
    net = xpnn.init_network()
    x = np.array([1.0, 0.5])
    y = xpnn.forward(net, backend.asarray(x))
    dtype = backend.dtype("float64") if backend.has_float64() else backend.default_float
    assert_close(y, reference.forward(net, x), backend, dtype=dtype)


def test_backend_argument_moves_input_and_weights(backend: Case) -> None:
    net = xpnn.init_network()
    y = xpnn.forward(net, [1.0, 0.5], backend=backend.name, device=backend.device)
    assert_close(y, reference.forward(net, np.array([1.0, 0.5])), backend)


def test_batch_rows_equal_single_rows(backend: Case) -> None:
    net = reference.random_network((6, 5, 4, 3), np.float32)
    x = np.random.default_rng(2).standard_normal((7, 6)).astype(np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    batch = xpnn.to_numpy(xpnn.forward(placed, backend.asarray(x)))
    rows = np.stack([xpnn.to_numpy(xpnn.forward(placed, backend.asarray(row))) for row in x])
    np.testing.assert_allclose(batch, rows, rtol=4 * np.finfo(np.float32).eps, atol=1e-6)
    assert_close(
        xpnn.forward(placed, backend.asarray(x)), reference.forward(net, x), backend, dtype=placed.dtype
    )


def test_weights_decide_the_dtype(backend: Case) -> None:
    net = reference.random_network((4, 3, 2), np.float32)
    x = np.random.default_rng(3).standard_normal((5, 4))  # float64 input
    y = xpnn.forward(net, backend.asarray(x, dtype=x.dtype if backend.has_float64() else np.float32))
    assert_close(y, reference.forward(net, x), backend, dtype=backend.dtype("float32"), factor=64)


def test_uint8_input_is_cast_on_the_device(backend: Case) -> None:
    net = reference.random_network((8, 4, 3), np.float32)
    x = np.random.default_rng(4).integers(0, 256, (5, 8), dtype=np.uint8)
    y = xpnn.forward(net, backend.asarray(x))
    assert_close(
        y, reference.forward(net, x.astype(np.float64)), backend, dtype=backend.dtype("float32"), factor=64
    )


@pytest.mark.parametrize("sizes", [(3, 2), (5, 4, 3, 2, 6)])
def test_n_layer_networks(backend: Case, sizes: tuple[int, ...]) -> None:
    net = reference.random_network(sizes, np.float32, seed=len(sizes))
    x = np.random.default_rng(5).standard_normal((4, sizes[0])).astype(np.float32)
    y = xpnn.forward(net, backend.asarray(x), activation="relu", output="softmax")
    expected = reference.forward(net, x, hidden=reference.relu, output=reference.softmax)
    assert_close(y, expected, backend, factor=64)


def test_custom_functions(backend: Case) -> None:
    net = reference.random_network((3, 4, 2), np.float32)
    x = np.ones((2, 3), dtype=np.float32)
    y = xpnn.forward(net, backend.asarray(x), activation=xpnn.step_function, output=xpnn.sigmoid)
    expected = reference.forward(net, x, hidden=lambda a: (a > 0).astype(float), output=reference.sigmoid)
    assert_close(y, expected, backend, factor=64)


def test_a_placed_network_runs_where_it_lives(backend: Case) -> None:
    placed = xpnn.to_backend(reference.random_network((4, 3, 2), np.float32), backend.name, backend.device)
    x = backend.asarray(np.ones((2, 4), dtype=np.float32))
    assert network_module.place(placed, x) is placed
    assert network_module.place(placed, x, backend=backend.name, device=backend.device) is placed
    assert placed.backend == backend.name
    assert xpnn.backend_of(placed["W1"]) == backend.name


def test_a_dict_is_placed_per_call_and_to_backend_once(
    backend: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No hidden cache: forward(dict) uploads the weights on each call; to_backend uploads them once."""
    net = reference.random_network((4, 3, 2), np.float32)
    calls: list[tuple[int, ...]] = []
    original = type(backend.impl).from_host

    def counting(self, a, device):
        calls.append(a.shape)
        return original(self, a, device)

    monkeypatch.setattr(type(backend.impl), "from_host", counting)
    x = np.ones((2, 4), dtype=np.float32)
    for _ in range(3):
        xpnn.forward(net, x, backend=backend.name, device=backend.device)
    weight_uploads = [s for s in calls if s != x.shape]
    # NumPy uses the host arrays as they are; every other backend uploads the 4 arrays per call.
    assert len(weight_uploads) == (0 if backend.name == "numpy" else 12), weight_uploads
    calls.clear()
    placed = xpnn.to_backend(net, backend.name, backend.device)
    for _ in range(3):
        xpnn.forward(placed, x)
    assert len([s for s in calls if s != x.shape]) == 4  # a private copy, on every backend


@pytest.mark.parametrize("edit", ["in_place", "replace_key"])
def test_editing_the_dict_is_never_stale(backend: Case, edit: str) -> None:
    net = reference.random_network((4, 3, 2), np.float32)
    x = np.ones((2, 4), dtype=np.float32)
    before = xpnn.to_numpy(xpnn.forward(net, x, backend=backend.name, device=backend.device))
    if edit == "in_place":
        net["W2"][0, 0] += 5.0
    else:
        net["W2"] = net["W2"] * 3.0
    after = xpnn.forward(net, x, backend=backend.name, device=backend.device)
    assert not np.allclose(xpnn.to_numpy(after), before)
    assert_close(after, reference.forward(net, x), backend, factor=64)


def test_placed_network_is_read_only_and_reads_like_the_dict(backend: Case) -> None:
    net = xpnn.init_network()
    placed = xpnn.to_backend(net, backend.name, backend.device)
    assert list(placed) == list(net)
    assert placed.sizes == (2, 3, 2, 2)
    assert_close(placed["W2"], net["W2"], backend, dtype=placed.dtype, factor=1)
    with pytest.raises(TypeError):
        placed["W1"] = net["W1"]  # type: ignore[index]
    with pytest.raises(KeyError):
        placed["W4"]


def test_placed_network_follows_its_backend_for_host_input(backend: Case) -> None:
    placed = xpnn.to_backend(xpnn.init_network(), backend.name, backend.device)
    y = xpnn.forward(placed, np.array([1.0, 0.5]))
    assert_close(y, reference.forward(xpnn.init_network(), np.array([1.0, 0.5])), backend)


def test_wrong_input_width_names_the_shapes(backend: Case) -> None:
    with pytest.raises(ValueError, match=r"\(4, 3\).*W1.*\(2, 3\)"):
        xpnn.forward(xpnn.init_network(), backend.asarray(np.ones((4, 3))))


def test_broken_chain_names_the_shapes() -> None:
    net = xpnn.init_network()
    net["W2"] = np.ones((4, 2))
    with pytest.raises(ValueError, match=r"W2.*\(4, 2\)"):
        xpnn.forward(net, [1.0, 0.5])
    net = xpnn.init_network()
    net["b3"] = np.ones(3)
    with pytest.raises(ValueError, match=r"b3 must have shape \(2,\)"):
        xpnn.forward(net, [1.0, 0.5])


@pytest.mark.parametrize(
    "keys, message",
    [
        ({"W1", "b1", "W2"}, r"missing \['b2'\]"),
        ({"W1", "b1", "W3", "b3"}, r"missing \['W2', 'b2'\]"),
        (set(), "no W keys"),
    ],
)
def test_bad_keys_are_named(keys: set[str], message: str) -> None:
    full = xpnn.init_network()
    with pytest.raises(ValueError, match=message):
        xpnn.forward({k: full[k] for k in keys}, [1.0, 0.5])


def test_unexpected_keys_are_named() -> None:
    net = {**xpnn.init_network(), "W_extra": np.ones(2)}
    with pytest.raises(ValueError, match=r"unexpected \['W_extra'\]") as e:
        xpnn.forward(net, [1.0, 0.5])
    assert "missing" not in str(e.value)


def test_weights_that_are_not_arrays_are_named() -> None:
    net = {**xpnn.init_network(), "b2": [0.1, 0.2]}
    with pytest.raises(TypeError, match=r"\['b2'\] are not"):
        xpnn.forward(net, [1.0, 0.5])


def test_unknown_activation() -> None:
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        xpnn.forward(xpnn.init_network(), [1.0, 0.5], activation="swish")


def test_shape_trace_of_the_mnist_network() -> None:
    net = reference.random_network((784, 50, 100, 10), np.float32)
    trace = xpnn.shape_trace(net, np.zeros((100, 784), dtype=np.uint8))
    assert trace == [
        ("X", (100, 784)),
        ("W1", (784, 50)),
        ("W2", (50, 100)),
        ("W3", (100, 10)),
        ("Y", (100, 10)),
    ]
    table = xpnn.format_shape_trace(trace)
    assert table.splitlines()[1].split()[:3] == ["100", "x", "784"]
    with pytest.raises(ValueError, match="784"):
        xpnn.shape_trace(net, np.zeros((100, 783)))


def test_to_backend_copies_the_weights(backend: Case) -> None:
    net = reference.random_network((4, 3, 2), np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    x = np.ones((2, 4), dtype=np.float32)
    before, original = xpnn.to_numpy(xpnn.forward(placed, x)), net["W1"].copy()
    net["W1"][0, 0] += 10.0  # the caller's array changes; the placed network must not
    np.testing.assert_array_equal(xpnn.to_numpy(xpnn.forward(placed, x)), before)
    np.testing.assert_array_equal(xpnn.to_numpy(placed["W1"]), original)


def test_the_sigmoid_shortcut_gives_the_very_same_numbers(backend: Case) -> None:
    """Folding sigmoid's factors of 1/2 into the weights is exact: bit for bit, not approximately."""
    net = reference.random_network((30, 20, 10, 5), np.float32, seed=9)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    x = backend.asarray(np.random.default_rng(10).standard_normal((64, 30)), dtype=np.float32)
    shortcut = xpnn.to_numpy(xpnn.forward(placed, x))  # the folded layers
    plain = xpnn.to_numpy(xpnn.forward(placed, x, activation=lambda a: xpnn.sigmoid(a)))  # sigmoid as written
    np.testing.assert_array_equal(shortcut, plain)


# --- the seam inference uses: Runnable, place, a network's own activation -------------------


class _Compiled:
    """A stand-in for a compiled network: a Runnable that is not a Network."""

    def __init__(self, inner: xpnn.Network) -> None:
        self.inner = inner
        self.backend, self.device, self.xp = inner.backend, inner.device, inner.xp
        self.n_in, self.n_out = inner.n_in, inner.n_out
        self.activation, self.default_batch_rows = "relu", 2
        self.runs = 0

    def prepare_input(self, x, *, normalize=False):
        return self.inner.prepare_input(x, normalize=normalize)

    def run(self, x, *, activation=None, output="identity"):
        self.runs += 1
        return self.inner.run(x, activation=activation or self.activation, output=output)


def test_network_is_runnable(backend: Case) -> None:
    placed = xpnn.to_backend(xpnn.init_network(), backend.name, backend.device)
    assert isinstance(placed, network_module.Runnable)
    assert not isinstance(xpnn.init_network(), network_module.Runnable)
    assert (placed.n_in, placed.n_out, placed.activation) == (2, 2, None)
    assert network_module.place(placed) is placed


def test_a_compiled_network_runs_through_inference_as_it_is(backend: Case) -> None:
    net = reference.random_network((6, 5, 3), np.float32)
    compiled = _Compiled(xpnn.to_backend(net, backend.name, backend.device))
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    assert network_module.place(compiled, backend.asarray(x)) is compiled
    assert network_module.place(compiled, x, backend=backend.name) is compiled
    y = xpnn.predict(compiled, x)
    expected = reference.forward(net, x, hidden=reference.relu).argmax(axis=1)
    np.testing.assert_array_equal(xpnn.to_numpy(y), expected)
    # default_batch_rows=2 makes 3 batches of 5 rows; on Dask, the chunks are the batches: one graph.
    assert compiled.runs == (1 if backend.name == "dask" else 3)
    other = "numpy" if backend.name != "numpy" else "array_api_strict"
    with pytest.raises(ValueError, match="runs on backend"):
        network_module.place(compiled, x, backend=other)
    with pytest.raises(ValueError, match="runs on backend"):
        xpnn.predict(compiled, x, device="elsewhere")


def test_a_network_keeps_its_activation(backend: Case) -> None:
    net = reference.random_network((6, 5, 4, 3), np.float32, seed=3)
    x = np.random.default_rng(4).standard_normal((7, 6)).astype(np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device, activation="relu")
    assert placed.activation == "relu"
    assert xpnn.to_backend(placed, backend.name, backend.device).activation == "relu"
    relu_ref = reference.forward(net, x, hidden=reference.relu)
    assert_close(xpnn.forward(placed, x), relu_ref, backend, factor=64)
    np.testing.assert_array_equal(xpnn.to_numpy(xpnn.predict(placed, x)), relu_ref.argmax(axis=1))
    sigmoid_ref = reference.forward(net, x)
    assert_close(xpnn.forward(placed, x, activation="sigmoid"), sigmoid_ref, backend, factor=64)
    # A dict has no activation of its own: the book's sigmoid.
    assert_close(
        xpnn.forward(net, x, backend=backend.name, device=backend.device), sigmoid_ref, backend, factor=64
    )


def test_unknown_network_activation() -> None:
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        xpnn.to_backend(xpnn.init_network(), activation="swish")


def test_a_network_stores_its_activation_in_lower_case(backend: Case) -> None:
    """Names are case-insensitive (as resolve_activation reads them): ``ReLU`` is stored as ``relu``."""
    net = reference.random_network((6, 5, 3), np.float32, seed=3)
    x = np.random.default_rng(4).standard_normal((7, 6)).astype(np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device, activation="ReLU")
    assert placed.activation == "relu" and repr(placed).endswith("activation='relu')")
    assert xpnn.to_backend(placed, backend.name, backend.device).activation == "relu"
    assert_close(
        xpnn.forward(placed, x), reference.forward(net, x, hidden=reference.relu), backend, factor=64
    )
    assert_close(xpnn.forward(placed, x, activation="SIGMOID"), reference.forward(net, x), backend, factor=64)


def test_integer_weights_compute_in_floating_point(backend: Case) -> None:
    rng = np.random.default_rng(11)
    net = {"W1": rng.integers(-3, 4, (4, 3)), "b1": rng.integers(-2, 3, 3),
           "W2": rng.integers(-3, 4, (3, 2)), "b2": rng.integers(-2, 3, 2)}  # fmt: skip
    x = rng.standard_normal((5, 4)) / 4
    x_in = backend.asarray(x, dtype=np.float64 if backend.has_float64() else np.float32)
    for y in (
        xpnn.forward(net, x_in),
        xpnn.forward(xpnn.to_backend(net, backend.name, backend.device), x_in),
    ):
        assert_close(y, reference.forward(net, x), backend, dtype=backend.default_float, factor=64)


# --- what a user sees: messages, the Mapping, repr, defaults (from mutation testing, issue 14) ----


def _error(call) -> str:
    with pytest.raises((ValueError, TypeError, KeyError)) as e:
        call()
    return str(e.value) if not isinstance(e.value, KeyError) else repr(e.value.args)


@pytest.mark.parametrize(
    "keys, message",
    [
        (set(), "a network needs the keys W1..Wn and b1..bn and nothing else; (no W keys at all)"),
        ({"W1", "b1", "W2"}, "a network needs the keys W1..Wn and b1..bn and nothing else; missing ['b2']"),
        (
            {"W1", "b2"},
            "a network needs the keys W1..Wn and b1..bn and nothing else; missing ['b1'] unexpected ['b2']",
        ),
        ({"w1", "B1"}, "a network needs the keys W1..Wn and b1..bn and nothing else; unexpected"
         " ['B1', 'w1'] (no W keys at all)"),
        ({"b1", "b2"}, "a network needs the keys W1..Wn and b1..bn and nothing else; unexpected"
         " ['b1', 'b2'] (no W keys at all)"),
    ],
)  # fmt: skip
def test_key_errors_in_full(keys: set[str], message: str) -> None:
    full = {**xpnn.init_network(), "w1": np.ones((2, 3)), "B1": np.ones(3)}
    assert _error(lambda: xpnn.forward({k: full[k] for k in keys}, [1.0, 0.5])) == message


def test_keys_of_other_types_and_non_dicts_are_named() -> None:
    net = {**xpnn.init_network(), 5: np.ones(2), "Wx": np.ones(2)}
    assert _error(lambda: xpnn.forward(net, [1.0, 0.5])) == (
        "a network needs the keys W1..Wn and b1..bn and nothing else; unexpected ['5', 'Wx']"
    )
    assert _error(lambda: xpnn.forward([("W1", np.ones((2, 2)))], [1.0, 0.5])) == (
        "a network is a dict of W1..Wn, b1..bn arrays; got list"
    )
    net = {**xpnn.init_network(), "b2": [0.1, 0.2], "W3": 3}
    assert _error(lambda: xpnn.forward(net, [1.0, 0.5])) == (
        "network weights must be arrays; ['b2', 'W3'] are not (use np.asarray, or xpnn.load_weights)"
    )


@pytest.mark.parametrize("mapping", [dict, MappingProxyType], ids=["dict", "mapping"])
def test_shape_errors_name_the_layer(mapping) -> None:
    """Plain dicts and other Mappings (a read-only view) are checked alike, layer by layer."""
    cases = [
        ("W1", np.ones(2), "W1 must be 2-D (n_in, n_out); got shape (2,)"),
        ("W2", np.ones((4, 2)), "input of shape (3,) does not fit W2 of shape (4, 2) in layer 2: the last axis must be 4"),
        ("b3", np.ones(3), "b3 must have shape (2,) to match W3 (2, 2); got (3,)"),
        ("W3", np.ones((2, 2, 1)), "W3 must be 2-D (n_in, n_out); got shape (2, 2, 1)"),
        ("W1", np.float64(1.0), "W1 must be 2-D (n_in, n_out); got shape ()"),
    ]  # fmt: skip
    for key, value, message in cases:
        net = {**xpnn.init_network(), key: value}
        assert _error(lambda net=net: xpnn.forward(mapping(net), [1.0, 0.5])) == message
    net = xpnn.init_network()
    x = np.array([[1.0, 0.5], [-1.0, 0.0]])
    np.testing.assert_array_equal(xpnn.forward(mapping(net), x), xpnn.forward(net, x))
    assert xpnn.to_backend(mapping(net)).sizes == (2, 3, 2, 2)


def test_shape_errors_of_backend_arrays_print_plain_shapes(backend: Case) -> None:
    net = {k: backend.asarray(v) for k, v in xpnn.init_network().items()}
    x = backend.asarray(np.ones((1, 2)))
    for key, value, message in (
        ("W1", np.ones(2), "W1 must be 2-D (n_in, n_out); got shape (2,)"),
        ("b3", np.ones(3), "b3 must have shape (2,) to match W3 (2, 2); got (3,)"),
        ("W2", np.ones((4, 2)), "input of shape (3,) does not fit W2 of shape (4, 2) in layer 2: the last axis must be 4"),
    ):  # fmt: skip
        bad = {**net, key: backend.asarray(value)}
        assert _error(lambda bad=bad: xpnn.forward(bad, x)) == message
        assert (
            _error(lambda bad=bad: xpnn.to_backend(MappingProxyType(bad), backend.name, backend.device))
            == message
        )


def test_input_that_does_not_fit_is_named_in_full(backend: Case) -> None:
    placed = xpnn.to_backend(xpnn.init_network(), backend.name, backend.device)
    for x, shape in ((np.ones((4, 3)), "(4, 3)"), (np.ones(3), "(3,)"), (np.float64(1.0), "()")):
        message = f"input of shape {shape} does not fit W1 of shape (2, 3): the last axis must be 2"
        assert _error(lambda x=x: xpnn.forward(placed, backend.asarray(x))) == message
    assert _error(lambda: xpnn.forward(placed, 1.0)) == (
        "input of shape () does not fit W1 of shape (2, 3): the last axis must be 2"
    )


def test_unknown_names_list_the_choices() -> None:
    net, x = xpnn.init_network(), [1.0, 0.5]
    assert _error(lambda: xpnn.forward(net, x, activation="swish")) == (
        "unknown activation 'swish'; choose one of ['identity', 'relu', 'sigmoid', 'tanh'] or pass a function"
    )
    assert _error(lambda: xpnn.forward(net, x, output="tanh")) == (
        "unknown output 'tanh'; choose one of ['identity', 'softmax'] or pass a function"
    )
    assert _error(lambda: xpnn.to_backend(net, activation="swish")) == (
        "unknown activation 'swish'; choose one of ['identity', 'relu', 'sigmoid', 'tanh'] or pass a function"
    )
    assert _error(lambda: xpnn.to_backend(net, activation=xpnn.relu)) == (  # type: ignore[arg-type]
        "a network's activation is a name from ['identity', 'relu', 'sigmoid', 'tanh']"
    )


def test_the_placed_network_as_a_mapping(backend: Case) -> None:
    net = reference.random_network((4, 3, 5, 2), np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    assert len(placed) == 6 and len(xpnn.to_backend(xpnn.init_network())) == 6
    assert (placed.n_in, placed.n_out, placed.sizes) == (4, 2, (4, 3, 5, 2))
    for key in net:  # the first and the last layer too
        np.testing.assert_array_equal(host(placed[key], backend), net[key])
    for key in ("W0", "b0", "W4", "b4", "W", "x1", "w1", "W1 ", 5, None):
        with pytest.raises(KeyError) as e:
            placed[key]  # type: ignore[index]
        assert e.value.args == (key,)
    home = placed.to_numpy()
    assert list(home) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for key, value in home.items():
        assert type(value) is np.ndarray and value.dtype == np.float32
        np.testing.assert_array_equal(value, net[key])


def test_repr_says_what_and_where(backend: Case) -> None:
    placed = xpnn.to_backend(xpnn.init_network(), backend.name, backend.device)
    where = f"dtype={placed.dtype}, backend={backend.name!r}, device={placed.device!r}"
    assert repr(placed) == f"Network(2-3-2-2, {where})"
    relu = xpnn.to_backend(
        reference.random_network((5, 4, 3)), backend.name, backend.device, activation="relu"
    )
    where = f"dtype={relu.dtype}, backend={backend.name!r}, device={relu.device!r}"
    assert repr(relu) == f"Network(5-4-3, {where}, activation='relu')"


def test_defaults_numpy_and_batch_rows(backend: Case) -> None:
    placed = xpnn.to_backend(xpnn.init_network())
    assert (placed.backend, placed.device, placed.default_batch_rows) == ("numpy", "cpu", 1024)
    here = xpnn.to_backend(xpnn.init_network(), backend.name, backend.device)
    cpu = backend.name == "numpy" or (backend.name == "torch" and here.device.type == "cpu")
    assert here.default_batch_rows == (network_module.CPU_BATCH_ROWS if cpu else None)
    assert network_module.CPU_BATCH_ROWS == 1024


def test_weight_dtypes(backend: Case) -> None:
    """Mixed dtypes promote; integers become the default floating dtype; dtype= overrides (name or dtype)."""
    dt64 = np.float64 if backend.has_float64() else np.float32
    mixed = {**reference.random_network((4, 3, 2), np.float32), "b1": np.ones(3, dtype=dt64)}
    for placed in (
        xpnn.to_backend(mixed, backend.name, backend.device),
        network_module.place(mixed, backend.asarray(np.ones((1, 4), dtype=np.float32))),
    ):
        assert placed.dtype == backend.dtype(np.dtype(dt64).name)
        assert all(a.dtype == placed.dtype for a in placed.values())
    ints = {k: np.round(v * 4).astype(np.int16) for k, v in mixed.items()}
    placed = xpnn.to_backend(ints, backend.name, backend.device)
    assert placed.dtype == backend.default_float
    assert all(a.dtype == backend.default_float for a in placed.values())
    for dtype in ("float32", backend.dtype("float32")):
        placed = xpnn.to_backend(mixed, backend.name, backend.device, dtype=dtype)
        assert placed.dtype == backend.dtype("float32")
        assert all(a.dtype == placed.dtype for a in placed.values())
        y = xpnn.forward(
            placed, backend.asarray(np.ones((2, 4))) if backend.has_float64() else np.ones((2, 4))
        )
        assert_close(y, reference.forward(mixed, np.ones((2, 4))), backend, dtype=placed.dtype, factor=64)
    assert _error(lambda: xpnn.to_backend(mixed, backend.name, backend.device, dtype="nonesuch")) == (
        f"{backend.xp.__name__} has no dtype 'nonesuch'"
    )


def test_place_shares_a_numpy_dict_so_edits_show() -> None:
    """place() uses a NumPy dict's very arrays: an edit in place shows in the next run (never stale)."""
    net = reference.random_network((4, 3, 2), np.float64)
    x = np.ones((2, 4))
    placed = network_module.place(net, x)
    assert placed.shared and placed["W1"] is net["W1"]
    assert not xpnn.to_backend(net).shared
    before = placed.run(placed.prepare_input(x))
    net["W1"][...] *= 2.0
    net["b2"][...] += 1.0
    after = placed.run(placed.prepare_input(x))
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, reference.forward(net, x), rtol=1e-12)


def test_place_moves_a_network_only_when_asked(backend: Case) -> None:
    placed = xpnn.to_backend(
        reference.random_network((4, 3, 2)), backend.name, backend.device, activation="relu"
    )
    assert network_module.place(placed, device=placed.device) is placed
    assert network_module.place(placed, dtype=str(placed.dtype).rsplit(".", 1)[-1]) is placed
    moved = network_module.place(placed, dtype="float32")
    assert moved.dtype == backend.dtype("float32") and moved.activation == "relu"
    assert (moved.backend, moved.device) == (placed.backend, placed.device)
    assert xpnn.to_backend(placed, backend.name, backend.device, activation="sigmoid").activation == "sigmoid"
    home = network_module.place(placed, backend="numpy")
    same = np.dtype(str(placed.dtype).rsplit(".", 1)[-1])
    assert (home.backend, home.activation, home.dtype) == ("numpy", "relu", same)
    # A dict follows its input, device included.
    x = backend.asarray(np.ones((2, 4), dtype=np.float32))
    follows = network_module.place(reference.random_network((4, 3, 2), np.float32), x)
    assert (follows.backend, follows.device) == (backend.name, placed.device)
    assert network_module.place(reference.random_network((4, 3, 2))).backend == "numpy"


def test_a_compiled_network_refuses_to_move(backend: Case) -> None:
    compiled = _Compiled(xpnn.to_backend(reference.random_network((4, 3, 2)), backend.name, backend.device))
    for device in (compiled.device, str(compiled.device)):
        assert network_module.place(compiled, device=device) is compiled
    assert network_module.place(compiled, backend=backend.name, device=compiled.device) is compiled
    message = (
        f"_Compiled runs on backend {backend.name!r}, device {compiled.device!r} only;"
        f" got backend=None, device=None, dtype='float32': leave them out, or make it again for that backend"
    )
    assert _error(lambda: network_module.place(compiled, dtype="float32")) == message
    assert _error(lambda: network_module.place(compiled, device="elsewhere")).endswith(
        "got backend=None, device='elsewhere', dtype=None: leave them out, or make it again for that backend"
    )


def test_shape_trace_of_lists_and_single_inputs(backend: Case) -> None:
    net = xpnn.init_network()
    assert xpnn.shape_trace(net, [[1.0, 0.5]] * 3)[0] == ("X", (3, 2))
    assert xpnn.shape_trace(net, backend.asarray(np.ones((4, 2))))[-1] == ("Y", (4, 2))
    # Only the shapes are followed: anything with a shape will do (a meta tensor, a shape struct).
    assert xpnn.shape_trace(net, SimpleNamespace(shape=(5, 2)))[-1] == ("Y", (5, 2))
    # A Dask array of unknown chunk sizes has NaN rows: they are followed as they are.
    (_, (rows, width)) = xpnn.shape_trace(net, SimpleNamespace(shape=(float("nan"), 2)))[-1]
    assert rows != rows and width == 2
    assert xpnn.shape_trace(net, [1.0, 0.5]) == [
        ("X", (2,)),
        ("W1", (2, 3)),
        ("W2", (3, 2)),
        ("W3", (2, 2)),
        ("Y", (2,)),
    ]
    assert _error(lambda: xpnn.shape_trace(net, np.zeros((100, 3)))) == (
        "input of shape (100, 3) does not fit W1 of shape (2, 3) in layer 1: the last axis must be 2"
    )


def test_format_shape_trace_in_full() -> None:
    net = reference.random_network((784, 50, 100, 10), np.float32)
    table = xpnn.format_shape_trace(xpnn.shape_trace(net, np.zeros((100, 784))))
    assert table == (
        "X           W1         W2         W3         ->  Y\n"
        "100 x 784   784 x 50   50 x 100   100 x 10   ->  100 x 10"
    )


def test_place_moves_to_the_device_asked_for(backend: Case) -> None:
    """device= alone moves a network (or a dict's weights) there, even against the input's device."""
    if backend.name != "array_api_strict" or backend.device_arg is not None:
        pytest.skip("needs two devices of one backend: array-api-strict's CPU_DEVICE and device1")
    strict = backend.xp
    one, two = strict.Device("CPU_DEVICE"), strict.Device("device1")
    net = reference.random_network((4, 3, 2))
    placed = xpnn.to_backend(net, "array_api_strict")
    moved = network_module.place(placed, device=two)
    assert (moved.backend, moved.device, moved["W1"].device) == ("array_api_strict", two, two)
    x = strict.asarray(np.ones((2, 4)), device=one)
    follows = network_module.place(net, x, device=two)
    assert (follows.backend, follows.device) == ("array_api_strict", two)
    y = xpnn.forward(net, x, device=two)
    assert y.device == two
    np.testing.assert_allclose(
        np.asarray(y.to_device(one)), reference.forward(net, np.ones((2, 4))), rtol=1e-12
    )
    as32 = network_module.place(net, x, dtype="float32")
    assert (as32.dtype, as32.device) == (strict.float32, one)


def test_init_network_is_the_books() -> None:
    """The book's printed output for its toy network (ch. 3.4.3): the specification, like BOOK_ACCURACY."""
    net = xpnn.init_network()
    assert {k: v.shape for k, v in net.items()} == {
        "W1": (2, 3), "b1": (3,), "W2": (3, 2), "b2": (2,), "W3": (2, 2), "b3": (2,)
    }  # fmt: skip
    np.testing.assert_allclose(xpnn.forward(net, [1.0, 0.5]), [0.31682708, 0.69627909], rtol=1e-7)


NOT_FLOATING = (
    "dtype must be a real floating dtype (float32, float64, float16); got {}: weights are floating,"
    " and an integer or bool dtype would truncate every weight"
)


@pytest.mark.parametrize("name", ["int32", "uint8", "int64", "bool"])
def test_a_non_floating_dtype_is_refused_everywhere(backend: Case, name: str) -> None:
    """Issue 24: to_backend(dtype="int32") truncated every weight; now one check refuses it."""
    net = reference.random_network((4, 3, 2), np.float32)
    native = getattr(backend.xp, name, None)
    for dtype in (name, native, np.dtype(name)):
        if dtype is None:
            continue
        for f in (
            lambda dtype=dtype: xpnn.to_backend(net, backend.name, backend.device, dtype=dtype),
            lambda dtype=dtype: network_module.place(
                net, backend=backend.name, device=backend.device, dtype=dtype
            ),
            lambda dtype=dtype: network_module.place(xpnn.to_backend(net), dtype=dtype),
        ):
            assert _error(f) == NOT_FLOATING.format(name)
    with pytest.raises(ValueError, match="^" + re.escape(NOT_FLOATING.format(name)) + "$"):
        xpnn.random_network([4, 3], dtype=name)


def test_a_foreign_floating_dtype_is_looked_up_by_name(backend: Case) -> None:
    placed = xpnn.to_backend(xpnn.init_network(), backend.name, backend.device, dtype=np.float32)
    assert placed.dtype == backend.dtype("float32")
    assert _error(lambda: xpnn.to_backend(xpnn.init_network(), dtype="sum")) == "numpy has no dtype 'sum'"


def test_a_network_of_integer_arrays_cannot_be_made_directly() -> None:
    impl, dev = xpnn.backends.get_backend("numpy")
    layers = [(np.ones((2, 2), np.int32), np.zeros(2, np.int32))]
    with pytest.raises(ValueError, match="^" + re.escape(NOT_FLOATING.format("int32")) + "$"):
        xpnn.Network(layers, impl, dev, np)


def test_to_numpy_of_a_network_is_its_weight_dict(backend: Case) -> None:
    """Issue 19: to_numpy(network) gave an array of the key names; now the dict of host arrays."""
    net = reference.random_network((4, 3, 2), np.float32)
    for given in (
        xpnn.to_backend(net, backend.name, backend.device),
        {k: backend.asarray(v) for k, v in net.items()},
    ):
        host = xpnn.to_numpy(given)
        assert type(host) is dict and list(host) == list(net)
        for key in net:
            assert type(host[key]) is np.ndarray
            np.testing.assert_array_equal(host[key], net[key])
    assert xpnn.to_numpy(xpnn.to_backend(net, backend.name, backend.device)).keys() == net.keys()


LONGDOUBLE = (
    "dtype must be a real floating dtype (float32, float64, float16); got {}: xpnn computes in"
    " float16, float32 or float64 (bfloat16 where the backend has it), the dtypes every backend and"
    " ONNX run; use float64 for the most precision"
)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")
def test_longdouble_is_refused_by_the_one_dtype_rule(backend: Case) -> None:
    """Attack finding 11: 'longdouble' passed the rule, then export failed with ndonnx's message."""
    net = reference.random_network((4, 3, 2), np.float32)
    message = LONGDOUBLE.format(np.dtype(np.longdouble).name)
    on = {"device": backend.device}
    for dtype in ("longdouble", np.longdouble, np.dtype(np.longdouble)):
        for f in (
            lambda dtype=dtype: xpnn.to_backend(net, backend.name, dtype=dtype, **on),
            lambda dtype=dtype: network_module.place(net, backend=backend.name, dtype=dtype, **on),
            lambda dtype=dtype: xpnn.random_network([4, 3], dtype=dtype),
        ):
            assert _error(f) == message
    wide = {k: v.astype(np.longdouble) for k, v in net.items()}  # the weights' own dtype: the same rule
    assert _error(lambda: xpnn.predict(wide, np.ones((1, 4)), backend=backend.name, **on)) == message


def test_dtype_objects_and_names_are_read_alike(backend: Case) -> None:
    """random_network took '>f4' that to_backend refused; torch.float32 or object() gave raw TypeErrors."""
    net = reference.random_network((4, 3, 2), np.float64)
    native = backend.dtype("float32")
    for dtype in ("float32", ">f4", np.float32, np.dtype(">f4"), native):
        placed = xpnn.to_backend(net, backend.name, backend.device, dtype=dtype)
        assert placed.dtype == native
        drawn = xpnn.random_network([4, 3], dtype=dtype)["W1"].dtype
        assert drawn == np.dtype(np.float32) and drawn.isnative
    for thing in (object(), 3):
        for f in (
            lambda thing=thing: xpnn.to_backend(net, backend.name, backend.device, dtype=thing),
            lambda thing=thing: xpnn.random_network([4, 3], dtype=thing),
        ):
            with pytest.raises(
                TypeError, match=r"^dtype must be a real floating dtype .*a dtype object or its name; got"
            ):
                f()
    assert _error(lambda: xpnn.random_network([4, 3], dtype="sum")) == "numpy has no dtype 'sum'"


@pytest.mark.parametrize(
    "weight, kind",
    [
        (np.eye(2) * (1 + 5j), "complex128"),
        (np.eye(2).astype(str), "<U32"),
        (np.eye(2).astype(object), "object"),
    ],
    ids=["complex", "str", "object"],
)
def test_weights_that_are_not_real_numbers_are_refused(backend: Case, weight, kind: str) -> None:
    """Attack finding 6: complex, text and object weights were cast silently (the imaginary part dropped)."""
    net = {"W1": weight, "b1": np.zeros(2)}
    message = f"weight W1 must be real numbers (bool, integer or floating); got dtype {kind}: "
    on = {"backend": backend.name, "device": backend.device}
    calls = [
        lambda: xpnn.predict(net, [[1.0, 0.0]], **on),
        lambda: xpnn.forward({"b1": np.zeros(2), "W1": weight}, [[1.0, 0.0]], **on),  # the long path
        lambda: xpnn.to_backend(net, backend.name, backend.device),
    ]
    if backend.name != "dask":  # train refuses Dask itself, before it looks at the weights
        calls.append(lambda: xpnn.train(net, np.eye(2), [0, 1], epochs=1, **on))
    for f in calls:
        with pytest.raises(TypeError) as e:
            f()
        assert str(e.value).startswith(message)


def test_key_errors_name_a_few_keys_then_a_count() -> None:
    """Attack finding 8: 3,000 keys made a 26 KB message; now a few names and '... and N more'."""
    many = {f"W{i}": np.zeros((2, 2)) for i in range(1, 3000)}
    message = _error(lambda: xpnn.predict(many, np.zeros((1, 2))))
    assert message == (
        "a network needs the keys W1..Wn and b1..bn and nothing else;"
        " missing ['b1', 'b2', 'b3', 'b4', 'b5', ... and 2,994 more]"
    )
    extra = {**xpnn.init_network(), **{f"c{i}": 0 for i in range(500)}}
    assert _error(lambda: xpnn.predict(extra, np.zeros((1, 2)))).endswith(
        "unexpected ['c0', 'c1', 'c2', 'c3', 'c4', ... and 495 more]"
    )
    assert len(_error(lambda: xpnn.predict({"W1": np.eye(2), "b1": 0, "x" * 10_000: 1}, [1.0, 0.0]))) < 200
    for size, shown in ((40, "y" * 40), (41, "y" * 37 + "...")):  # a name is cut only past 40 characters
        extra = {**xpnn.init_network(), "y" * size: 1}
        assert _error(lambda extra=extra: xpnn.predict(extra, np.zeros((1, 2)))).endswith(
            f" unexpected [{shown!r}]"
        )


def test_a_dict_called_again_sees_every_change_of_its_arrays() -> None:
    """The per-image loop remembers the last dict checked; edits in place, replaced arrays,
    reshapes, dtype changes and new keys are still seen (and still refused with the same errors)."""
    net = xpnn.init_network()
    x = np.array([1.0, 0.5])
    first = xpnn.forward(net, x)
    np.testing.assert_array_equal(xpnn.forward(net, x), first)
    net["W1"][0, 0] = 5.0  # in place: the very arrays are used, nothing derived from them kept
    np.testing.assert_allclose(xpnn.forward(net, x), reference.forward(net, x))
    net["W3"] = np.zeros((3, 2))  # replaced by one that does not chain
    with pytest.raises(
        ValueError, match=r"input of shape \(2,\) does not fit W3 of shape \(3, 2\) in layer 3"
    ):
        xpnn.forward(net, x)
    net["W3"] = xpnn.init_network()["W3"]
    np.testing.assert_allclose(xpnn.forward(net, x), reference.forward(net, x))
    net["b2"].shape = (1, 2)  # reshaped in place
    with pytest.raises(ValueError, match=r"b2 must have shape \(2,\)"):
        xpnn.forward(net, x)
    net["b2"].shape = (2,)
    net["W4"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"missing \['b4'\]"):
        xpnn.forward(net, x)
    del net["W4"]
    net["W2"] = net["W2"].astype(np.float32)  # another dtype: the compute dtype follows
    assert xpnn.forward(net, x).dtype == np.float64  # float64 and float32 weights compute in float64


def test_a_remembered_dict_runs_every_input_as_a_first_call_does() -> None:
    """After the first call the per-image loop's dict skips its checks; every other input (a cast,
    a batch, integers, a wrong width, a third axis) and every option still give what a first call
    (a dict not seen before) gives, errors included."""
    net = xpnn.init_network()
    inputs = [
        np.array([1.0, 0.5]),
        np.array([1.0, 0.5], dtype=np.float32),
        np.array([[1.0, 0.5], [0.0, -2.0]]),
        np.array([3, 1]),
        np.ones((2, 2, 2)),
        np.ones(3),
        np.ones((0, 2)),
        np.array(1.0),
        np.array([True, False]),
    ]
    options = [{}, {"activation": "relu"}, {"output": "softmax"}, {"activation": xpnn.sigmoid}]

    def outcome(network: dict, x: np.ndarray, kw: dict) -> object:
        try:
            y = xpnn.forward(network, x, **kw)
        except (TypeError, ValueError) as e:
            return type(e), str(e)
        return y.dtype, y.shape, y.tolist()

    for kw in options:
        for x in inputs:
            first = outcome({k: v.copy() for k, v in net.items()}, x, kw)  # new arrays: checked
            xpnn.forward(net, np.array([1.0, 0.5]))  # net is now the remembered dict
            assert outcome(net, x, kw) == first, (x, kw)


def test_the_to_backend_method_passes_device_and_dtype_on() -> None:
    """``Network.to_backend(backend, device, dtype=)`` is ``xpnn.to_backend`` of the network."""
    strict = pytest.importorskip("array_api_strict")
    two = strict.Device("device1")
    net = xpnn.to_backend(reference.random_network((4, 3, 2)), activation="relu")
    moved = net.to_backend("array_api_strict", two, dtype="float32")
    assert (moved.backend, moved.device, moved["W1"].device) == ("array_api_strict", two, two)
    assert (moved.dtype, moved.activation) == (strict.float32, "relu")
