"""The book's networks and ``forward`` on every backend."""

from __future__ import annotations

import numpy as np
import pytest
import reference
from conftest import Case, assert_close

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
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        xpnn.forward(xpnn.init_network(), [1.0, 0.5], activation="tanh")


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
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        xpnn.to_backend(xpnn.init_network(), activation="tanh")


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
