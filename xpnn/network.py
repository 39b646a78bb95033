"""The book's networks: the weight dict, its placement on a backend, and ``forward``.

The interchange format is the book's dict ``{'W1', 'b1', ..., 'Wn', 'bn'}`` (any number of
layers). ``to_backend`` places it on a backend and device once and returns a read-only
:class:`Network`; ``forward`` accepts either.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ._backends import Backend, backend_of, device_of, get_backend, to_numpy
from .functions import _identity, _relu, _sigmoid, _softmax, check_affine_shapes

__all__ = ["Network", "forward", "format_shape_trace", "init_network", "shape_trace", "to_backend"]

Array = Any
Activation = Callable[[Array, Any], Array]

HIDDEN_ACTIVATIONS: dict[str, Activation] = {"sigmoid": _sigmoid, "relu": _relu}
OUTPUT_FUNCTIONS: dict[str, Activation] = {"identity": _identity, "softmax": _softmax}


def init_network() -> dict[str, np.ndarray]:
    """The book's 3-layer toy network (2-3-2-2), as NumPy float64 arrays.

    >>> forward(init_network(), [1.0, 0.5])
    array([0.31682708, 0.69627909])
    """
    return {
        "W1": np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
        "b1": np.array([0.1, 0.2, 0.3]),
        "W2": np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]),
        "b2": np.array([0.1, 0.2]),
        "W3": np.array([[0.1, 0.3], [0.2, 0.4]]),
        "b3": np.array([0.1, 0.2]),
    }


def layer_arrays(net: Mapping[str, Array]) -> list[tuple[Array, Array]]:
    """``[(W1, b1), ..., (Wn, bn)]`` of a book-style dict, after checking keys and shapes.

    Raises ``ValueError`` naming the missing or unexpected keys, or the shapes that do not chain.
    """
    if isinstance(net, Network):
        return list(net.layers)
    if not isinstance(net, Mapping):
        raise TypeError(f"a network is a dict of W1..Wn, b1..bn arrays; got {type(net).__name__}")
    n = sum(1 for k in net if isinstance(k, str) and k[:1] == "W" and k[1:].isdigit())
    expected = [f"{p}{i}" for i in range(1, n + 1) for p in "Wb"]
    if n == 0 or set(net) != set(expected):
        missing = sorted(set(expected) - set(net))
        extra = sorted(map(str, set(net) - set(expected)))
        raise ValueError(
            "a network needs the keys W1..Wn and b1..bn and nothing else;"
            + (f" missing {missing}" if missing else "")
            + (f" unexpected {extra}" if extra else "")
            + ("" if n else " (no W keys at all)")
        )
    not_arrays = [k for k in expected if not hasattr(net[k], "shape")]
    if not_arrays:
        raise TypeError(
            f"network weights must be arrays; {not_arrays} are not (use np.asarray, or xpnn.load_weights)"
        )
    layers = [(net[f"W{i}"], net[f"b{i}"]) for i in range(1, n + 1)]
    n_in = None
    for i, (W, b) in enumerate(layers, start=1):
        W_shape = tuple(W.shape)
        n_in = W_shape[0] if n_in is None and len(W_shape) == 2 else n_in
        check_affine_shapes((n_in,), W_shape, tuple(b.shape), layer=str(i))
        n_in = W_shape[1]
    return layers


class Network(Mapping[str, Array]):
    """A book-style network placed on one backend and device; made by :func:`to_backend`.

    It reads like the book's dict (``net['W1']``, ``net.keys()``) but is read-only, so a
    placed copy can never go stale behind its source's back.
    """

    __slots__ = ("_backend", "_layers", "_sigmoid_layers", "device", "dtype", "n_in", "shared", "xp")

    def __init__(
        self,
        layers: list[tuple[Array, Array]],
        backend: Backend,
        device: Any,
        xp: Any,
        *,
        shared: bool = False,
    ):
        self._layers = tuple(layers)
        # True when the arrays are a caller's own (forward's zero-copy use of a NumPy dict): they
        # may change in place, so nothing may be derived from them and kept.
        self.shared = shared
        self._sigmoid_layers: tuple[tuple[Array, Array], ...] | None = None
        self._backend = backend
        self.device = device
        self.xp = xp
        self.dtype = layers[0][0].dtype
        self.n_in = int(layers[0][0].shape[0])

    @property
    def backend(self) -> str:
        """The name of the backend the weights live on."""
        return self._backend.name

    @property
    def layers(self) -> tuple[tuple[Array, Array], ...]:
        """``((W1, b1), ..., (Wn, bn))``."""
        return self._layers

    def sigmoid_layers(self) -> tuple[tuple[Array, Array], ...]:
        """The layers rescaled for a sigmoid network, made once: see :func:`run_layers`."""
        if self._sigmoid_layers is None:
            last = len(self._layers) - 1
            self._sigmoid_layers = tuple(
                (
                    W * ((1.0 if i == 0 else 0.5) * (1.0 if i == last else 0.5)),
                    b * (1.0 if i == last else 0.5),
                )
                for i, (W, b) in enumerate(self._layers)
            )
        return self._sigmoid_layers

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first: ``(784, 50, 100, 10)`` for the book's MNIST network."""
        return (self.n_in, *(int(W.shape[1]) for W, _ in self._layers))

    def __getitem__(self, key: str) -> Array:
        if isinstance(key, str) and key[:1] in ("W", "b") and key[1:].isdigit():
            i = int(key[1:])
            if 1 <= i <= len(self._layers):
                return self._layers[i - 1][key[0] == "b"]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        for i in range(1, len(self._layers) + 1):
            yield f"W{i}"
            yield f"b{i}"

    def __len__(self) -> int:
        return 2 * len(self._layers)

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.sizes))
        return f"Network({sizes}, dtype={self.dtype}, backend={self.backend!r}, device={self.device!r})"

    def to_numpy(self) -> dict[str, np.ndarray]:
        """The weights as a book-style dict of host NumPy arrays."""
        return {key: to_numpy(value) for key, value in self.items()}


def _resolve_dtype(xp: Any, dtype: Any, arrays: list[Array], device: Any) -> Any:
    if dtype is None:
        dtype = xp.result_type(*arrays)
        if not xp.isdtype(dtype, "real floating"):
            dtype = xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]
        return dtype
    if isinstance(dtype, str):
        found = getattr(xp, dtype, None)
        if found is None:
            raise ValueError(f"{getattr(xp, '__name__', 'this backend')} has no dtype {dtype!r}")
        return found
    return dtype


def to_backend(
    net: Mapping[str, Array], backend: str = "numpy", device: Any = None, *, dtype: Any = None
) -> Network:
    """Place a network's weights on ``backend`` and ``device`` once; returns a :class:`Network`.

    ``dtype`` (a dtype of that backend, or its name) overrides the compute dtype, which is
    otherwise the weights' own (integer weights become the backend's default floating dtype).
    The weights are copied: later edits of ``net`` do not reach the placed network.

    >>> to_backend(init_network(), "numpy")
    Network(2-3-2-2, dtype=float64, backend='numpy', device='cpu')
    """
    backend_obj, dev = get_backend(backend, device)
    return _place(layer_arrays(net), backend_obj, dev, dtype, copy=True)


def _place(
    layers: list[tuple[Array, Array]], backend: Backend, dev: Any, dtype: Any, *, copy: bool
) -> Network:
    """The layers on ``backend``: copies (``copy=True``), or the very arrays where they already fit."""
    xp = backend.load()
    if copy:  # a private host copy first: no upload may share memory with the caller's arrays
        arrays = [backend.from_host(np.array(to_numpy(a)), dev) for pair in layers for a in pair]
    else:
        arrays = [backend.asarray(a, dev) for pair in layers for a in pair]
    dtype = _resolve_dtype(xp, dtype, arrays, dev)
    arrays = [a if a.dtype == dtype else xp.astype(a, dtype) for a in arrays]
    sources = [a for pair in layers for a in pair]
    shared = not copy and any(p is s for p, s in zip(arrays, sources))
    return Network(list(zip(arrays[::2], arrays[1::2])), backend, dev, xp, shared=shared)


class _Placement:
    """A cached placement of a user's dict, with what is needed to tell if the dict changed."""

    __slots__ = ("keys", "network", "snapshots", "sources")

    def __init__(self, net: Mapping[str, Array], network: Network, snapshots: list[np.ndarray] | None):
        self.keys = tuple(net)
        self.sources = tuple(net.values())
        self.network = network
        self.snapshots = snapshots

    def matches(self, net: Mapping[str, Array]) -> bool:
        if tuple(net) != self.keys:
            return False
        for current, source in zip(net.values(), self.sources):
            if current is not source:
                return False
        if self.snapshots is None:
            return True
        return all(
            np.array_equal(source, snap, equal_nan=snap.dtype.kind == "f")
            for source, snap in zip(self.sources, self.snapshots)
        )


_PLACEMENTS: OrderedDict[tuple[Any, ...], _Placement] = OrderedDict()
_MAX_PLACEMENTS = 8


def _cached_place(net: Mapping[str, Array], backend: Backend, dev: Any, dtype: Any) -> Network:
    """``to_backend`` for a user's dict, reusing the last upload while the dict is unchanged.

    The cache holds the source arrays themselves, so an entry matches only while the dict maps
    the same keys to the same array objects. Where the placed weights are copies (another
    device, another dtype) the entry also keeps a host snapshot and compares contents, so an
    in-place edit of the user's weights is noticed and re-uploaded instead of going stale.
    """
    key = (
        id(net),
        backend.name,
        dev if type(dev) is str else repr(dev),
        dtype if dtype is None else str(dtype),
    )
    entry = _PLACEMENTS.get(key)
    if entry is not None and entry.matches(net):
        return entry.network
    layers = layer_arrays(net)
    network = _place(layers, backend, dev, dtype, copy=False)
    placed = [a for pair in network.layers for a in pair]
    sources = [a for pair in layers for a in pair]
    if all(p is s for p, s in zip(placed, sources)):
        snapshots = None  # the network *is* the user's arrays: edits show through
    elif all(isinstance(s, np.ndarray) for s in sources):
        snapshots = [np.array(s, copy=True) for s in sources]
    else:
        return network  # foreign sources: comparing would cost a transfer, so do not cache
    _PLACEMENTS[key] = _Placement(net, network, snapshots)
    if len(_PLACEMENTS) > _MAX_PLACEMENTS:
        _PLACEMENTS.popitem(last=False)
    return network


def _network_for(
    net: Mapping[str, Array], x: Any, backend: str | None, device: Any, dtype: Any = None
) -> Network:
    """Where a call runs: the named backend; else a placed network's own; else ``x``'s."""
    if backend is None and device is None and dtype is None and type(x) is np.ndarray:
        # The common case, kept short: a dict (or a Network) and a NumPy input.
        if type(net) is Network:
            return net
        entry = _PLACEMENTS.get((id(net), "numpy", "cpu", None))
        if entry is not None and entry.matches(net):
            return entry.network
    placed = net if type(net) is Network and isinstance(net, Network) else None
    if backend is None:
        if placed is not None:
            if device is None and dtype is None:
                return placed
            backend = placed.backend
        else:
            backend = backend_of(x) or "numpy"
            if device is None and backend != "numpy":
                device = device_of(x)
    backend_obj, dev = get_backend(backend, device)
    if (
        placed is not None
        and placed.backend == backend_obj.name
        and repr(placed.device) == repr(dev)
        and (dtype is None or str(dtype) == str(placed.dtype))
    ):
        return placed
    return _cached_place(net, backend_obj, dev, dtype)


def prepare_input(network: Network, x: Any, *, normalize: bool = False) -> Array:
    """``x`` on the network's backend and device, in its compute dtype, width checked.

    Integer input (MNIST ``uint8``) is uploaded as it is and cast on the device; ``normalize``
    then divides by 255 there, as ``load_mnist(normalize=True)`` does.
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        x = np.asarray(x)
        shape = x.shape
    width = network.n_in
    if not shape or shape[-1] != width:
        raise ValueError(
            f"input of shape {tuple(x.shape)} does not fit W1 of shape"
            f" {tuple(network.layers[0][0].shape)}: the last axis must be {width}"
        )
    x = network._backend.asarray(x, network.device)
    if x.dtype != network.dtype:
        x = network.xp.astype(x, network.dtype)
    if normalize:
        x = x / 255.0
    return x


def _activation(name: str | Activation, table: dict[str, Activation], what: str) -> Activation:
    if isinstance(name, str):
        fn = table.get(name)
        if fn is not None:
            return fn
    elif callable(name):
        function: Callable[[Array], Array] = name  # type: ignore[assignment]
        return lambda a, xp: function(a)
    raise ValueError(f"unknown {what} {name!r}; choose one of {sorted(table)} or pass a function")


def forward(
    net: Mapping[str, Array],
    x: Any,
    *,
    backend: str | None = None,
    device: Any = None,
    activation: str | Activation = "sigmoid",
    output: str | Activation = "identity",
) -> Array:
    """The book's forward pass: ``affine -> activation`` per hidden layer, then ``output``.

    ``net`` is a book-style dict or a :class:`Network` from :func:`to_backend`; ``x`` is one
    input ``(n_in,)`` or a batch ``(N, n_in)``: any array, list or NumPy array.

    Where it runs:

    - ``backend=None``: a :class:`Network` runs where it lives and ``x`` is moved there;
      a dict follows ``x`` (its library and device; lists and NumPy arrays mean NumPy).
    - ``backend="cupy"`` (or any name in ``xpnn.BACKENDS``, or ``"auto"``): ``x`` and the
      weights are moved there, and ``device=`` is passed to that backend.

    A dict's weights are uploaded once per backend and device and reused while the dict is
    unchanged. The weights' dtype is the compute dtype; ``x`` is cast to it.

    ``activation`` is ``"sigmoid"`` (the book's) or ``"relu"``; ``output`` is ``"identity"``
    (the book's 3-layer example) or ``"softmax"``. Either may be a function of one array.

    >>> forward(init_network(), [1.0, 0.5])
    array([0.31682708, 0.69627909])
    """
    network = _network_for(net, x, backend, device)
    hidden = HIDDEN_ACTIVATIONS.get(activation) if type(activation) is str else None
    out = OUTPUT_FUNCTIONS.get(output) if type(output) is str else None
    hidden = hidden or _activation(activation, HIDDEN_ACTIVATIONS, "activation")
    out = out or _activation(output, OUTPUT_FUNCTIONS, "output")
    return run_layers(network, prepare_input(network, x), hidden, out)


def run_layers(network: Network, x: Array, hidden: Activation, out: Activation) -> Array:
    """``out(affine(...hidden(affine(x))...))`` through the network's layers.

    Sigmoid networks take a shortcut that gives the very same numbers with fewer passes over
    the activations. ``sigmoid(a) = (tanh(a/2) + 1) / 2``, and scaling by a power of two is
    exact in binary floating point, so every ``/2`` moves into the weights: with
    ``W1/2, b1/2``, then ``W2/4, b2/2``, ..., and ``Wn/2, bn`` (``Network.sigmoid_layers``),
    each hidden layer is ``tanh(x @ W + b) + 1``: 3 elementwise passes instead of 5. (Exact
    unless a scaled weight falls below the dtype's smallest normal number: never in practice
    for float32, float64 and bfloat16; float16 weights under about 2e-4 can lose low bits.)
    """
    xp = network.xp
    if hidden is _sigmoid and not network.shared:
        layers = network.sigmoid_layers()
        for i in range(len(layers) - 1):
            W, b = layers[i]
            x = xp.tanh(xp.matmul(x, W) + b) + 1.0
        W, b = layers[-1]
        return out(xp.matmul(x, W) + b, xp)
    layers = network.layers
    last = len(layers) - 1
    for i in range(last):
        W, b = layers[i]
        x = hidden(xp.matmul(x, W) + b, xp)
    W, b = layers[last]
    return out(xp.matmul(x, W) + b, xp)


def shape_trace(net: Mapping[str, Array], x: Any) -> list[tuple[str, tuple[int, ...]]]:
    """The shapes of a batch through the network, as the book's batch table.

    Nothing is computed; only the shapes are followed, and a broken chain raises ``ValueError``.

    >>> shape_trace(init_network(), np.zeros((100, 2)))
    [('X', (100, 2)), ('W1', (2, 3)), ('W2', (3, 2)), ('W3', (2, 2)), ('Y', (100, 2))]
    """
    layers = layer_arrays(net)
    x_shape = tuple(int(n) for n in np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)
    check_affine_shapes(x_shape, tuple(layers[0][0].shape), tuple(layers[0][1].shape), layer="1")
    rows: list[tuple[str, tuple[int, ...]]] = [("X", x_shape)]
    rows += [(f"W{i}", tuple(W.shape)) for i, (W, _) in enumerate(layers, start=1)]
    rows.append(("Y", (*x_shape[:-1], int(layers[-1][0].shape[1]))))
    return rows


def format_shape_trace(trace: list[tuple[str, tuple[int, ...]]]) -> str:
    """The trace as the book prints it: a row of names over a row of shapes.

    >>> print(format_shape_trace(shape_trace(init_network(), np.zeros((100, 2)))))
    X         W1      W2      W3      ->  Y
    100 x 2   2 x 3   3 x 2   2 x 2   ->  100 x 2
    """
    shapes = [" x ".join(map(str, s)) for _, s in trace]
    names = [n for n, _ in trace]
    widths = [max(len(a), len(b)) for a, b in zip(names, shapes)]

    def row(cells: list[str]) -> str:
        body = "   ".join(c.ljust(w) for c, w in zip(cells[:-1], widths[:-1]))
        return f"{body}   ->  {cells[-1]}"

    return row(names) + "\n" + row(shapes)
