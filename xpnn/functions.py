"""The book's activation and output functions, written once against the Array API.

Every function takes an array of any Array API library (NumPy, CuPy, PyTorch, JAX, Dask,
array-api-strict; plain lists and scalars mean NumPy) and returns an array of the same library
on the same device.

**Dtype rule.** Floating input keeps its dtype. Integer and boolean input (for example MNIST
``uint8`` images) is cast, before any arithmetic, to the namespace's default floating dtype on
that device (``float64`` for NumPy, CuPy, Dask and array-api-strict; ``float32`` for PyTorch and
for JAX unless ``jax_enable_x64`` is set). Every function returns that floating dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np  # noqa: F401  (the doctests' np)

from ._inputs import as_input, check_real
from .backends.compat import array_namespace, device, is_array_api_obj

__all__ = [
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "ActivationSpec",
    "network_activation",
    "OUTPUT_FUNCTIONS",
    "affine",
    "cross_entropy_error",
    "identity_function",
    "log_softmax",
    "one_hot",
    "relu",
    "resolve_activation",
    "sigmoid",
    "softmax",
    "softmax_parts",
    "step_function",
]

Array = Any
#: A function of the tables: ``fn(x, xp)``, ``x`` already floating, ``xp`` its namespace.
Activation = Callable[[Array, Any], Array]


def _floating(x: Array, xp: Any) -> Array:
    """``x`` cast to a floating dtype by the module's dtype rule; not real numbers: ``TypeError``."""
    check_real(x)
    if xp.isdtype(x.dtype, "real floating"):
        return x
    dev = device(x)
    default = xp.__array_namespace_info__().default_dtypes(device=dev)["real floating"]
    return xp.astype(x, default)


def _prepare(x: Array, xp: Any) -> tuple[Array, Any]:
    if xp is None:
        x = as_input(x)  # lists and scalars become NumPy; load_mnist()'s pairs are named
        xp = array_namespace(x)
    return _floating(x, xp), xp


def step_function(x: Array, /, *, xp: Any = None) -> Array:
    """1 where ``x > 0``, else 0, in ``x``'s floating dtype (see the module's dtype rule).

    >>> step_function(np.array([-1.0, 1.0, 2.0]))
    array([0., 1., 1.])
    """
    x, xp = _prepare(x, xp)
    return xp.astype(x > 0, x.dtype)


def sigmoid(x: Array, /, *, xp: Any = None) -> Array:
    """The logistic function ``1 / (1 + exp(-x))``, computed as ``tanh(x/2)/2 + 1/2``.

    That form never overflows: at ±1000, in float16 as in float64, it gives exactly 0 and 1
    without a warning.

    >>> sigmoid(np.array([-1.0, 1.0, 2.0]))
    array([0.26894142, 0.73105858, 0.88079708])
    """
    x, xp = _prepare(x, xp)
    return _sigmoid(x, xp)


def _sigmoid(x: Array, xp: Any) -> Array:
    return xp.tanh(x * 0.5) * 0.5 + 0.5


def relu(x: Array, /, *, xp: Any = None) -> Array:
    """``max(x, 0)``, elementwise; NaN stays NaN.

    >>> relu(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    x, xp = _prepare(x, xp)
    return _relu(x, xp)


def _relu(x: Array, xp: Any) -> Array:
    return xp.maximum(x, xp.zeros_like(x))


def identity_function(x: Array, /, *, xp: Any = None) -> Array:
    """``x`` itself (cast to floating by the module's dtype rule): the book's regression output.

    >>> identity_function(np.array([1, 2]))
    array([1., 2.])
    """
    x, xp = _prepare(x, xp)
    return _identity(x, xp)


def _identity(x: Array, xp: Any) -> Array:
    return x


def softmax(x: Array, /, *, axis: int = -1, xp: Any = None) -> Array:
    """Softmax along ``axis`` (the last by default), with the maximum subtracted first.

    Each row of a batch is normalized on its own, so ``[1000, 1001, 1002]`` does not overflow.

    >>> softmax(np.array([0.3, 2.9, 4.0]))
    array([0.01821127, 0.24519181, 0.73659691])
    """
    x, xp = _prepare(x, xp)
    return _softmax(x, xp, axis=axis)


def softmax_parts(x: Array, xp: Any, axis: int = -1) -> tuple[Array, Array, Array]:
    """``(s, e, se)``: ``s = x - max x``, ``e = exp(s)``, ``se = Σ e`` (kept dims) along ``axis``.

    The one softmax computation: :func:`softmax` is ``e / se``, :func:`log_softmax`
    ``s - log(se)``, and the loss layers (:mod:`xpnn.nn.losses`) take both from one pass.
    """
    s = x - xp.max(x, axis=axis, keepdims=True)
    e = xp.exp(s)
    return s, e, xp.sum(e, axis=axis, keepdims=True)


def _softmax(x: Array, xp: Any, axis: int = -1) -> Array:
    _, e, se = softmax_parts(x, xp, axis)
    return e / se


def log_softmax(x: Array, /, *, axis: int = -1, xp: Any = None) -> Array:
    """``log(softmax(x))`` along ``axis``, as ``s - log Σ exp(s)`` with ``s = x - max x``: finite for
    any finite logits (the loss layers' exact cross-entropy is ``-Σ t · log_softmax(a)``).

    >>> log_softmax(np.array([0.0, 0.0]))
    array([-0.69314718, -0.69314718])
    """
    x, xp = _prepare(x, xp)
    s, _, se = softmax_parts(x, xp, axis)
    return s - xp.log(se)


def one_hot(t: Array, n: int, /, *, dtype: Any = None, xp: Any = None) -> Array:
    """Integer labels ``t`` of shape ``(N,)`` as one-hot rows ``(N, n)``, on ``t``'s device.

    Built by comparison with ``arange`` (no indexed assignment), so it runs on every backend;
    ``dtype`` defaults to the namespace's default floating dtype. Rows already one-hot
    (``(N, n)``) are only cast to ``dtype``. (array-api-extra's ``one_hot`` would do, but xpnn
    does not depend on array-api-extra.)

    >>> one_hot(np.array([0, 2]), 3)
    array([[1., 0., 0.],
           [0., 0., 1.]])
    """
    if xp is None:
        t = as_input(t)
        xp = array_namespace(t)
    dev = device(t)
    if dtype is None:
        dtype = xp.__array_namespace_info__().default_dtypes(device=dev)["real floating"]
    if len(t.shape) == 2:
        return t if t.dtype == dtype else xp.astype(t, dtype)
    return xp.astype(xp.expand_dims(t, axis=1) == xp.arange(n, device=dev), dtype)


def affine(x: Array, W: Array, b: Array, /, *, xp: Any = None) -> Array:
    """The affine layer ``x @ W + b``.

    ``x`` has shape ``(..., n_in)``, ``W`` ``(n_in, n_out)`` and ``b`` ``(n_out,)``; all three
    are arrays of one library. The result has shape ``(..., n_out)``.

    >>> affine(np.array([1.0, 0.5]), np.array([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]),
    ...        np.array([0.1, 0.2, 0.3]))
    array([0.3, 0.7, 1.1])
    """
    x, xp = _prepare(x, xp)
    W = _floating(W, xp)
    b = _floating(b, xp)
    check_affine_shapes(x.shape, W.shape, b.shape)
    return xp.matmul(x, W) + b


def check_affine_shapes(
    x_shape: tuple[int | None, ...], W_shape: tuple[int, ...], b_shape: tuple[int, ...], layer: str = ""
) -> None:
    """Raise ``ValueError`` naming the shapes unless ``x @ W + b`` chains."""
    where = f" in layer {layer}" if layer else ""
    if len(W_shape) != 2:
        raise ValueError(f"W{layer} must be 2-D (n_in, n_out); got shape {W_shape}")
    if tuple(b_shape) != (W_shape[1],):
        raise ValueError(
            f"b{layer} must have shape ({W_shape[1]},) to match W{layer} {W_shape}; got {b_shape}"
        )
    if len(x_shape) == 0 or x_shape[-1] != W_shape[0]:
        raise ValueError(
            f"input of shape {tuple(x_shape)} does not fit W{layer} of shape {tuple(W_shape)}{where}:"
            f" the last axis must be {W_shape[0]}"
        )


def cross_entropy_error(y: Array, t: Array, /, *, xp: Any = None) -> Array:
    """The book's cross-entropy error of probabilities ``y`` against labels ``t``, batch mean.

    ``y`` is one output ``(n,)`` or a batch ``(N, n)`` of probabilities (a softmax output);
    ``t`` holds integer labels (``()`` or ``(N,)``) or one-hot rows of ``y``'s shape. As in the
    book, ``1e-7`` is added inside the log, so a probability of exactly 0 for the right class
    costs ``-log(1e-7) ≈ 16.1`` instead of infinity; that constant also makes the result differ
    slightly from the exact cross-entropy (by about ``1e-7 / y`` per sample).
    Labels are picked by comparison with ``arange``, not by fancy indexing, so this runs on
    every backend. Returns a 0-d array.

    >>> float(cross_entropy_error(np.array([0.1, 0.05, 0.6, 0.0]), np.array([0, 0, 1, 0])))
    0.510825457099338
    >>> float(cross_entropy_error(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 0])))
    0.1642519154304695
    """
    y, xp = _prepare(y, xp)
    if len(y.shape) == 1:
        y = xp.reshape(y, (1, -1))
        t = xp.reshape(t if is_array_api_obj(t) else xp.asarray(t, device=device(y)), (1, -1))
        if t.shape[1] == 1:
            t = xp.reshape(t, (1,))
    elif not is_array_api_obj(t):
        t = xp.asarray(t, device=device(y))  # labels given as Python ints: on y's device
    n, width = y.shape
    if tuple(t.shape) not in ((n, width), (n,)):
        raise ValueError(
            f"t must be integer labels of shape ({n},) or one-hot rows of shape {(n, width)}; got {tuple(t.shape)}"
        )
    return -xp.sum(one_hot(t, width, dtype=y.dtype, xp=xp) * xp.log(y + 1e-7)) / n


def _tanh(x: Array, xp: Any) -> Array:
    return xp.tanh(x)


class ActivationSpec(NamedTuple):
    """One row of :data:`ACTIVATIONS`: everything xpnn knows about a hidden activation.

    - ``fn(x, xp)``: the forward function on floating ``x``;
    - ``backward(dy, y, xp)``: the gradient from the *output* ``y`` (the book's layers keep
      their output, not their input);
    - ``layer``: the name of its :mod:`xpnn.nn.layers` class (a key of ``xpnn.nn.LAYERS``; a
      name, since this floor imports no layer);
    - ``onnx``: the ONNX operator an export writes for it (None: no node at all).
    """

    fn: Activation
    backward: Callable[[Array, Array, Any], Array]
    layer: str
    onnx: str | None


#: The one activation registry: name -> :class:`ActivationSpec`. A new activation is one row
#: here (and, for its layer, a two-line class in :mod:`xpnn.nn.layers`); :data:`HIDDEN_ACTIVATIONS`,
#: the layers, training, the estimator, export and the command line all read it.
ACTIVATIONS: Mapping[str, ActivationSpec] = {
    "sigmoid": ActivationSpec(_sigmoid, lambda dy, y, xp: dy * (1.0 - y) * y, "Sigmoid", "Sigmoid"),
    "relu": ActivationSpec(_relu, lambda dy, y, xp: xp.where(y > 0.0, dy, 0.0), "Relu", "Relu"),
    "tanh": ActivationSpec(_tanh, lambda dy, y, xp: dy * (1.0 - y * y), "Tanh", "Tanh"),
    "identity": ActivationSpec(_identity, lambda dy, y, xp: dy, "Identity", None),
}

#: Hidden-layer activations by name, each ``fn(x, xp)`` on floating ``x``: what ``activation=``
#: accepts in :func:`xpnn.forward`, :func:`xpnn.predict` and :func:`xpnn.to_backend`
#: (the ``fn`` column of :data:`ACTIVATIONS`).
HIDDEN_ACTIVATIONS: Mapping[str, Activation] = {name: spec.fn for name, spec in ACTIVATIONS.items()}

#: Output functions by name, each ``fn(x, xp)``: what ``output=`` accepts in :func:`xpnn.forward`.
OUTPUT_FUNCTIONS: Mapping[str, Activation] = {"identity": _identity, "softmax": _softmax}


def resolve_activation(
    name_or_fn: str | Callable[..., Array], table: Mapping[str, Activation], what: str
) -> Activation:
    """The ``fn(x, xp)`` that ``name_or_fn`` means: a name looked up in ``table`` (case-insensitive,
    as optimizer names and the command line's), or a function.

    A function is one of one array (``xpnn.relu``, a lambda), as users pass it to ``forward``.
    ``what`` names the argument in the error, a ``ValueError`` listing the names in ``table``.

    >>> resolve_activation("relu", HIDDEN_ACTIVATIONS, "activation")(np.array([-1.0, 2.0]), np)
    array([0., 2.])
    >>> resolve_activation("swish", HIDDEN_ACTIVATIONS, "activation")
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'swish'; choose one of ['identity', 'relu', 'sigmoid', 'tanh'] or pass a function
    """
    if isinstance(name_or_fn, str):
        fn = table.get(name_or_fn.lower())
        if fn is not None:
            return fn
    elif callable(name_or_fn):
        function = name_or_fn
        return lambda a, xp: function(a)
    raise ValueError(f"unknown {what} {name_or_fn!r}; choose one of {sorted(table)} or pass a function")


def network_activation(net: Any, activation: str | None = None) -> str:
    """The one rule for a network's hidden activation: ``activation``, else the network's own, else sigmoid.

    A :class:`xpnn.Network` made by ``xpnn.train(..., activation=)`` or ``to_backend(...,
    activation=)`` knows its activation; asking for another one is a ``ValueError`` (an export
    or compile with the wrong activation would be silently wrong), as is an unknown name.

    >>> from xpnn import init_network, to_backend
    >>> network_activation(init_network()), network_activation(to_backend(init_network(), activation="relu"))
    ('sigmoid', 'relu')
    """
    own = getattr(net, "activation", None)
    if isinstance(activation, str):
        activation = activation.lower()  # names are case-insensitive, as resolve_activation reads them
    if activation is None:
        activation = own or "sigmoid"
    elif own is not None and activation != own:
        raise ValueError(
            f"this network's own activation is {own!r} (it was trained or placed with it); got"
            f" activation={activation!r}: leave activation out to use {own!r}"
        )
    if not isinstance(activation, str) or activation not in HIDDEN_ACTIVATIONS:  # a list: unhashable
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(HIDDEN_ACTIVATIONS)}")
    return activation
