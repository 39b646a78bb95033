"""The base of every layer: :class:`Layer` (configuration only; ``forward``/``backward`` pure),
:class:`WeightedLayer` (a weight and a bias: ``Affine``, ``Convolution``), and the two shape
helpers the layers share. See :mod:`xpnn.nn.layers` for the contract."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

__all__ = ["Layer", "Params", "Shape", "WeightedLayer", "flat", "shape_of"]

Array = Any
Params = Mapping[str, Array]
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Layer:
    """A layer: its configuration only. Subclasses define ``forward`` and ``backward``."""

    kind: ClassVar[str] = "Layer"

    def param_names(self) -> tuple[str, ...]:
        """The trainable arrays this layer reads from ``params`` (and gets gradients for)."""
        return ()

    def state_names(self) -> tuple[str, ...]:
        """The non-trainable arrays this layer reads (batch normalization's running statistics)."""
        return ()

    def output_shape(self, shape: Shape, params: Params) -> Shape:
        """The shape of one output, for one input of ``shape`` (no batch axis); ``ValueError`` if
        ``params`` lack this layer's arrays or their shapes do not fit."""
        missing = [k for k in (*self.param_names(), *self.state_names()) if k not in params]
        if missing:
            raise ValueError(f"{self!r} needs the parameters {missing}, which are missing")
        return shape

    def scratch(self, shape: Shape, params: Params) -> int:
        """About how many elements per input row the forward pass holds beside input and output."""
        return 0

    def forward(self, params: Params, x: Array, *, train: bool = False, rng: Any = None) -> tuple[Array, Any]:
        raise NotImplementedError

    def backward(self, params: Params, cache: Any, dy: Array) -> tuple[Array, dict[str, Array]]:
        raise NotImplementedError

    def new_state(self, params: Params, cache: Any) -> dict[str, Array]:
        """The state arrays after a training forward pass (none for most layers)."""
        return {}

    def spec(self) -> dict[str, Any]:
        """``{"type": name, **configuration}``: what :func:`layer_from_spec` builds it from."""
        return {"type": self.kind, **asdict(self)}


@dataclass(frozen=True)
class WeightedLayer(Layer):
    """A layer of one weight ``W{index}`` and one bias ``b{index}`` (``Affine``, ``Convolution``)."""

    index: int

    def param_names(self) -> tuple[str, ...]:
        return (f"W{self.index}", f"b{self.index}")

    def weight_and_bias(self, params: Params) -> tuple[Array, Array]:
        """``(W{index}, b{index})`` from ``params``."""
        return params[f"W{self.index}"], params[f"b{self.index}"]

    def param_grads(self, params: Params, cache: Any, dy: Array) -> dict[str, Array]:
        """The gradients of ``W{index}`` and ``b{index}`` alone: :meth:`backward` without ``dx``,
        for a first layer, whose input needs no gradient (layers override it to skip that work)."""
        return self.backward(params, cache, dy)[1]

    def gradients(self, dW: Array, db: Array) -> dict[str, Array]:
        """``{"W{index}": dW, "b{index}": db}``: what ``backward`` returns beside ``dx``."""
        return {f"W{self.index}": dW, f"b{self.index}": db}

    def weight_shapes(self, shape: Shape, params: Params) -> tuple[Shape, Shape]:
        """The shapes of ``W{index}`` and ``b{index}``, after :meth:`Layer.output_shape`'s check."""
        super().output_shape(shape, params)
        W, b = self.weight_and_bias(params)
        return shape_of(W), shape_of(b)

    def misfit(self, shape: Shape, params: Params, rule: str) -> ValueError:
        """The error for weights whose shapes do not fit an input of ``shape``; ``rule`` says why."""
        W, b = self.weight_shapes(shape, params)
        i = self.index
        return ValueError(
            f"W{i} of shape {W} and b{i} of shape {b} do not fit an input of shape {shape}{rule}"
        )


def shape_of(a: Array) -> Shape:
    return tuple(int(s) for s in a.shape)


def flat(x: Array, xp: Any) -> Array:
    """``x`` as ``(N, values per input)``; sizes spelled out, so an empty batch reshapes too."""
    shape = shape_of(x)
    return x if len(shape) == 2 else xp.reshape(x, (shape[0], math.prod(shape[1:])))
