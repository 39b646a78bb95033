"""The book's networks placed on a backend: :class:`Network`, ``to_backend``, ``place``, ``forward``.

The interchange format is the book's dict ``{'W1', 'b1', ..., 'Wn', 'bn'}`` (any number of
layers; checked by :func:`xpnn._book_dict.layer_arrays`). ``to_backend`` places it on a backend
and device once and returns a read-only :class:`Network`: a :class:`xpnn.Sequential` of
``Affine``/activation layers over those arrays, so every path folds over one layer sequence;
``forward`` accepts either. The dtype rule is :mod:`xpnn._dtypes`, the shape table :mod:`xpnn.shapes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ._book_dict import init_network, layer_arrays  # noqa: F401  (the doctests' init_network)
from ._dtypes import floating_dtype, not_floating, resolve_dtype
from ._inputs import as_input, image_shape_hint
from .backends import Backend, backend_of, device_of, get_backend, to_numpy
from .functions import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS, Activation, resolve_activation
from .nn.batching import CPU_BATCH_ROWS, dense_batch_rows
from .nn.dense import run_layers
from .nn.layers import mlp_layers
from .nn.sequential import Sequential
from .runnable import Runnable

__all__ = ["CPU_BATCH_ROWS", "Network", "forward", "place", "run_layers", "to_backend"]

Array = Any


class Network(Sequential, Mapping[str, Array]):
    """The book's network placed on one backend and device; made by :func:`to_backend`.

    It is a :class:`xpnn.Sequential` whose layers are ``Affine(1), act, ..., Affine(n)``
    (:func:`xpnn.nn.layers.mlp_layers` of its ``activation``, sigmoid when it has none) over the
    book's ``W1, b1, ..., Wn, bn``, so inference, training and export fold over that one sequence.
    It reads like the book's dict (``net['W1']``, ``net.keys()``) but is read-only, so a placed
    copy can never go stale behind its source's back. Its ``n_in`` is the input width (an int).

    >>> net = to_backend(init_network(), "numpy")
    >>> net.run(net.prepare_input([1.0, 0.5]))
    array([0.31682708, 0.69627909])
    >>> net.layers
    (Affine(index=1), Sigmoid(), Affine(index=2), Sigmoid(), Affine(index=3))
    """

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
        dtype = layers[0][0].dtype
        if not xp.isdtype(dtype, "real floating"):
            raise not_floating(dtype)
        if activation is not None:
            resolve_activation(activation, HIDDEN_ACTIVATIONS, "activation")  # a known name, or ValueError
            if not isinstance(activation, str):
                raise ValueError(f"a network's activation is a name from {sorted(HIDDEN_ACTIVATIONS)}")
            activation = activation.lower()  # names are case-insensitive: stored as the tables spell them
        self._activation = activation
        arrays = {f"{p}{i}": a for i, pair in enumerate(layers, start=1) for p, a in zip("Wb", pair)}
        n_in, n_out = int(layers[0][0].shape[0]), int(layers[-1][0].shape[1])
        sequence = mlp_layers(len(layers), activation or "sigmoid")
        self._adopt(sequence, arrays, (n_in,), n_out, backend, device, backend, shared=shared)
        self.xp = xp
        self.default_batch_rows = dense_batch_rows(backend.name, device)

    @property
    def n_in(self) -> int:  # type: ignore[override]  # the book's network: the input width
        """The input width (``W1``'s rows)."""
        return self._input_shape[0]

    @property
    def activation(self) -> str | None:
        """The hidden activation it runs with when a call names none (None: the book's sigmoid)."""
        return self._activation

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths, input first: ``(784, 50, 100, 10)`` for the book's MNIST network."""
        return (self.n_in, *(int(W.shape[1]) for k, W in self._arrays.items() if k[0] == "W"))

    def prepare_input(self, x: Any, *, normalize: bool = False) -> Array:
        """``x`` on the network's backend and device, in its compute dtype, width checked.

        Integer input (MNIST ``uint8``) is uploaded as it is and cast on the device; ``normalize``
        then divides by 255 there, as ``load_mnist(normalize=True)`` does.
        """
        x = as_input(x)  # real numbers only (TypeError naming the dtype); lists become NumPy
        shape = tuple(x.shape)
        if not shape or shape[-1] != self._input_shape[0]:
            raise ValueError(
                f"input of shape {shape} does not fit W1 of shape"
                f" {tuple(self._arrays['W1'].shape)}: the last axis must be {self.n_in}"
                + image_shape_hint(shape, self.n_in)
            )
        return self._on_device(x, normalize)

    def run(self, x: Array, *, activation: Any = None, output: Any = "identity") -> Array:
        """The network's output for ``x`` from :meth:`prepare_input`: the book's forward pass.

        ``activation`` is a name from ``HIDDEN_ACTIVATIONS`` or a function of one array; None
        means the network's own (``"sigmoid"`` when it has none). ``output`` likewise, from
        ``OUTPUT_FUNCTIONS``.
        """
        # A Network is a dense chain by construction: its layer sequence runs as the book's loop.
        return self._run_dense(x, activation, resolve_activation(output, OUTPUT_FUNCTIONS, "output"))

    def book_loop(self, x: np.ndarray) -> Array | None:
        """``run(prepare_input(x))`` with the defaults for a NumPy ``x`` that needs nothing done
        (the network's dtype, its width on the last axis): the book's loop with nothing else per
        call. None for any other ``x``, which takes the checked path."""
        shape = x.shape
        if x.dtype != self.dtype or not shape or shape[-1] != self._input_shape[0]:
            return None
        return self._run_dense(x, None, OUTPUT_FUNCTIONS["identity"])

    def to_backend(self, backend: str = "numpy", device: Any = None, *, dtype: Any = None) -> Network:
        """A copy placed on ``backend`` and ``device`` (in ``dtype``), its activation kept."""
        return to_backend(self, backend, device, dtype=dtype)

    def __getitem__(self, key: str) -> Array:
        if isinstance(key, str):
            return self._arrays[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.sizes))
        act = f", activation={self.activation!r}" if self.activation else ""
        return f"Network({sizes}, dtype={self.dtype}, backend={self.backend!r}, device={self.device!r}{act})"


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
    if backend is None and device is None and dtype is None:
        last = _last_dict(net, x)
        if last is not None:
            return last
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
        return _place(layer_arrays(placed), backend_obj, dev, dtype, copy=False, activation=placed.activation)
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
    if all(p is o for p, o in zip((a for pair in layers for a in pair), network.values())):
        _LAST_DICT[0], _LAST_DICT[1] = key, network  # the caller's own arrays, none cast or copied
    return network


def _last_dict(net: Any, x: Any) -> Network | None:
    """The Network of :data:`_LAST_DICT` when ``net`` is a dict whose entries are still those it
    was checked with and ``x`` a NumPy array (the book's per-image loop), else None."""
    key = _LAST_DICT[0]
    if key is not None and type(net) is dict and type(x) is np.ndarray and key == _dict_key(net):
        return _LAST_DICT[1]
    return None


def _dict_key(net: dict[str, Array]) -> Any:
    """Each entry's name, array identity, shape and dtype (ids stay unique while the cache holds
    the arrays); None when an entry is no array."""
    try:
        return [(k, id(v), v.shape, v.dtype) for k, v in net.items()]
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
    cached = _last_dict(net, x) if backend is None and device is None else None
    if cached is not None and activation is None and output == "identity":
        y = cached.book_loop(x)  # the per-image loop's call, its dict checked before
        if y is not None:
            return y
    network: Runnable = cached if cached is not None else place(net, x, backend=backend, device=device)
    return network.run(network.prepare_input(x), activation=activation, output=output)
