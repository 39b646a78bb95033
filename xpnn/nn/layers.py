"""The book's layers (ch. 5-8) as data: a frozen description plus pure ``forward``/``backward``.

A layer object holds only its configuration (which parameters it reads, its stride, its
ratio); the arrays are passed in. Every layer has

- ``forward(params, x, *, train=False, rng=None) -> (y, cache)``: ``params`` maps names
  (``W1``, ``b1``, ``gamma1``, ``running_mean1``, ...) to arrays; ``cache`` is what
  ``backward`` needs (the book keeps it in ``self``);
- ``backward(params, cache, dy) -> (dx, grads)``: ``grads`` maps this layer's
  :meth:`~Layer.param_names` to their gradients;
- ``output_shape(shape, params)``: the shape of one output for one input of ``shape`` (no batch
  axis), or a ``ValueError`` when ``params`` do not fit;
- ``new_state(params, cache)``: the non-trainable arrays (batch normalization's running mean
  and variance) after a training step; empty for the other layers.

Nothing is written in place: the ReLU mask is the output, the pooling mask comes from
comparing an ``argmax`` with ``arange``, col2im is a sum of padded pieces (:mod:`.im2col`).

Convolution and Pooling live in :mod:`xpnn.nn.conv`, the base class in :mod:`xpnn.nn.base`.
Convolution and pooling delegate to a library's own kernel where it has one, as array-api-extra
delegates (:func:`native_kind`): ``torch.nn.functional.conv2d`` / ``max_pool2d`` and their
gradient kernels for PyTorch tensors, ``jax.lax.conv_general_dilated`` / ``reduce_window`` for
JAX arrays, NumPy's ``sliding_window_view`` for NumPy's im2col; every other library (CuPy,
array-api-strict) runs the generic im2col code. torch and jax are imported only when such an array arrives.
:data:`LAYERS` maps a layer's name to its class; :func:`layer_from_spec` builds one from
``{"type": "Convolution", "index": 1, "stride": 1, "pad": 0}``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..backends.compat import array_namespace, device, namespace_of
from ..functions import ACTIVATIONS
from .base import Layer, Params, Shape, WeightedLayer, flat, shape_of
from .conv import Convolution, Pooling

__all__ = [
    "LAYERS",
    "ActivationLayer",
    "Affine",
    "BatchNormalization",
    "Convolution",
    "Dropout",
    "Identity",
    "Layer",
    "Pooling",
    "Relu",
    "Sigmoid",
    "Tanh",
    "activation_layer",
    "layer_from_spec",
    "mlp_layers",
]

Array = Any


@dataclass(frozen=True)
class Affine(WeightedLayer):
    """``x.reshape(N, -1) @ W{index} + b{index}``: the book's ``Affine``, flattening conv output."""

    kind: ClassVar[str] = "Affine"

    def output_shape(self, shape: Shape, params: Params) -> Shape:
        W, b = self.weight_shapes(shape, params)
        d = math.prod(shape)
        if len(W) != 2 or W[0] != d or b != (W[1],):
            raise self.misfit(
                shape, params, f" ({d} values): W{self.index} must be ({d}, M), b{self.index} (M,)"
            )
        return (W[1],)

    def forward(self, params: Params, x: Array, *, train: bool = False, rng: Any = None) -> tuple[Array, Any]:
        xp = namespace_of(x)
        W, b = self.weight_and_bias(params)
        x2 = flat(x, xp)
        return xp.matmul(x2, W) + b, (shape_of(x), x2)

    def backward(self, params: Params, cache: Any, dy: Array) -> tuple[Array, dict[str, Array]]:
        xp = namespace_of(dy)
        shape = cache[0]
        dx = xp.matmul(dy, xp.permute_dims(params[f"W{self.index}"], (1, 0)))
        return (xp.reshape(dx, shape) if len(shape) != 2 else dx), self.param_grads(params, cache, dy)

    def param_grads(self, params: Params, cache: Any, dy: Array) -> dict[str, Array]:
        """The gradients of ``W{index}`` and ``b{index}`` alone (:meth:`backward` without ``dx``)."""
        xp = namespace_of(dy)
        x2 = cache[1]
        return self.gradients(xp.matmul(xp.permute_dims(x2, (1, 0)), dy), xp.sum(dy, axis=0))


@dataclass(frozen=True)
class ActivationLayer(Layer):
    """A hidden activation as a layer: forward and backward from its row of
    :data:`xpnn.functions.ACTIVATIONS` (``activation`` names it), the output as the cache."""

    activation: ClassVar[str] = ""

    def forward(self, params: Params, x: Array, *, train: bool = False, rng: Any = None) -> tuple[Array, Any]:
        y = ACTIVATIONS[self.activation].fn(x, namespace_of(x))
        return y, y

    def backward(self, params: Params, cache: Any, dy: Array) -> tuple[Array, dict[str, Array]]:
        return ACTIVATIONS[self.activation].backward(dy, cache, namespace_of(dy)), {}


@dataclass(frozen=True)
class Relu(ActivationLayer):
    """``max(x, 0)``; backward passes ``dy`` where the output is positive (the output is the mask)."""

    kind: ClassVar[str] = "Relu"
    activation: ClassVar[str] = "relu"


@dataclass(frozen=True)
class Sigmoid(ActivationLayer):
    """``1 / (1 + exp(-x))``, as ``tanh(x/2)/2 + 1/2`` (no overflow); backward ``dy·(1-y)·y``."""

    kind: ClassVar[str] = "Sigmoid"
    activation: ClassVar[str] = "sigmoid"


@dataclass(frozen=True)
class Tanh(ActivationLayer):
    """``tanh(x)``; backward ``dy·(1 - y²)``."""

    kind: ClassVar[str] = "Tanh"
    activation: ClassVar[str] = "tanh"


@dataclass(frozen=True)
class Identity(ActivationLayer):
    """``x`` itself; backward passes ``dy`` on (scikit-learn's ``activation="identity"``)."""

    kind: ClassVar[str] = "Identity"
    activation: ClassVar[str] = "identity"


#: The book's batch normalization adds 10e-7 to the variance.
BN_EPS = 10e-7


@dataclass(frozen=True)
class BatchNormalization(Layer):
    """The book's ``BatchNormalization``: per input value (a conv output is flattened, as the book).

    Training normalizes with the batch's mean and variance and updates ``running_mean{index}``
    and ``running_var{index}`` by ``momentum`` (:meth:`new_state`); inference uses those.
    Parameters ``gamma{index}``, ``beta{index}`` of shape ``(D,)``, D the values per input.
    """

    index: int
    momentum: float = 0.9
    kind: ClassVar[str] = "BatchNormalization"

    def param_names(self) -> tuple[str, ...]:
        return (f"gamma{self.index}", f"beta{self.index}")

    def state_names(self) -> tuple[str, ...]:
        return (f"running_mean{self.index}", f"running_var{self.index}")

    def output_shape(self, shape: Shape, params: Params) -> Shape:
        super().output_shape(shape, params)
        d = math.prod(shape)
        bad = [k for k in (*self.param_names(), *self.state_names()) if shape_of(params[k]) != (d,)]
        if bad:
            raise ValueError(f"{bad} must have shape ({d},) for an input of shape {shape}")
        return shape

    def forward(self, params: Params, x: Array, *, train: bool = False, rng: Any = None) -> tuple[Array, Any]:
        xp = array_namespace(x)
        i = self.index
        shape = shape_of(x)
        x2 = flat(x, xp)
        if train:
            mu = xp.mean(x2, axis=0)
            xc = x2 - mu
            var = xp.mean(xc * xc, axis=0)
            std = xp.sqrt(var + BN_EPS)
            xn = xc / std
            cache: Any = (shape, xc, std, xn, mu, var)
        else:
            xn = (x2 - params[f"running_mean{i}"]) / xp.sqrt(params[f"running_var{i}"] + BN_EPS)
            cache = None
        y = params[f"gamma{i}"] * xn + params[f"beta{i}"]
        return (xp.reshape(y, shape) if len(shape) != 2 else y), cache

    def backward(self, params: Params, cache: Any, dy: Array) -> tuple[Array, dict[str, Array]]:
        if cache is None:
            raise ValueError("batch normalization's backward needs a forward pass with train=True")
        xp = array_namespace(dy)
        shape, xc, std, xn, _, _ = cache
        n = shape[0]
        dy2 = flat(dy, xp)
        dxn = params[f"gamma{self.index}"] * dy2
        dxc = dxn / std
        dstd = -xp.sum(dxn * xc / (std * std), axis=0)
        dvar = 0.5 * dstd / std
        dxc = dxc + (2.0 / n) * xc * dvar
        dx = dxc - xp.sum(dxc, axis=0) / float(n)
        grads = {f"gamma{self.index}": xp.sum(xn * dy2, axis=0), f"beta{self.index}": xp.sum(dy2, axis=0)}
        return (xp.reshape(dx, shape) if len(shape) != 2 else dx), grads

    def new_state(self, params: Params, cache: Any) -> dict[str, Array]:
        if cache is None:
            return {}
        _, _, _, _, mu, var = cache
        m, i = float(self.momentum), self.index
        return {
            f"running_mean{i}": m * params[f"running_mean{i}"] + (1.0 - m) * mu,
            f"running_var{i}": m * params[f"running_var{i}"] + (1.0 - m) * var,
        }


@dataclass(frozen=True)
class Dropout(Layer):
    """The book's ``Dropout``: training keeps each value with probability ``1 - ratio`` (no rescaling);
    inference multiplies by ``1 - ratio`` (not inverted dropout: the book's trained files need this).

    The mask is drawn on the host from ``rng`` (a ``numpy.random.Generator``, required for
    ``train=True``) and moved to ``x``'s device: :meth:`mask`.
    """

    ratio: float = 0.5
    kind: ClassVar[str] = "Dropout"

    def mask(self, shape: Shape, rng: Any, like: Array) -> Array:
        """The book's ``rand(*shape) > ratio``, drawn from ``rng``, as ``like``'s dtype and device."""
        xp = array_namespace(like)
        keep = rng.random(shape) > float(self.ratio)
        return xp.astype(xp.asarray(keep, device=device(like)), like.dtype)

    def forward(self, params: Params, x: Array, *, train: bool = False, rng: Any = None) -> tuple[Array, Any]:
        if not train:
            return x * (1.0 - float(self.ratio)), None
        if rng is None:
            raise ValueError("dropout in training needs rng= (a numpy.random.Generator) for its mask")
        mask = self.mask(shape_of(x), rng, x)
        return x * mask, mask

    def backward(self, params: Params, cache: Any, dy: Array) -> tuple[Array, dict[str, Array]]:
        if cache is None:
            raise ValueError("dropout's backward needs a forward pass with train=True")
        return dy * cache, {}


#: Layer name -> class: a new layer is one class and one row here.
LAYERS: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (
        Affine, Relu, Sigmoid, Tanh, Identity, Convolution, Pooling, BatchNormalization, Dropout
    )
}  # fmt: skip


def activation_layer(name: str) -> ActivationLayer:
    """The layer of hidden activation ``name`` (a key of :data:`xpnn.functions.ACTIVATIONS`,
    case-insensitive); an unknown name is a ``ValueError`` listing the known ones.

    >>> activation_layer("ReLU")
    Relu()
    """
    spec = ACTIVATIONS.get(name.lower()) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    layer = LAYERS[spec.layer]()
    assert isinstance(layer, ActivationLayer)
    return layer


@functools.lru_cache(maxsize=64)
def mlp_layers(n: int, activation: str = "sigmoid") -> tuple[Layer, ...]:
    """The book's ch. 3-5 network of ``n`` affine layers as layers:
    ``(Affine(1), act, Affine(2), act, ..., Affine(n))``, ``act`` the layer of ``activation``.

    >>> mlp_layers(2, "relu")
    (Affine(index=1), Relu(), Affine(index=2))
    """
    act = activation_layer(activation)
    layers: list[Layer] = []
    for i in range(1, n + 1):
        layers += [Affine(i), act] if i < n else [Affine(i)]
    return tuple(layers)


def layer_from_spec(spec: Mapping[str, Any]) -> Layer:
    """A layer from ``{"type": name, **configuration}`` (what :meth:`Layer.spec` gives)."""
    kind = spec.get("type")
    cls = LAYERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown layer type {kind!r}; known: {sorted(LAYERS)}")
    config = {k: v for k, v in spec.items() if k != "type"}
    try:
        return cls(**config)
    except TypeError as e:
        raise ValueError(f"bad configuration for a {kind} layer: {config} ({e})") from None
