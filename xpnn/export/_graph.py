"""A layer network's ONNX model, written from its layer sequence: a handful of nodes per layer.

Each layer of :mod:`xpnn.nn.layers` has one row in :data:`NODES`, the ONNX operators with the
same meaning at inference:

- ``Convolution`` is ``Conv`` (its ``stride`` and ``pad``; the bias as its third input);
- ``Pooling`` is ``MaxPool``, after a zero ``Pad`` where the layer pads (the book pads with
  zeros, ``MaxPool``'s own padding would be minus infinity);
- ``Affine`` is ``Gemm``, after a ``Flatten`` of a conv output (the book's implicit reshape);
- ``BatchNormalization`` is ONNX's ``BatchNormalization`` (inference form, the running mean and
  variance plus the layer's epsilon) on the flattened input, as the book normalizes each value,
  reshaped back;
- ``Dropout`` is the book's inference: ``Mul`` by ``1 - ratio``;
- ``Relu`` and ``Sigmoid`` are themselves.

The arrays are initializers named as the network names them (``W1``, ``gamma1``, ...). A new
layer is one more row of :data:`NODES`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._dtypes import dtype_name, floating_dtype
from ..nn.layers import BN_EPS, Affine, BatchNormalization, Convolution, Dropout, Layer, Pooling
from ..nn.sequential import Sequential
from ._common import (
    BATCH,
    INPUT_NAME,
    IR_VERSION,
    OPSET,
    OUTPUT_NAMES,
    Options,
    check_finite_weights,
    check_onnx_size,
    require,
)

Shape = tuple[int, ...]


class Graph:
    """The nodes and initializers of a graph being written, with fresh value names."""

    def __init__(self, onnx: Any, dtype: np.dtype, arrays: dict[str, np.ndarray]) -> None:
        self.onnx, self.dtype, self.arrays = onnx, dtype, arrays
        self.nodes: list[Any] = []
        self.initializers: dict[str, Any] = {}
        self._count = 0

    def array(self, name: str) -> str:
        """The network's array ``name`` as an initializer (once)."""
        if name not in self.initializers:
            self.initializers[name] = self.onnx.numpy_helper.from_array(self.arrays[name], name)
        return name

    def constant(self, hint: str, value: Any, dtype: Any = None) -> str:
        """A new initializer holding ``value`` (in the compute dtype unless ``dtype``)."""
        name = f"{hint}_{len(self.initializers)}"
        data = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        self.initializers[name] = self.onnx.numpy_helper.from_array(data, name)
        return name

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        """Append an ``op`` node; returns the name of its one output."""
        self._count += 1
        out = f"{op.lower()}_{self._count}"
        self.nodes.append(
            self.onnx.helper.make_node(op, inputs, [out], name=f"{op}_{self._count}", **attributes)
        )
        return out


def _flat(g: Graph, x: str, shape: Shape) -> str:
    return g.node("Flatten", [x], axis=1) if len(shape) > 1 else x


def _affine(g: Graph, layer: Any, x: str, shape: Shape) -> str:
    W, b = layer.param_names()
    return g.node("Gemm", [_flat(g, x, shape), g.array(W), g.array(b)])


def _convolution(g: Graph, layer: Any, x: str, shape: Shape) -> str:
    W, b = layer.param_names()
    p, s = int(layer.pad), int(layer.stride)
    return g.node("Conv", [x, g.array(W), g.array(b)], pads=[p, p, p, p], strides=[s, s])


def _pooling(g: Graph, layer: Any, x: str, shape: Shape) -> str:
    p = int(layer.pad)
    if p:  # zeros, as the book's im2col pads
        pads = g.constant("pads", [0, 0, p, p, 0, 0, p, p], np.int64)
        x = g.node("Pad", [x, pads, g.constant("zero", 0.0)])
    s = int(layer.stride)
    return g.node("MaxPool", [x], kernel_shape=[int(layer.pool_h), int(layer.pool_w)], strides=[s, s])


def _batch_norm(g: Graph, layer: Any, x: str, shape: Shape) -> str:
    gamma, beta = layer.param_names()
    mean, var = layer.state_names()
    # The layer's epsilon added in the compute dtype: ONNX's epsilon attribute is a float32,
    # which would move 1e-6 by a few 1e-14, and the book's running variance starts at zero.
    plus_eps = g.constant(f"{var}_plus_eps", g.arrays[var] + BN_EPS)
    inputs = [_flat(g, x, shape), g.array(gamma), g.array(beta), g.array(mean), plus_eps]
    y = g.node("BatchNormalization", inputs, epsilon=0.0)
    if len(shape) == 1:
        return y
    return g.node("Reshape", [y, g.constant("shape", [0, *shape], np.int64)])  # 0: the batch, as it is


def _dropout(g: Graph, layer: Any, x: str, shape: Shape) -> str:
    return g.node("Mul", [x, g.constant("keep", 1.0 - float(layer.ratio))])


#: Layer kind -> the function that appends its nodes: ``(graph, layer, input, input shape) -> output``.
NODES: dict[str, Callable[[Graph, Any, str, Shape], str]] = {
    "Affine": _affine,
    "Convolution": _convolution,
    "Pooling": _pooling,
    "BatchNormalization": _batch_norm,
    "Dropout": _dropout,
    "Relu": lambda g, layer, x, shape: g.node("Relu", [x]),
    "Sigmoid": lambda g, layer, x, shape: g.node("Sigmoid", [x]),
}
assert {Affine.kind, Convolution.kind, Pooling.kind, BatchNormalization.kind, Dropout.kind} <= set(NODES)


def layer_dtype(net: Sequential, dtype: Any = None) -> np.dtype:
    """The compute dtype of a layer network's graph: ``dtype``, else the arrays' own; float32 for
    a network with a convolution (onnxruntime's CPU ``Conv`` kernel is float32 only)."""
    if dtype is not None:
        return np.dtype(floating_dtype(np, dtype))
    if any(isinstance(layer, Convolution) for layer in net.layers):
        return np.dtype(np.float32)
    found = np.dtype(dtype_name(net.dtype))
    return found if found.kind == "f" else np.dtype(np.float64)


def layer_model(net: Sequential, output: str, options: Options) -> tuple[Any, dict[str, str], str, str]:
    """``(model, metadata, dtype name, doc)`` of a :class:`xpnn.Sequential` (options checked by the caller)."""
    input_dtype = options.input_dtype
    compute = layer_dtype(net, options.dtype)
    declared = {**net.params, **net.state}
    check_onnx_size(sum(math.prod(tuple(a.shape)) for a in declared.values()), compute)
    onnx = require("onnx", "ONNX export")
    host = {k: np.ascontiguousarray(v, dtype=compute) for k, v in net.to_numpy().items()}
    if not options.allow_nonfinite:
        check_finite_weights(host.items(), np, "export")
    g = Graph(onnx, compute, host)
    tensor = onnx.helper.np_dtype_to_tensor_dtype
    shape: Shape = tuple(net.n_in)
    x = INPUT_NAME
    if np.dtype(input_dtype) != compute:  # what prepare_input does: cast, then divide by 255 if asked
        x = g.node("Cast", [x], to=tensor(compute))
    if options.normalize:
        x = g.node("Div", [x, g.constant("scale", 255.0)])
    for layer in net.layers:
        x = _layer_nodes(g, layer, x, shape)
        shape = layer.output_shape(shape, host)
    if output == "softmax":
        x = g.node("Softmax", [x], axis=-1)
    elif output == "argmax":
        x = g.node("ArgMax", [x], axis=-1, keepdims=0)
    name = OUTPUT_NAMES[output]
    if g.nodes and g.nodes[-1].output[0] == x:
        g.nodes[-1].output[0] = name
    else:  # an input passed through (a network of no node): impossible for a Sequential, kept safe
        g.nodes.append(onnx.helper.make_node("Identity", [x], [name]))
    out_type = np.dtype(np.int64) if output == "argmax" else compute
    out_shape = [BATCH] if output == "argmax" else [BATCH, int(net.n_out)]
    graph = onnx.helper.make_graph(
        g.nodes,
        "xpnn_" + type(net).__name__,
        [onnx.helper.make_tensor_value_info(INPUT_NAME, tensor(np.dtype(input_dtype)), [BATCH, *net.n_in])],
        [onnx.helper.make_tensor_value_info(name, tensor(out_type), out_shape)],
        list(g.initializers.values()),
    )
    model = onnx.helper.make_model(
        graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
    )
    kinds = "-".join(layer.kind for layer in net.layers)
    metadata = {
        "xpnn.layers": json.dumps(net.spec(), separators=(",", ":")),
        "xpnn.input_shape": ",".join(map(str, net.n_in)),
    }
    doc = (
        f"xpnn {type(net).__name__} ({kinds}): {output} output;"
        f" input {INPUT_NAME!r} ({BATCH}, {', '.join(map(str, net.n_in))}) {input_dtype}"
    )
    return model, metadata, compute.name, doc


def _layer_nodes(g: Graph, layer: Layer, x: str, shape: Shape) -> str:
    write = NODES.get(layer.kind)
    if write is None:
        raise ValueError(
            f"a {layer.kind} layer has no ONNX form in xpnn (exportable: {sorted(NODES)}); add a row to"
            " xpnn.export._graph.NODES"
        )
    return write(g, layer, x, shape)
