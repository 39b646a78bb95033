"""Reference implementations: the book's NumPy code, in float64, to compare xpnn against."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def forward(net: Mapping[str, np.ndarray], x: np.ndarray, hidden=sigmoid, output=lambda a: a) -> np.ndarray:
    """The book's ``forward``, generalized to n layers, in float64."""
    z = np.asarray(x, dtype=np.float64)
    n = len(net) // 2
    for i in range(1, n + 1):
        a = z @ np.asarray(net[f"W{i}"], np.float64) + np.asarray(net[f"b{i}"], np.float64)
        z = hidden(a) if i < n else output(a)
    return z


def random_network(sizes: tuple[int, ...], dtype=np.float64, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    net = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
        net[f"W{i}"] = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
        net[f"b{i}"] = rng.standard_normal(n_out).astype(dtype) * 0.1
    return net


def book_predict(net: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The book's ``predict`` (ch. 3.6.2) in its own dtypes (float32), then argmax."""
    W1, W2, W3 = net["W1"], net["W2"], net["W3"]
    b1, b2, b3 = net["b1"], net["b2"], net["b3"]
    z1 = 1 / (1 + np.exp(-(np.dot(x, W1) + b1)))
    z2 = 1 / (1 + np.exp(-(np.dot(z1, W2) + b2)))
    return np.argmax(np.dot(z2, W3) + b3, axis=1)
