"""The book's ``Convolution`` and max ``Pooling`` layers (ch. 7), with the libraries' own kernels.

Convolution and pooling delegate to a library's own kernel where it has one, as array-api-extra
delegates (:func:`~xpnn.nn.im2col.native_kind`): ``torch.nn.functional.conv2d`` / ``max_pool2d``
and their gradient kernels for PyTorch tensors, ``jax.lax.conv_general_dilated`` /
``reduce_window`` for JAX arrays; every other library runs the generic im2col code.
torch and jax are imported only when such an array arrives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ..backends.compat import array_namespace
from .base import Layer, Params, Shape, WeightedLayer, shape_of
from .im2col import native_kind, out_size, overlap_add, patches, unpatch, windows, zero_pad

__all__ = ["Convolution", "Pooling"]

Array = Any


def _torch_conv(x: Array, W: Array, b: Array, stride: int, pad: int) -> Array:
    from torch.nn import functional

    return functional.conv2d(x, W, b, stride=stride, padding=pad)


def _torch_conv_grads(
    x: Array, W: Array, dy: Array, stride: int, pad: int, need_dx: bool = True
) -> tuple[Array | None, Array]:
    """``(dx, dW)`` from torch's one convolution-backward kernel (``dx`` None unless ``need_dx``)."""
    import torch

    dx, dW, _ = torch.ops.aten.convolution_backward(
        dy, x, W, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1, [need_dx, True, False]
    )
    return dx, dW


def _jax_conv(x: Array, W: Array, stride: int, pad: int) -> Array:
    from jax import lax

    return lax.conv_general_dilated(
        x,
        W,
        (stride, stride),
        ((pad, pad), (pad, pad)),
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=lax.Precision.HIGHEST,
    )


def _jax_conv_grads(
    x: Array, W: Array, dy: Array, stride: int, pad: int, need_dx: bool = True
) -> tuple[Array | None, Array]:
    import jax

    if not need_dx:
        _, vjp = jax.vjp(lambda W: _jax_conv(x, W, stride, pad), W)
        return None, vjp(dy)[0]
    _, vjp = jax.vjp(lambda x, W: _jax_conv(x, W, stride, pad), x, W)
    dx, dW = vjp(dy)
    return dx, dW


def _zero_padded(x: Array, pad: int, xp: Any) -> Array:
    """``x`` (N, C, H, W) with ``pad`` zeros around H and W: the book pools over zeros, not -inf."""
    if not pad:
        return x
    return zero_pad(zero_pad(x, 2, pad, pad, xp=xp), 3, pad, pad, xp=xp)


@dataclass(frozen=True)
class Convolution(WeightedLayer):
    """The book's ``Convolution``: filters ``W{index}`` (FN, C, FH, FW), bias ``b{index}`` (FN,).

    Computed as ``W.reshape(FN, -1) @ patches(x)`` (im2col, all images at once); backward as
    the book: ``dW = Σ dy @ col.T``, ``db = Σ dy``, ``dx = col2im(W.T @ dy)``.
    """

    stride: int = 1
    pad: int = 0
    kind: ClassVar[str] = "Convolution"

    def output_shape(self, shape: Shape, params: Params) -> Shape:
        W, b = self.weight_shapes(shape, params)
        if len(W) != 4 or len(shape) != 3 or W[1] != shape[0] or b != (W[0],):
            raise self.misfit(
                shape, params, ": a convolution takes (C, H, W) input, W (FN, C, FH, FW), b (FN,)"
            )
        FN, _, FH, FW = W
        return (
            FN,
            out_size(shape[1], FH, self.stride, self.pad),
            out_size(shape[2], FW, self.stride, self.pad),
        )

    def scratch(self, shape: Shape, params: Params) -> int:
        _, C, FH, FW = shape_of(params[f"W{self.index}"])
        _, out_h, out_w = self.output_shape(shape, params)
        padded = C * (shape[1] + 2 * self.pad) * (shape[2] + 2 * self.pad)
        return C * FH * FW * out_h * out_w + padded  # the patches, and the padded input

    def forward(self, params: Params, x: Array, *, train: bool = False, rng: Any = None) -> tuple[Array, Any]:
        xp = array_namespace(x)
        W, b = self.weight_and_bias(params)
        FN, _, FH, FW = shape_of(W)
        N, _, H, W_in = shape_of(x)
        out_h, out_w = out_size(H, FH, self.stride, self.pad), out_size(W_in, FW, self.stride, self.pad)
        kind = native_kind(x)
        if kind == "torch":
            return _torch_conv(x, W, b, self.stride, self.pad), (kind, x)
        if kind == "jax":
            y = _jax_conv(x, W, self.stride, self.pad) + xp.reshape(b, (1, FN, 1, 1))
            return y, (kind, x)
        cols = patches(x, FH, FW, self.stride, self.pad)  # (C*FH*FW, N*out_h*out_w)
        y = xp.matmul(xp.reshape(W, (FN, -1)), cols) + xp.reshape(b, (FN, 1))
        # (FN, N, out_h, out_w) seen as (N, FN, out_h, out_w): the next patches() undoes the permute
        return xp.permute_dims(xp.reshape(y, (FN, N, out_h, out_w)), (1, 0, 2, 3)), (shape_of(x), cols)

    def backward(self, params: Params, cache: Any, dy: Array) -> tuple[Array, dict[str, Array]]:
        return self._backward(params, cache, dy, need_dx=True)

    def param_grads(self, params: Params, cache: Any, dy: Array) -> dict[str, Array]:
        return self._backward(params, cache, dy, need_dx=False)[1]

    def _backward(
        self, params: Params, cache: Any, dy: Array, *, need_dx: bool
    ) -> tuple[Any, dict[str, Array]]:
        xp = array_namespace(dy)
        shape, cols = cache
        W = params[f"W{self.index}"]
        FN, C, FH, FW = shape_of(W)
        if isinstance(shape, str):  # a native forward cached (library, input)
            native = _torch_conv_grads if shape == "torch" else _jax_conv_grads
            dx, dW = native(cols, W, dy, self.stride, self.pad, need_dx)
            return dx, self.gradients(dW, xp.sum(dy, axis=(0, 2, 3)))
        dy2 = xp.reshape(xp.permute_dims(dy, (1, 0, 2, 3)), (FN, math.prod(shape_of(dy)) // FN))  # (FN, N*P)
        dW = xp.matmul(dy2, xp.permute_dims(cols, (1, 0)))  # (FN, C*FH*FW)
        grads = self.gradients(xp.reshape(dW, (FN, C, FH, FW)), xp.sum(dy2, axis=1))
        if not need_dx:
            return None, grads
        dcols = xp.matmul(xp.permute_dims(xp.reshape(W, (FN, -1)), (1, 0)), dy2)  # (C*FH*FW, N*P)
        return unpatch(dcols, shape, FH, FW, self.stride, self.pad), grads


@dataclass(frozen=True)
class Pooling(Layer):
    """The book's max ``Pooling``: the maximum of each ``pool_h x pool_w`` window.

    Padding is with zeros, as the book's im2col pads (so a padded window of negative values has
    maximum 0). The gradient goes to the first maximum of each window, as the book's ``argmax``.
    """

    pool_h: int
    pool_w: int
    stride: int = 2
    pad: int = 0
    kind: ClassVar[str] = "Pooling"

    def output_shape(self, shape: Shape, params: Params) -> Shape:
        if len(shape) != 3:
            raise ValueError(f"{self!r} takes (C, H, W) input; got input of shape {shape}")
        C, H, W = shape
        return (
            C,
            out_size(H, self.pool_h, self.stride, self.pad),
            out_size(W, self.pool_w, self.stride, self.pad),
        )

    def scratch(self, shape: Shape, params: Params) -> int:
        return 2 * math.prod(shape)  # the padded input and its windows (copies on some libraries)

    def forward(self, params: Params, x: Array, *, train: bool = False, rng: Any = None) -> tuple[Array, Any]:
        xp = array_namespace(x)
        kind = native_kind(x)
        if kind == "torch":
            from torch.nn import functional

            padded, kernel = _zero_padded(x, self.pad, xp), (self.pool_h, self.pool_w)
            if train:  # the maxima's places, kept for backward (torch's own kernel)
                y, indices = functional.max_pool2d(padded, kernel, self.stride, return_indices=True)
                return y, (shape_of(x), (padded, indices))
            return functional.max_pool2d(padded, kernel, self.stride), (shape_of(x), x)
        if kind == "jax":
            from jax import lax

            y = lax.reduce_window(
                _zero_padded(x, self.pad, xp),
                -math.inf,
                lax.max,
                (1, 1, self.pool_h, self.pool_w),
                (1, 1, self.stride, self.stride),
                "VALID",
            )
            return y, (shape_of(x), x)
        parts = windows(x, self.pool_h, self.pool_w, self.stride, self.pad)
        y = parts[0]
        for part in parts[1:]:
            y = xp.maximum(y, part)
        return y, (shape_of(x), x)

    def backward(self, params: Params, cache: Any, dy: Array) -> tuple[Array, dict[str, Array]]:
        xp = array_namespace(dy)
        shape, x = cache
        if isinstance(x, tuple):  # a torch training forward: the padded input and its maxima's places
            padded, indices = x
            return self._torch_backward(shape, padded, indices, dy), {}
        if native_kind(x) == "torch":
            from torch.nn import functional

            padded = _zero_padded(x, self.pad, xp)
            kernel = (self.pool_h, self.pool_w)
            _, indices = functional.max_pool2d(padded, kernel, self.stride, return_indices=True)
            return self._torch_backward(shape, padded, indices, dy), {}
        parts = windows(x, self.pool_h, self.pool_w, self.stride, self.pad)
        first = xp.argmax(xp.stack(parts, axis=0), axis=0)  # the first maximum, as the book's argmax
        pieces = [xp.where(first == k, dy, 0.0) for k in range(len(parts))]
        return overlap_add(pieces, shape, self.pool_h, self.pool_w, self.stride, self.pad), {}

    def _torch_backward(self, shape: Shape, padded: Array, indices: Array, dy: Array) -> Array:
        """torch's own max-pool gradient kernel (the first maximum of each window, as the book)."""
        import torch

        kernel = [self.pool_h, self.pool_w]
        dx = torch.ops.aten.max_pool2d_with_indices_backward(
            dy, padded, kernel, [self.stride, self.stride], [0, 0], [1, 1], False, indices
        )
        H, W = shape[2], shape[3]
        return dx[:, :, self.pad : self.pad + H, self.pad : self.pad + W] if self.pad else dx
