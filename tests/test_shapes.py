"""Issue 19: ``shape_trace`` folds each layer's ``output_shape`` over ``net.layers``, for every
network: the book's dict and placed ``Network`` (the book's table), and any layer network
(``SimpleConvNet``, ``DeepConvNet``, ``MultiLayerNetExtend``) with the book's ch. 7/8 shapes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import reference
from conftest import Case

import xpnn
from xpnn.nn import Affine, Convolution, Pooling, Sequential

#: The book's ch. 7 SimpleConvNet on 100 MNIST images: conv 30 x 5 x 5, 2 x 2 pool, 4320-100-10.
SIMPLE_CONVNET = [
    ("X", (100, 1, 28, 28)),
    ("Convolution1", (100, 30, 24, 24)),
    ("Pooling1", (100, 30, 12, 12)),
    ("Affine2", (100, 100)),
    ("Affine3", (100, 10)),
    ("Y", (100, 10)),
]
#: The book's ch. 8 DeepConvNet on one image: 3 x 3 convolutions (16, 16, 32, 32, 64, 64 filters;
#: the fourth padded by 2), a pool after each pair, 1024-50-10.
DEEP_CONVNET = [
    ("X", (1, 28, 28)),
    ("Convolution1", (16, 28, 28)),
    ("Convolution2", (16, 28, 28)),
    ("Pooling1", (16, 14, 14)),
    ("Convolution3", (32, 14, 14)),
    ("Convolution4", (32, 16, 16)),
    ("Pooling2", (32, 8, 8)),
    ("Convolution5", (64, 8, 8)),
    ("Convolution6", (64, 8, 8)),
    ("Pooling3", (64, 4, 4)),
    ("Affine7", (50,)),
    ("Affine8", (10,)),
    ("Y", (10,)),
]


def _forward_shapes(net: Sequential, x: np.ndarray) -> list[tuple[int, ...]]:
    """The shape after each layer, computed: each layer's own forward pass on NumPy arrays."""
    arrays = {**net.params, **net.state}
    shapes = []
    for layer in net.layers:
        x, _ = layer.forward(arrays, x)
        shapes.append(tuple(x.shape))
    return shapes


def _error(fn) -> str:
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


def test_the_simple_convnet_gives_the_books_shapes(backend: Case) -> None:
    net = xpnn.SimpleConvNet(seed=0)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    x = backend.asarray(np.zeros((100, 1, 28, 28), dtype=np.float32))
    trace = xpnn.shape_trace(placed, x)
    assert trace == SIMPLE_CONVNET
    # The table is the one the computation follows: each layer's forward pass gives its row's shape.
    computed = _forward_shapes(net, np.zeros((100, 1, 28, 28)))
    rows = dict(trace)
    assert rows["Convolution1"] == computed[0] and rows["Pooling1"] == computed[2]
    assert rows["Affine2"] == computed[3] and rows["Y"] == computed[-1]
    names, shapes = xpnn.format_shape_trace(trace).splitlines()
    assert names.split() == ["X", "Convolution1", "Pooling1", "Affine2", "Affine3", "->", "Y"]
    assert shapes.startswith("100 x 1 x 28 x 28   100 x 30 x 24 x 24   ")


def test_the_deep_convnet_gives_the_books_shapes_without_computing(backend: Case) -> None:
    net = xpnn.DeepConvNet(seed=0)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    assert xpnn.shape_trace(placed, backend.asarray(np.zeros((1, 28, 28)))) == DEEP_CONVNET
    computed = _forward_shapes(net, np.zeros((1, 1, 28, 28)))
    shown = [i for i, layer in enumerate(net.layers) if isinstance(layer, (Convolution, Pooling, Affine))]
    assert [shape for _, shape in DEEP_CONVNET[1:-1]] == [computed[i][1:] for i in shown]
    # Only shapes are followed: a batch far too large to compute is traced at once.
    huge = SimpleNamespace(shape=(10**9, 1, 28, 28))
    trace = xpnn.shape_trace(placed, huge)
    assert trace[0] == ("X", huge.shape) and trace[-1] == ("Y", (10**9, 10))
    assert trace[4] == ("Convolution3", (10**9, 32, 14, 14))


def test_a_multilayer_net_shows_its_affine_layers_only(backend: Case) -> None:
    """Batch normalization, activations and dropout keep the shape and have no weights: no rows."""
    net = xpnn.MultiLayerNetExtend(784, [100, 50], 10, use_batchnorm=True, use_dropout=True, seed=0)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    x = backend.asarray(np.zeros((7, 784)))
    assert xpnn.shape_trace(placed, x) == [
        ("X", (7, 784)),
        ("Affine1", (7, 100)),
        ("Affine2", (7, 50)),
        ("Affine3", (7, 10)),
        ("Y", (7, 10)),
    ]
    assert xpnn.shape_trace(placed, [0.0] * 784)[-2:] == [("Affine3", (10,)), ("Y", (10,))]


def test_a_placed_network_gives_the_books_table_as_its_dict(backend: Case) -> None:
    net = reference.random_network((784, 50, 100, 10), np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device, activation="relu")
    x = backend.asarray(np.zeros((100, 784), dtype=np.float32))
    assert xpnn.shape_trace(placed, x) == xpnn.shape_trace(net, x)
    assert xpnn.shape_trace(placed, x)[1] == ("W1", (784, 50))
    assert _error(lambda: xpnn.shape_trace(placed, np.zeros((100, 783)))) == (
        "input of shape (100, 783) does not fit W1 of shape (784, 50) in layer 1: the last axis must be 784"
    )


def test_a_broken_chain_names_the_layer_and_what_it_expected() -> None:
    net = xpnn.SimpleConvNet(seed=0)
    assert _error(lambda: xpnn.shape_trace(net, np.zeros((100, 3, 28, 28)))) == (
        "input of shape (100, 3, 28, 28) breaks the chain at layer 1, Convolution1: W1 of shape"
        " (30, 1, 5, 5) and b1 of shape (30,) do not fit an input of shape (3, 28, 28): a convolution"
        " takes (C, H, W) input, W (FN, C, FH, FW), b (FN,)"
    )
    # 32 x 32 images chain through the convolution and the pool, then miss Affine2's 4320 inputs.
    message = _error(lambda: xpnn.shape_trace(net, SimpleNamespace(shape=(100, 1, 32, 32))))
    assert message.startswith("input of shape (100, 1, 32, 32) breaks the chain at layer 4, Affine2: W2 of")
    assert message.endswith("(30, 14, 14) (5880 values): W2 must be (5880, M), b2 (M,)")
    assert "layer 1, Convolution1" in _error(lambda: xpnn.shape_trace(net, np.zeros((100, 784))))
    # Images that an Affine would flatten to the right size are still not the network's input.
    mlp = xpnn.MultiLayerNet(784, [50], 10, seed=0)
    assert _error(lambda: xpnn.shape_trace(mlp, np.zeros((7, 28, 28)))) == (
        "input of shape (7, 28, 28) does not fit this network: it takes one input (784,) or a batch (N, 784)"
    )


def test_a_pool_over_flat_input_is_refused_by_name() -> None:
    with pytest.raises(
        ValueError, match=r"^Pooling\(.*\) takes \(C, H, W\) input; got input of shape \(16,\)$"
    ):
        Sequential(
            [Pooling(2, 2), Affine(1)], {"W1": np.zeros((16, 2)), "b1": np.zeros(2)}, input_shape=(16,)
        )


def test_a_pools_default_batch_counts_its_input_output_and_two_copies() -> None:
    """A pool holds its input, its output, the padded input and its windows: the default batch
    is what fits :data:`xpnn.nn.batching.BATCH_BYTES` in float64."""
    from xpnn.nn.batching import BATCH_BYTES

    shape, pooled = (16, 64, 64), 16 * 32 * 32
    params = {"W1": np.zeros((pooled, 2)), "b1": np.zeros(2)}
    net = Sequential([Pooling(2, 2), Affine(1)], params, input_shape=shape, dtype="float64")
    per_row = 3 * int(np.prod(shape)) + pooled
    assert net.default_batch_rows == BATCH_BYTES // (per_row * 8)
