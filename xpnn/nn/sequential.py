"""A network as an ordered list of layers and a dict of arrays: :class:`Sequential`.

:func:`forward_layers` and :func:`backward_layers` are the whole forward and backward pass, pure
functions of the layers, the arrays and the input. :class:`Sequential` places the arrays on a
backend and device once and offers what inference needs (:class:`xpnn.runnable.Runnable`), so
``xpnn.predict``, ``predict_proba`` and ``accuracy`` run it in batches as they run the ch. 3
network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeGuard, TypeVar

import numpy as np

from .._dtypes import dtype_name
from ..backends import Backend, get_backend, to_numpy
from ..backends.compat import namespace_of
from ..functions import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS, Activation, resolve_activation
from .batching import BATCH_BYTES, layer_batch_rows, run_dask
from .dense import dense_chain, fold_sigmoid, run_layers, run_sigmoid_folded
from .layers import Layer, layer_from_spec
from .losses import decay_names, targets, weight_decay_term
from .passes import _infer, backward_layers, forward_layers

__all__ = [
    "BATCH_BYTES",
    "Sequential",
    "backward_layers",
    "forward_layers",
    "is_layer_network",
    "loss_and_gradient_of",
    "loss_of",
]

Array = Any
S = TypeVar("S", bound="Sequential")


def loss_and_gradient_of(
    layers: Sequence[Layer],
    arrays: Mapping[str, Array],
    x: Array,
    t: Array,
    params: Mapping[str, Array],
    **options: Any,
) -> tuple[Array, dict[str, Array], dict[str, Array]]:
    """:meth:`Sequential.loss_and_gradient` of ``layers`` over ``arrays`` (``params``: the trainable
    ones, in the order of the returned gradients), as a pure function of arrays; its options."""
    return _Over(layers, arrays, params).loss_and_gradient(x, t, **options)


def loss_of(
    layers: Sequence[Layer], arrays: Mapping[str, Array], x: Array, t: Array, **options: Any
) -> Array:
    """:meth:`Sequential.loss` of ``layers`` over ``arrays``, as a pure function of arrays; its options."""
    return _Over(layers, arrays, None).loss(x, t, **options)


def _layers(layers: Iterable[Layer | Mapping[str, Any]]) -> tuple[Layer, ...]:
    out = []
    for layer in layers:
        if isinstance(layer, Mapping):
            layer = layer_from_spec(layer)
        if not isinstance(layer, Layer):
            raise TypeError(
                f"a layer is a xpnn.nn layer or a spec dict {{'type': ...}}; got {type(layer).__name__}"
            )
        out.append(layer)
    if not out:
        raise ValueError("a Sequential network needs at least one layer")
    return tuple(out)


class Sequential:
    """Layers in order and their arrays, placed on one backend and device.

    ``layers`` are :mod:`xpnn.nn.layers` objects (or their spec dicts); ``params`` maps every
    name they read (``W1``, ``b1``, ``gamma1``, ``running_mean1``, ...) to an array, and nothing
    else; ``input_shape`` is the shape of one input without the batch axis (``(1, 28, 28)``).
    The arrays are copied to ``backend`` and ``device`` in ``dtype`` (default: theirs; integers
    become the backend's default floating dtype). Shapes are checked layer by layer.

    It is a :class:`xpnn.runnable.Runnable`: ``n_in`` is ``input_shape`` (a tuple), ``n_out``
    the number of outputs. Use :func:`xpnn.to_backend` (or :meth:`to_backend`) to move it.
    The book's ch. 3 network (:class:`xpnn.Network`) is one too: ``Affine``/activation layers
    over ``W1, b1, ...``; such a dense chain runs as the book's loop (:mod:`xpnn.nn.dense`).

    >>> import numpy as np, xpnn
    >>> from xpnn.nn import Affine, Relu
    >>> params = {"W1": np.ones((4, 3)), "b1": np.zeros(3), "W2": np.eye(3, 2), "b2": np.zeros(2)}
    >>> net = xpnn.Sequential([Affine(1), Relu(), Affine(2)], params, input_shape=(4,))
    >>> net.n_in, net.n_out, xpnn.predict(net, np.ones((2, 4)), normalize=False)
    ((4,), 2, array([0, 0]))
    """

    _folded: tuple[tuple[Array, Array], ...] | None  # the sigmoid shortcut's pairs, made on first use

    def __init__(
        self,
        layers: Iterable[Layer | Mapping[str, Any]],
        params: Mapping[str, Any],
        *,
        input_shape: Sequence[int],
        backend: str = "numpy",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        backend_obj, dev = get_backend(backend, device)
        host = {str(k): np.array(to_numpy(v)) for k, v in params.items()}
        self._setup(_layers(layers), host, tuple(int(s) for s in input_shape), backend_obj, dev, dtype)

    def _setup(
        self,
        layers: tuple[Layer, ...],
        host: dict[str, np.ndarray],
        input_shape: tuple[int, ...],
        backend: Backend,
        dev: Any,
        dtype: Any,
    ) -> None:
        names = [n for layer in layers for n in (*layer.param_names(), *layer.state_names())]
        extra = sorted(set(host) - set(names))
        if extra:
            raise ValueError(f"params hold {extra}, which no layer uses (the layers use {names})")
        not_float = {k: str(v.dtype) for k, v in host.items() if v.dtype.kind not in "fiub"}
        if not_float:
            raise ValueError(f"params must be real arrays; got {not_float}")
        shape = input_shape
        for layer in layers:
            shape = layer.output_shape(shape, host)
        if len(shape) != 1:
            raise ValueError(
                f"the last layer gives outputs of shape {shape}; a classifier ends in (n_classes,)"
            )
        # Dask runs each chunk of inputs through NumPy (or CuPy) arrays: the arrays live there.
        arrays_backend, array_dev = backend.arrays_on(dev)
        axp = arrays_backend.load()
        arrays = {k: arrays_backend.from_host(v, array_dev) for k, v in host.items()}
        if dtype is None:
            found = axp.result_type(*arrays.values()) if arrays else None
            if found is None or not axp.isdtype(found, "real floating"):
                found = axp.__array_namespace_info__().default_dtypes(device=array_dev)["real floating"]
            dtype = found
        elif isinstance(dtype, str):
            dtype = getattr(axp, dtype, None) or _no_dtype(axp, dtype)
        arrays = {k: (a if a.dtype == dtype else axp.astype(a, dtype)) for k, a in arrays.items()}
        self._adopt(layers, arrays, input_shape, int(shape[0]), backend, dev, arrays_backend)
        itemsize = _itemsize(axp, self.dtype)
        self.default_batch_rows: int | None = layer_batch_rows(layers, arrays, input_shape, itemsize)

    def _adopt(
        self,
        layers: tuple[Layer, ...],
        arrays: dict[str, Array],
        input_shape: tuple[int, ...],
        n_out: int,
        backend: Backend,
        dev: Any,
        arrays_backend: Backend,
        *,
        shared: bool = False,
    ) -> None:
        """Take ``arrays``, already placed, as this network's (no copy, no check)."""
        self.layers = layers
        self._arrays = arrays
        self._input_shape = input_shape
        self._n_out = n_out
        self._backend = backend
        self.device = dev
        self._arrays_backend = arrays_backend
        self.xp = backend.load()
        self.dtype = next(iter(arrays.values())).dtype if arrays else None
        # True when the arrays are a caller's own (forward's zero-copy use of a NumPy dict): they
        # may change in place, so nothing may be derived from them and kept.
        self.shared = shared
        # A dense chain (Affine, act, ..., Affine) of vectors runs as the book's loop over its pairs.
        self._dense = dense_chain(layers) if len(input_shape) == 1 else None
        own = self._dense[1] if self._dense is not None else None
        # The chain's own activation, resolved once: what a call that names none runs with.
        self._dense_fn = resolve_activation(own or "identity", HIDDEN_ACTIVATIONS, "activation")
        self._derive()

    # --- what inference needs (the Runnable protocol) ------------------------------------------

    @property
    def backend(self) -> str:
        """The name of the backend the network runs on."""
        return self._backend.name

    @property
    def n_in(self) -> tuple[int, ...]:
        """The shape of one input, without the batch axis (a :class:`Network`: its width, an int)."""
        return self._input_shape

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input, without the batch axis, for every network (``(784,)``, ``(1, 28, 28)``)."""
        return self._input_shape

    @property
    def n_out(self) -> int:
        return self._n_out

    @property
    def activation(self) -> str | None:
        """None: a layer network's activations are its layers."""
        return None

    def prepare_input(self, x: Any, *, normalize: bool = False) -> Array:
        """``x`` (one input ``n_in`` or a batch ``(N, *n_in)``) on the backend, in the compute dtype."""
        shape = getattr(x, "shape", None)
        if shape is None:
            x = np.asarray(x)
            shape = x.shape
        shape = tuple(shape)
        k = len(self._input_shape)
        if shape[-k:] != self._input_shape or len(shape) not in (k, k + 1):
            hint = (
                " (flat images: load_mnist(flatten=False), or reshape to (N, 1, 28, 28))"
                if len(shape) == 2 and math.prod(shape[1:]) == math.prod(self._input_shape)
                else ""
            )
            raise ValueError(
                f"input of shape {shape} does not fit this network: it takes one input {self._input_shape}"
                f" or a batch (N, {', '.join(map(str, self._input_shape))}){hint}"
            )
        return self._on_device(x, normalize)

    def _on_device(self, x: Any, normalize: bool) -> Array:
        """``x`` (its shape checked) on the network's backend and device, in its dtype, /255 if asked."""
        x = self._backend.asarray(x, self.device)
        if x.dtype != self.dtype:
            x = self.xp.astype(x, self.dtype)
        if normalize:
            x = x / 255.0
        return x

    def run(self, x: Array, *, activation: Any = None, output: Any = "identity") -> Array:
        """The network's output for ``x`` from :meth:`prepare_input` (inference: ``train=False``)."""
        if activation is not None:
            raise ValueError(
                f"activation={activation!r} does not apply to a layer network: its activations are its layers"
            )
        return self._run(x, None, resolve_activation(output, OUTPUT_FUNCTIONS, "output"))

    def _run(self, x: Array, hidden: str | Activation | None, out: Activation) -> Array:
        """``out`` of the layers' output for ``x``; ``hidden`` replaces a dense chain's activation."""
        if self._dense is not None and self._arrays_backend is self._backend:
            return self._run_dense(x, hidden, out)
        single = len(x.shape) == len(self._input_shape)
        if single:
            x = self.xp.expand_dims(x, axis=0)
        if self._backend.info.lazy:  # Dask: each chunk through the arrays where they live
            layers, arrays = self.layers, self._arrays
            meta = self._arrays_backend.load().empty((0, 0), dtype=self.dtype)
            k = len(self._input_shape)
            y = run_dask(x, lambda c: _infer(layers, arrays, c), out, k, self._n_out, self.dtype, meta)
        else:
            y = out(_infer(self.layers, self._arrays, x), self.xp)
        return y[0, ...] if single else y

    def _run_dense(self, x: Array, hidden: str | Activation | None, out: Activation) -> Array:
        """The fold over a dense chain as the book's loop over its ``(W, b)`` pairs; a sigmoid
        chain with the exact shortcut (:func:`xpnn.nn.dense.fold_sigmoid`, on kept arrays only)."""
        if hidden is None:
            if self.shared:  # a caller's arrays: no shortcut, the chain's own activation
                return run_layers(self._dense_pairs, x, self._dense_fn, out, self.xp)
            hidden = self._dense[1]  # type: ignore[index]
        if isinstance(hidden, str) and hidden.lower() == "sigmoid" and not self.shared:
            if self._folded is None:
                self._folded = fold_sigmoid(self._dense_pairs)
            return run_sigmoid_folded(self._folded, x, out, self.xp)
        fn = resolve_activation(hidden or "identity", HIDDEN_ACTIVATIONS, "activation")
        return run_layers(self._dense_pairs, x, fn, out, self.xp)

    def _derive(self) -> None:
        """What the dense pass reads: the chain's ``(W, b)`` pairs, the very arrays (a shared dict's
        arrays change in place, never identity), and no rescaled copy of them yet."""
        names = self._dense[0] if self._dense is not None else ()
        self._dense_pairs = [(self._arrays[w], self._arrays[b]) for w, b in names]
        self._folded = None

    # --- the arrays, placement, training's passes ------------------------------------------------

    @property
    def params(self) -> dict[str, Array]:
        """The trainable arrays (``W1``, ``b1``, ``gamma1``, ...), a new dict of the placed arrays."""
        names = [n for layer in self.layers for n in layer.param_names()]
        return {n: self._arrays[n] for n in names}

    @property
    def state(self) -> dict[str, Array]:
        """The non-trainable arrays (batch normalization's running mean and variance)."""
        names = [n for layer in self.layers for n in layer.state_names()]
        return {n: self._arrays[n] for n in names}

    def to_numpy(self) -> dict[str, np.ndarray]:
        """Every array (parameters and state) as host NumPy."""
        return {k: to_numpy(v) for k, v in self._arrays.items()}

    def replace(self: S, arrays: Mapping[str, Array]) -> S:
        """A network like this one (the same class) with some arrays replaced (already on its
        backend and device)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        merged = dict(self._arrays)
        for k, v in arrays.items():
            if k not in merged:
                raise ValueError(f"{k!r} is not an array of this network; its arrays are {sorted(merged)}")
            merged[k] = v
        new._arrays = merged
        new._derive()  # nothing derived from the old arrays is kept
        return new

    def to_backend(self, backend: str = "numpy", device: Any = None, *, dtype: Any = None) -> Sequential:
        """A copy placed on ``backend`` and ``device`` (in ``dtype``, default the current one)."""
        backend_obj, dev = get_backend(backend, device)
        new = object.__new__(type(self))
        new._setup(self.layers, self.to_numpy(), self._input_shape, backend_obj, dev, dtype)
        return new

    def forward(self, x: Array, *, train: bool = False, rng: Any = None) -> Array:
        """The logits for a batch ``x`` from :meth:`prepare_input`; ``train=True`` drops out (``rng``)."""
        if not train:
            return self._run(x, None, OUTPUT_FUNCTIONS["identity"])
        return forward_layers(self.layers, self._arrays, x, train=train, rng=rng)[0]

    def loss_and_gradient(
        self,
        x: Array,
        t: Array,
        *,
        loss: str = "cross_entropy",
        weight_decay: float = 0.0,
        sample_weight: Array = None,
        rng: Any = None,
    ) -> tuple[Array, dict[str, Array], dict[str, Array]]:
        """``(loss, grads, state)`` of one training step on batch ``x`` (prepared), targets ``t``:
        the one place xpnn computes a loss and its gradient, for every network.

        The forward pass runs with ``train=True`` (dropout masks from ``rng``, batch statistics).
        ``loss`` names the output layer (:data:`xpnn.nn.losses.LOSSES`): ``"cross_entropy"``
        (softmax; ``t`` integer labels or one-hot rows) or ``"squared_error"`` (identity; ``t``
        the targets ``(N, n_out)``). ``sample_weight`` ``(N,)`` weighs the rows (``Σ w l / Σ w``).
        ``weight_decay`` adds the book's ``0.5 * lambda * Σ W²`` over every weight matrix and conv
        kernel to the loss, ``lambda * W`` to their gradients. ``loss`` is a 0-d array, ``grads``
        holds one gradient per entry of :attr:`params` (in its order), ``state`` the new running
        statistics.
        """
        layers, arrays, params = self.layers, self._arrays, self.params
        xp = namespace_of(x)
        a, caches = forward_layers(layers, arrays, x, train=True, rng=rng)
        out, T, w = targets(loss, t, a, sample_weight, xp)
        value, y = out.forward(a, T, xp=xp, w=w)
        _, grads = backward_layers(layers, arrays, caches, out.backward(y, T, w), need_dx=False)
        state: dict[str, Array] = {}
        for layer, cache in zip(layers, caches):
            state.update(layer.new_state(arrays, cache))
        if weight_decay:
            lam = float(weight_decay)
            value = value + weight_decay_term(params, lam, xp)
            for k in decay_names(params):
                grads[k] = grads[k] + lam * params[k]
        return value, {k: grads[k] for k in params}, state

    def loss(
        self,
        x: Array,
        t: Array,
        *,
        loss: str = "cross_entropy",
        weight_decay: float = 0.0,
        sample_weight: Array = None,
        train: bool = False,
        rng: Any = None,
    ) -> Array:
        """The loss of :meth:`loss_and_gradient` alone (forward pass only, ``train=False`` by
        default), a 0-d array."""
        layers, arrays = self.layers, self._arrays
        xp = namespace_of(x)
        a = forward_layers(layers, arrays, x, train=True, rng=rng)[0] if train else _infer(layers, arrays, x)
        out, T, w = targets(loss, t, a, sample_weight, xp)
        value = out.forward(a, T, xp=xp, w=w)[0]
        if weight_decay:
            value = value + weight_decay_term(self.params, float(weight_decay), xp)
        return value

    def spec(self) -> list[dict[str, Any]]:
        """The layers as spec dicts (``Sequential(spec, params, input_shape=...)`` rebuilds it)."""
        return [layer.spec() for layer in self.layers]

    def __repr__(self) -> str:
        kinds = "-".join(layer.kind for layer in self.layers)
        return (
            f"{type(self).__name__}({kinds}, input_shape={self._input_shape}, dtype={dtype_name(self.dtype)},"
            f" backend={self.backend!r}, device={self.device!r})"
        )


class _Over(Sequential):
    """Layers over arrays as they are (no placement, no check): what :func:`loss_of` and
    :func:`loss_and_gradient_of` run :class:`Sequential`'s passes on; ``params`` gives the order."""

    def __init__(
        self, layers: Sequence[Layer], arrays: Mapping[str, Array], params: Mapping[str, Array] | None
    ) -> None:
        self.layers, self._arrays, self._given = tuple(layers), arrays, params  # type: ignore[assignment]

    @property
    def params(self) -> dict[str, Array]:
        return super().params if self._given is None else dict(self._given)


def is_layer_network(net: Any) -> TypeGuard[Sequential]:
    """Whether ``net`` is a layer network: a :class:`Sequential` whose activations are its layers,
    not the book's dict network (:class:`xpnn.Network`, a read-only Mapping of ``W1, b1, ...``)."""
    return isinstance(net, Sequential) and not isinstance(net, Mapping)


def _itemsize(xp: Any, dtype: Any) -> int:
    """Bytes per element of ``dtype`` (bfloat16 too, which NumPy knows only with ml_dtypes loaded)."""
    info = xp.finfo(dtype) if xp.isdtype(dtype, "real floating") else xp.iinfo(dtype)
    return int(info.bits) // 8


def _no_dtype(xp: Any, name: str) -> Any:
    raise ValueError(f"{xp.__name__} has no dtype {name!r}")
