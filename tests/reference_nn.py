"""NumPy float64 references for the ch. 7-8 layers, written independently of xpnn.nn.

Convolution is a sum over filter offsets of ``einsum`` on strided views of ``np.pad``; pooling
takes the maximum over the same views; im2col/col2im are the book's loops with assignment
(fine here: this is NumPy on the host). Nothing is shared with the library's slicing code.
"""

from __future__ import annotations

import numpy as np


def im2col(x: np.ndarray, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The book's algorithm: fill ``col[:, :, y, x]`` from strided slices, then transpose."""
    N, C, H, W = x.shape
    oh, ow = (H + 2 * pad - fh) // stride + 1, (W + 2 * pad - fw) // stride + 1
    img = np.pad(np.asarray(x, np.float64), [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    col = np.zeros((N, C, fh, fw, oh, ow))
    for y in range(fh):
        for x0 in range(fw):
            col[:, :, y, x0, :, :] = img[:, :, y : y + stride * oh : stride, x0 : x0 + stride * ow : stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * oh * ow, -1)


def col2im(col: np.ndarray, shape: tuple, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    N, C, H, W = shape
    oh, ow = (H + 2 * pad - fh) // stride + 1, (W + 2 * pad - fw) // stride + 1
    col = np.asarray(col, np.float64).reshape(N, oh, ow, C, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for y in range(fh):
        for x0 in range(fw):
            img[:, :, y : y + stride * oh : stride, x0 : x0 + stride * ow : stride] += col[:, :, y, x0, :, :]
    return img[:, :, pad : H + pad, pad : W + pad]


def _views(x: np.ndarray, fh: int, fw: int, stride: int, pad: int):
    _, _, H, W = x.shape
    oh, ow = (H + 2 * pad - fh) // stride + 1, (W + 2 * pad - fw) // stride + 1
    img = np.pad(np.asarray(x, np.float64), [(0, 0), (0, 0), (pad, pad), (pad, pad)])
    for y in range(fh):
        for x0 in range(fw):
            yield y, x0, img[:, :, y : y + stride * oh : stride, x0 : x0 + stride * ow : stride]


def conv(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    W = np.asarray(W, np.float64)
    out = sum(
        np.einsum("nchw,fc->nfhw", v, W[:, :, y, x0]) for y, x0, v in _views(x, *W.shape[2:], stride, pad)
    )
    return out + np.asarray(b, np.float64)[None, :, None, None]


def pool(x: np.ndarray, ph: int, pw: int, stride: int = 2, pad: int = 0) -> np.ndarray:
    return np.max(np.stack([v for _, _, v in _views(x, ph, pw, stride, pad)]), axis=0)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def affine(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1) @ np.asarray(W, np.float64) + np.asarray(b, np.float64)


def simple_convnet(p: dict, x: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The book's SimpleConvNet.predict in float64."""
    h = pool(relu(conv(x, p["W1"], p["b1"], stride, pad)), 2, 2, 2)
    return affine(relu(affine(h, p["W2"], p["b2"])), p["W3"], p["b3"])


DEEP_PADS = (1, 1, 1, 2, 1, 1)


def deep_convnet(p: dict, x: np.ndarray) -> np.ndarray:
    """The book's DeepConvNet.predict(train_flg=False) in float64 (dropout scales by 0.5)."""
    h = np.asarray(x, np.float64)
    for i, pad in enumerate(DEEP_PADS, start=1):
        h = relu(conv(h, p[f"W{i}"], p[f"b{i}"], 1, pad))
        if i % 2 == 0:
            h = pool(h, 2, 2, 2)
    h = relu(affine(h, p["W7"], p["b7"])) * 0.5
    return affine(h, p["W8"], p["b8"]) * 0.5
