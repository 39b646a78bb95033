"""im2col and col2im (the book's ``common/util.py``), with slices and stacks only.

The book fills ``col[:, :, y, x, :, :]`` and adds into ``img[:, :, y::stride, x::stride]``
in place. Here the same two maps are written without any indexed assignment, so they run on
every Array API library (JAX and array-api-strict included):

- :func:`windows` is the list of the ``FH * FW`` strided slices of the zero-padded input, one
  per filter offset ``(y, x)``, each ``(N, C, out_h, out_w)``;
- :func:`overlap_add` is its adjoint: each piece is spread back to its offset (zeros
  interleaved for the stride, zeros concatenated around it) and the pieces are summed.

:func:`im2col` and :func:`col2im` give the book's 2-D layout ``(N * out_h * out_w, C * FH * FW)``
on top of them; the layers use its transpose ``(C * FH * FW, N * out_h * out_w)``
(:func:`patches`), which makes a convolution one matrix product.

>>> import numpy as np
>>> x = np.arange(16.0).reshape(1, 1, 4, 4)
>>> im2col(x, 2, 2, stride=2).tolist()
[[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0], [8.0, 9.0, 12.0, 13.0], [10.0, 11.0, 14.0, 15.0]]
"""

from __future__ import annotations

from typing import Any

from ..backends.compat import array_namespace, device, is_jax_array, is_numpy_array, is_torch_array

__all__ = [
    "DELEGATE",
    "col2im",
    "im2col",
    "native_kind",
    "out_size",
    "overlap_add",
    "patches",
    "unpatch",
    "windows",
    "zero_pad",
]

Array = Any


#: ``False`` runs the generic code on every library (the tests compare both paths through it).
DELEGATE = True


def native_kind(x: Array) -> str | None:
    """The library whose own kernels convolution, pooling and im2col use for ``x``: ``"torch"``
    (``conv2d``, ``max_pool2d``), ``"jax"`` (``lax.conv_general_dilated``, ``reduce_window``),
    ``"numpy"`` (im2col as one ``sliding_window_view``); ``None``: the generic code.

    Delegation is only where the benchmark (benchmarks/convnet.py) shows it pays; the test of an
    array never imports its library.
    """
    if not DELEGATE:
        return None
    if is_numpy_array(x):
        return "numpy"
    if is_torch_array(x):
        return "torch"
    if is_jax_array(x):
        return "jax"
    return None


def out_size(size: int, filter_size: int, stride: int, pad: int) -> int:
    """The output length of a window sliding over ``size`` (plus ``pad`` on each side)."""
    n = (size + 2 * pad - filter_size) // stride + 1
    if n < 1 or filter_size < 1 or stride < 1 or pad < 0:
        raise ValueError(
            f"a filter of {filter_size} with stride {stride} and pad {pad} does not fit an input of"
            f" {size}: the filter must be at most the padded input, stride >= 1, pad >= 0"
        )
    return n


def _zeros_like_along(x: Array, axis: int, n: int, xp: Any) -> Array:
    shape = list(x.shape)
    shape[axis] = n
    return xp.zeros(tuple(shape), dtype=x.dtype, device=device(x))


def zero_pad(x: Array, axis: int, before: int, after: int, *, xp: Any = None) -> Array:
    """``x`` with ``before`` zeros in front and ``after`` zeros behind along ``axis`` (a concat)."""
    if xp is None:
        xp = array_namespace(x)
    parts = [x]
    if before:
        parts.insert(0, _zeros_like_along(x, axis, before, xp))
    if after:
        parts.append(_zeros_like_along(x, axis, after, xp))
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=axis)


def windows(x: Array, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> list[Array]:
    """The ``filter_h * filter_w`` strided slices of ``x`` (N, C, H, W), zero-padded by ``pad``.

    Slice ``y * filter_w + x`` holds, for every output position, the input element under filter
    offset ``(y, x)``: shape ``(N, C, out_h, out_w)``.
    """
    xp = array_namespace(x)
    H, W = int(x.shape[2]), int(x.shape[3])
    out_h, out_w = out_size(H, filter_h, stride, pad), out_size(W, filter_w, stride, pad)
    img = zero_pad(zero_pad(x, 2, pad, pad, xp=xp), 3, pad, pad, xp=xp) if pad else x
    return [
        img[:, :, y : y + stride * (out_h - 1) + 1 : stride, x0 : x0 + stride * (out_w - 1) + 1 : stride]
        for y in range(filter_h)
        for x0 in range(filter_w)
    ]


def _dilate(piece: Array, axis: int, stride: int, xp: Any) -> Array:
    """``piece`` with ``stride - 1`` zeros after every element along ``axis`` (the last ones cut)."""
    if stride == 1:
        return piece
    n = int(piece.shape[axis])
    shape = list(piece.shape)
    grown = xp.expand_dims(piece, axis=axis + 1)
    grown = zero_pad(grown, axis + 1, 0, stride - 1, xp=xp)
    shape[axis] = n * stride
    spread = xp.reshape(grown, tuple(shape))
    index = [slice(None)] * len(shape)
    index[axis] = slice(0, (n - 1) * stride + 1)
    return spread[tuple(index)]


def overlap_add(
    pieces: list[Array],
    input_shape: tuple[int, ...],
    filter_h: int,
    filter_w: int,
    stride: int = 1,
    pad: int = 0,
) -> Array:
    """The adjoint of :func:`windows`: each piece added back at its offset, padding cut off.

    ``pieces`` are ``filter_h * filter_w`` arrays ``(N, C, out_h, out_w)``; the result has
    ``input_shape`` (N, C, H, W). Where windows overlap, their values add up (the book's ``+=``).
    """
    xp = array_namespace(pieces[0])
    H, W = int(input_shape[2]), int(input_shape[3])
    Hp, Wp = H + 2 * pad, W + 2 * pad
    if stride == filter_h == filter_w:  # windows side by side (2x2 pooling): interleave, no sums
        N, C, out_h, out_w = (int(s) for s in pieces[0].shape)
        tiles = xp.reshape(xp.stack(pieces, axis=-1), (N, C, out_h, out_w, filter_h, filter_w))
        img = xp.reshape(
            xp.permute_dims(tiles, (0, 1, 2, 4, 3, 5)), (N, C, out_h * filter_h, out_w * filter_w)
        )
        img = zero_pad(zero_pad(img, 2, 0, Hp - out_h * filter_h, xp=xp), 3, 0, Wp - out_w * filter_w, xp=xp)
        return img[:, :, pad : pad + H, pad : pad + W] if pad else img
    total = None
    for k, piece in enumerate(pieces):
        y, x0 = divmod(k, filter_w)
        spread = _dilate(_dilate(piece, 2, stride, xp), 3, stride, xp)
        h, w = int(spread.shape[2]), int(spread.shape[3])
        spread = zero_pad(zero_pad(spread, 2, y, Hp - y - h, xp=xp), 3, x0, Wp - x0 - w, xp=xp)
        total = spread if total is None else total + spread
    assert total is not None, "overlap_add needs at least one piece"
    return total[:, :, pad : pad + H, pad : pad + W] if pad else total


def patches(x: Array, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> Array:
    """im2col in the layers' layout, the transpose of the book's: ``(C * FH * FW, N * out_h * out_w)``.

    Row ``c * FH * FW + y * FW + x`` matches ``W.reshape(FN, -1)``'s columns and column
    ``n * out_h * out_w + i`` is output position ``i`` of image ``n``, so a convolution of the
    whole batch is one 2-D matrix product ``W.reshape(FN, -1) @ patches(x)`` (a stack of
    per-image products is several times slower on NumPy).
    """
    if native_kind(x) == "numpy":
        return _numpy_patches(x, filter_h, filter_w, stride, pad)
    xp = array_namespace(x)
    N, C = int(x.shape[0]), int(x.shape[1])
    parts = windows(xp.permute_dims(x, (1, 0, 2, 3)), filter_h, filter_w, stride, pad)  # (C, N, oh, ow) each
    out_h, out_w = int(parts[0].shape[2]), int(parts[0].shape[3])
    stacked = xp.stack(parts, axis=1)  # (C, FH*FW, N, out_h, out_w)
    return xp.reshape(stacked, (C * filter_h * filter_w, N * out_h * out_w))


def _numpy_patches(x: Array, filter_h: int, filter_w: int, stride: int, pad: int) -> Array:
    """:func:`patches` for NumPy: one strided view of the padded input, copied once into place
    (the generic stack of ``FH * FW`` slices copies twice as much)."""
    import numpy as np

    N, C, H, W = (int(s) for s in x.shape)
    out_h, out_w = out_size(H, filter_h, stride, pad), out_size(W, filter_w, stride, pad)
    img = np.transpose(x, (1, 0, 2, 3))  # (C, N, H, W)
    if pad:
        img = np.pad(img, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    view = np.lib.stride_tricks.sliding_window_view(img, (filter_h, filter_w), axis=(2, 3))
    view = view[:, :, : stride * (out_h - 1) + 1 : stride, : stride * (out_w - 1) + 1 : stride]
    # (C, N, out_h, out_w, FH, FW) -> (C, FH, FW, N, out_h, out_w): the generic layout
    cols = np.transpose(view, (0, 4, 5, 1, 2, 3))
    return np.reshape(cols, (C * filter_h * filter_w, N * out_h * out_w))


def unpatch(
    cols: Array, input_shape: tuple[int, ...], filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> Array:
    """The adjoint of :func:`patches`: ``(C * FH * FW, N * out_h * out_w)`` back to ``input_shape``."""
    xp = array_namespace(cols)
    N, C, H, W = (int(s) for s in input_shape)
    out_h, out_w = out_size(H, filter_h, stride, pad), out_size(W, filter_w, stride, pad)
    split = xp.reshape(cols, (C, filter_h * filter_w, N, out_h, out_w))
    pieces = [split[:, k, ...] for k in range(filter_h * filter_w)]
    summed = overlap_add(pieces, (C, N, H, W), filter_h, filter_w, stride, pad)
    return xp.permute_dims(summed, (1, 0, 2, 3))


def im2col(input_data: Array, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> Array:
    """The book's ``im2col``: ``(N, C, H, W)`` to ``(N * out_h * out_w, C * filter_h * filter_w)``."""
    xp = array_namespace(input_data)
    return xp.permute_dims(patches(input_data, filter_h, filter_w, stride, pad), (1, 0))


def col2im(
    col: Array, input_shape: tuple[int, ...], filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> Array:
    """The book's ``col2im``: the adjoint of :func:`im2col` (overlapping windows add up)."""
    xp = array_namespace(col)
    return unpatch(xp.permute_dims(col, (1, 0)), tuple(input_shape), filter_h, filter_w, stride, pad)
