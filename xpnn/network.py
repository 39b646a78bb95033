"""The book's networks placed on a backend: :class:`Network`, ``to_backend``, ``place``, ``forward``.

The interchange format is the book's dict ``{'W1', 'b1', ..., 'Wn', 'bn'}`` (any number of
layers; checked by :func:`xpnn._book_dict.layer_arrays`). ``to_backend`` places it on a backend
and device once and returns a read-only :class:`Network` (a :class:`xpnn.runnable.Runnable`);
``forward`` accepts either. The dtype rule is :mod:`xpnn._dtypes`, the shape table :mod:`xpnn.shapes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ._book_dict import init_network, layer_arrays  # noqa: F401  (the doctests' init_network)
from ._dtypes import floating_dtype, not_floating, resolve_dtype
from ._inputs import as_input, image_shape_hint
from .backends import TABLE, Backend, backend_of, device_of, get_backend, to_numpy
from .functions import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS, Activation, resolve_activation
from .runnable import Runnable

__all__ = ["Network", "forward", "place", "run_layers", "to_backend"]

Array = Any


#: Rows per batch on CPU devices when a call gives none: measured (benchmarks: batch-sweep,
#: mnist-infer), batches of about a thousand rows beat one big batch on CPUs, since each
#: layer's activations then stay in cache. GPUs, JAX, Dask and array-api-strict take one batch.
CPU_BATCH_ROWS = 1024


def _default_batch_rows(backend: str, device: Any) -> int | None:
    if TABLE[backend].cpu_batches and getattr(device, "type", device) == "cpu":  # NumPy, PyTorch
        return CPU_BATCH_ROWS
    return None


class Network(Mapping[str, Array]):
    """A book-style network placed on one backend and device; made by :func:`to_backend`.

    It reads like the book's dict (``net['W1']``, ``net.keys()``) but is read-only, so a
    placed copy can never go stale behind its source's back. It is a :class:`Runnable`.

    >>> net = to_backend(init_network(), "numpy")
    >>> net.run(net.prepare_input([1.0, 0.5]))
    array([0.31682708, 0.69627909])
    """

    __slots__ = (
        "_backend",
        "_layers",
        "_sigmoid_layers",
        "activation",
        "default_batch_rows",
        "device",
        "dtype",
        "n_in",
        "n_out",
        "shared",
        "xp",
    )

    def __init__(
        self,
        layers: list[tuple[Array, Array]],
        backend: Backend,
        device: Any,
        xp: Any,
        *,
        shared: bool = False,
        activation: str | None = None,
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
        if not xp.isdtype(self.dtype, "real floating"):
            raise not_floating(self.dtype)
        self.n_in = int(layers[0][0].shape[0])
        self.n_out = int(layers[-1][0].shape[1])
        if activation is not None:
            resolve_activation(activation, HIDDEN_ACTIVATIONS, "activation")  # a known name, or ValueError
            if not isinstance(activation, str):
                raise ValueError(f"a network's activation is a name from {sorted(HIDDEN_ACTIVATIONS)}")
            activation = activation.lower()  # names are case-insensitive: stored as the tables spell them
        self.activation = activation
        self.default_batch_rows = _default_batch_rows(backend.name, device)

    @property
    def backend(self) -> str:
        """The name of the backend the weights live on."""
        return self._backend.name

    @property
    def layers(self) -> tuple[tuple[Array, Array], ...]:
        """``((W1, b1), ..., (Wn, bn))``."""
        return self._layers

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first: ``(784, 50, 100, 10)`` for the book's MNIST network."""
        return (self.n_in, *(int(W.shape[1]) for W, _ in self._layers))

    def prepare_input(self, x: Any, *, normalize: bool = False) -> Array:
        """``x`` on the network's backend and device, in its compute dtype, width checked.

        Integer input (MNIST ``uint8``) is uploaded as it is and cast on the device; ``normalize``
        then divides by 255 there, as ``load_mnist(normalize=True)`` does.
        """
        x = as_input(x)  # real numbers only (TypeError naming the dtype); lists become NumPy
        shape = tuple(x.shape)
        if not shape or shape[-1] != self.n_in:
            raise ValueError(
                f"input of shape {shape} does not fit W1 of shape"
                f" {tuple(self._layers[0][0].shape)}: the last axis must be {self.n_in}"
                + image_shape_hint(shape, self.n_in)
            )
        x = self._backend.asarray(x, self.device)
        if x.dtype != self.dtype:
            x = self.xp.astype(x, self.dtype)
        if normalize:
            x = x / 255.0
        return x

    def run(self, x: Array, *, activation: Any = None, output: Any = "identity") -> Array:
        """The network's output for ``x`` from :meth:`prepare_input`: the book's forward pass.

        ``activation`` is a name from ``HIDDEN_ACTIVATIONS`` or a function of one array; None
        means the network's own (``"sigmoid"`` when it has none). ``output`` likewise, from
        ``OUTPUT_FUNCTIONS``.
        """
        if activation is None:
            activation = self.activation or "sigmoid"
        out = resolve_activation(output, OUTPUT_FUNCTIONS, "output")
        if isinstance(activation, str) and activation.lower() == "sigmoid" and not self.shared:
            return _run_sigmoid_folded(self._folded_sigmoid_layers(), x, out, self.xp)
        hidden = resolve_activation(activation, HIDDEN_ACTIVATIONS, "activation")
        return run_layers(self._layers, x, hidden, out, self.xp)

    def _folded_sigmoid_layers(self) -> tuple[tuple[Array, Array], ...]:
        if self._sigmoid_layers is None:
            self._sigmoid_layers = _fold_sigmoid(self._layers)
        return self._sigmoid_layers

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
        act = f", activation={self.activation!r}" if self.activation else ""
        return f"Network({sizes}, dtype={self.dtype}, backend={self.backend!r}, device={self.device!r}{act})"

    def to_numpy(self) -> dict[str, np.ndarray]:
        """The weights as a book-style dict of host NumPy arrays."""
        return {key: to_numpy(value) for key, value in self.items()}


def to_backend(
    net: Mapping[str, Array],
    backend: str = "numpy",
    device: Any = None,
    *,
    dtype: Any = None,
    activation: str | None = None,
) -> Network:
    """Place a network's weights on ``backend`` and ``device`` once; returns a :class:`Network`.

    ``dtype`` (a real floating dtype of that backend, or its name) overrides the compute dtype,
    which is otherwise the weights' own (integer weights become the backend's default floating
    dtype); an integer or bool ``dtype`` is a ``ValueError`` (:func:`floating_dtype`).
    ``activation`` (a name from ``HIDDEN_ACTIVATIONS``) is the hidden activation the network
    runs with when a call names none; None means the book's sigmoid.
    The weights are copied: later edits of ``net`` do not reach the placed network.

    >>> to_backend(init_network(), "numpy")
    Network(2-3-2-2, dtype=float64, backend='numpy', device='cpu')
    >>> to_backend(init_network(), activation="relu").activation
    'relu'
    """
    if not isinstance(net, Mapping) and callable(getattr(net, "to_backend", None)):
        if activation is not None:
            raise ValueError("a layer network's activations are its layers: leave out activation=")
        return net.to_backend(backend, device, dtype=dtype)  # a layer network (xpnn.Sequential) moves itself
    backend_obj, dev = get_backend(backend, device)
    if activation is None and isinstance(net, Network):
        activation = net.activation
    return _place(layer_arrays(net), backend_obj, dev, dtype, copy=True, activation=activation)


def _place(
    layers: list[tuple[Array, Array]],
    backend: Backend,
    dev: Any,
    dtype: Any,
    *,
    copy: bool,
    activation: str | None = None,
) -> Network:
    """The layers on ``backend``: copies (``copy=True``), or the very arrays where they already fit."""
    xp = backend.load()
    if copy:  # a private host copy first: no upload may share memory with the caller's arrays
        arrays = [backend.from_host(np.array(to_numpy(a)), dev) for pair in layers for a in pair]
    else:  # arrays already there as they are (NumPy on NumPy: the very arrays), others uploaded
        arrays = [backend.asarray(a, dev) for pair in layers for a in pair]
    dtype = resolve_dtype(xp, dtype, arrays, dev)
    arrays = [a if a.dtype == dtype else xp.astype(a, dtype) for a in arrays]
    shared = not copy  # the caller's arrays, or views of them (torch.as_tensor shares memory)
    return Network(
        list(zip(arrays[::2], arrays[1::2])), backend, dev, xp, shared=shared, activation=activation
    )


def place(
    net: Mapping[str, Array] | Runnable,
    x: Any = None,
    *,
    backend: str | None = None,
    device: Any = None,
    dtype: Any = None,
) -> Runnable:
    """The :class:`Runnable` a call on input ``x`` runs with: where ``forward`` and ``predict`` run.

    - ``backend`` named: the weights are placed there (``device=`` passed to that backend).
    - else a :class:`Network` runs where it lives (``device``/``dtype`` may still move it);
    - else a dict follows ``x``: its library and device (lists and NumPy arrays mean NumPy;
      no ``x`` means NumPy).

    Another :class:`Runnable` (a compiled network) is returned as it is; asking it for another
    backend or device is a ``ValueError``.

    >>> place(init_network(), [1.0, 0.5]).backend
    'numpy'
    """
    plain = type(net) is dict and backend is None and device is None and dtype is None
    if plain and type(x) is np.ndarray and _LAST_DICT[0] is not None and _LAST_DICT[0] == _dict_key(net):  # type: ignore[arg-type]
        return _LAST_DICT[1]  # the book's per-image loop: checked last call
    if type(net) is not dict and not isinstance(net, Network) and isinstance(net, Runnable):
        moved = backend not in (None, net.backend) or device is not None or dtype is not None
        if moved and callable(getattr(net, "to_backend", None)):  # a layer network (xpnn.Sequential)
            return net.to_backend(backend or net.backend, device, dtype=dtype)  # type: ignore[attr-defined]
        wrong = (backend is not None and backend != net.backend) or (
            device is not None and repr(device) != repr(net.device) and str(device) != str(net.device)
        )
        if wrong or dtype is not None:
            raise ValueError(
                f"{type(net).__name__} runs on backend {net.backend!r}, device {net.device!r} only;"
                f" got backend={backend!r}, device={device!r}, dtype={dtype!r}: leave them out,"
                " or make it again for that backend"
            )
        return net
    placed = net if isinstance(net, Network) else None
    if backend is None:
        if placed is not None:
            if device is None and dtype is None:
                return placed
            backend = placed.backend
            device = placed.device if device is None else device  # dtype= alone keeps its device
        else:
            backend = backend_of(x) or "numpy"  # lists, scalars and None too
            if device is None and backend != "numpy":
                device = device_of(x)
    backend_obj, dev = get_backend(backend, device)
    if placed is not None:
        if (
            placed.backend == backend_obj.name
            and repr(placed.device) == repr(dev)
            and (dtype is None or floating_dtype(placed.xp, dtype) == placed.dtype)
        ):
            return placed
        return _place(list(placed.layers), backend_obj, dev, dtype, copy=False, activation=placed.activation)
    # A dict is placed on each call: its arrays as they are where they fit (NumPy on NumPy, the
    # very arrays), else uploaded. to_backend() places once for repeated calls.
    if backend_obj.name == "numpy" and dtype is None and type(net) is dict:
        return _numpy_dict_network(net, backend_obj, dev)
    return _place(layer_arrays(net), backend_obj, dev, dtype, copy=False)


#: The last NumPy dict placed by :func:`place`: ``(key, Network)``. The book's per-image loop
#: calls ``forward(network, x)`` thousands of times with one dict; its keys and shapes are then
#: checked once, not on every call.
_LAST_DICT: list[Any] = [None, None]


def _numpy_dict_network(net: dict[str, Array], backend: Backend, dev: Any) -> Network:
    """``_place(layer_arrays(net), ...)`` for a dict on NumPy, remembered for the next call.

    The key is every entry's name, array identity, type, shape and dtype, so a replaced array,
    a reshaped one (``a.shape = ...``) or a reinterpreted dtype misses and is checked again, with
    the same errors. A hit reuses a Network made of the very arrays (``shared``: nothing derived
    from them is kept, so in-place edits of their values are seen). Only one dict is held.
    """
    key = _dict_key(net)
    if key is not None and _LAST_DICT[0] == key:
        return _LAST_DICT[1]
    layers = layer_arrays(net)
    network = _place(layers, backend, dev, None, copy=False)
    if all(p is o for pair, placed in zip(layers, network.layers) for p, o in zip(placed, pair)):
        _LAST_DICT[0], _LAST_DICT[1] = key, network  # the caller's own arrays, none cast or copied
    return network


def _dict_key(net: dict[str, Array]) -> Any:
    """Each entry's name, array identity, shape and dtype object (ids stay unique while the cache
    holds the arrays, and their dtypes); None when an entry is no array."""
    try:
        return [(k, id(v), v.shape, id(v.dtype)) for k, v in net.items()]
    except AttributeError:
        return None


def forward(
    net: Mapping[str, Array] | Runnable,
    x: Any,
    *,
    backend: str | None = None,
    device: Any = None,
    activation: str | Activation | None = None,
    output: str | Activation = "identity",
) -> Array:
    """The book's forward pass: ``affine -> activation`` per hidden layer, then ``output``.

    ``net`` is a book-style dict or a :class:`Network` from :func:`to_backend`; ``x`` is one
    input ``(n_in,)`` or a batch ``(N, n_in)``: any array, list or NumPy array.

    Where it runs (see :func:`place`):

    - ``backend=None``: a :class:`Network` runs where it lives and ``x`` is moved there;
      a dict follows ``x`` (its library and device; lists and NumPy arrays mean NumPy).
    - ``backend="cupy"`` (or any name in ``xpnn.BACKENDS``, or ``"auto"``): ``x`` and the
      weights are moved there, and ``device=`` is passed to that backend.

    A dict's weights are used as they are where they already fit (NumPy weights, NumPy input)
    and uploaded on each call otherwise: for repeated calls on another backend, place them once
    with :func:`to_backend`. The weights' dtype is the compute dtype; ``x`` is cast to it.

    ``activation`` is ``"sigmoid"`` (the book's) or ``"relu"``; None means the network's own
    (``to_backend(..., activation=)``), else sigmoid. ``output`` is ``"identity"`` (the book's
    3-layer example) or ``"softmax"``. Either may be a function of one array.

    >>> forward(init_network(), [1.0, 0.5])
    array([0.31682708, 0.69627909])
    """
    network = place(net, x, backend=backend, device=device)
    return network.run(network.prepare_input(x), activation=activation, output=output)


def run_layers(
    layers: Sequence[tuple[Array, Array]], x: Array, hidden: Activation, out: Activation, xp: Any
) -> Array:
    """The book's loop: ``out(affine(...hidden(affine(x))...))`` through ``layers``."""
    for W, b in layers[:-1]:
        x = hidden(xp.matmul(x, W) + b, xp)
    W, b = layers[-1]
    return out(xp.matmul(x, W) + b, xp)


def _fold_sigmoid(layers: Sequence[tuple[Array, Array]]) -> tuple[tuple[Array, Array], ...]:
    """The layers rescaled so that a sigmoid network runs as ``tanh(x @ W + b) + 1`` per layer.

    ``sigmoid(a) = (tanh(a/2) + 1) / 2``, and scaling by a power of two is exact in binary
    floating point, so every ``/2`` moves into the weights: ``W1/2, b1/2``, then ``W2/4, b2/2``,
    ..., and ``Wn/2, bn``. Each hidden layer is then 3 elementwise passes instead of 5, with the
    very same numbers (exact unless a scaled weight falls below the dtype's smallest normal
    number: never in practice for float32, float64 and bfloat16; float16 weights under about
    2e-4 can lose low bits).
    """
    last = len(layers) - 1
    return tuple(
        (W * ((1.0 if i == 0 else 0.5) * (1.0 if i == last else 0.5)), b * (1.0 if i == last else 0.5))
        for i, (W, b) in enumerate(layers)
    )


def _run_sigmoid_folded(layers: Sequence[tuple[Array, Array]], x: Array, out: Activation, xp: Any) -> Array:
    """:func:`run_layers` with sigmoid, on layers from :func:`_fold_sigmoid`."""
    for W, b in layers[:-1]:
        x = xp.tanh(xp.matmul(x, W) + b) + 1.0
    W, b = layers[-1]
    return out(xp.matmul(x, W) + b, xp)
