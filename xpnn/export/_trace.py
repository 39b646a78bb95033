"""The ch. 3 network's ONNX model: xpnn's own forward pass, run on a graph builder.

``ndonnx`` is an Array API namespace whose arrays record an ONNX graph instead of computing.
:func:`mlp_model` runs the very code that :func:`xpnn.forward` runs (``run_layers`` over the
network's layer sequence, with the
functions of ``xpnn.functions``) on ``ndonnx`` arrays: the weights become graph constants, the
input a graph input with a dynamic batch dimension. Nothing here writes an ONNX node by hand.

The traced graph is then made lean by the ONNX ecosystem's tools: onnxscript's optimizer folds
constants, and the rewrite rules of :mod:`._rules` replace what the Array API spelling of a
formula traces to by the single ONNX operator with the same meaning (``tanh(x/2)/2 + 1/2`` is
``Sigmoid``, ``maximum(x, 0)`` is ``Relu``), and drop the guards ndonnx puts around ``matmul``
and ``max`` (against an onnxruntime bug with zero-size inputs that onnxruntime 1.32 no longer
has; and a NaN guard that cannot change a softmax); the tests run empty batches and NaN rows
through the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..functions import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS
from ..nn.dense import dense_pairs, run_layers
from ._common import (
    BATCH,
    INPUT_NAME,
    OUTPUT_NAMES,
    Options,
    check_onnx_size,
    compute_dtype,
    host_network,
    mlp_size,
    require,
)

Array = Any


def mlp_model(
    net: Mapping[str, Array], activation: str, output: str, options: Options
) -> tuple[Any, dict[str, str], str, str]:
    """``(model, metadata, dtype name, doc)`` of a ch. 3 network (options checked by the caller)."""
    compute = compute_dtype(net, options.dtype)
    check_onnx_size(mlp_size(net), compute)  # before any copy or trace
    ndx = require("ndonnx", "ONNX export")
    require("onnx", "ONNX export")
    host = host_network(net, compute, allow_nonfinite=options.allow_nonfinite)
    traced = {k: ndx.asarray(v) for k, v in host.params.items()}
    dtype = traced["W1"].dtype
    x = ndx.argument(shape=(BATCH, host.n_in), dtype=getattr(ndx, options.input_dtype))
    # What prepare_input does: cast to the compute dtype, then divide by 255 if asked.
    a = ndx.astype(x, dtype) if x.dtype != dtype else x
    if options.normalize:
        a = a / 255.0
    # The book's loop over the network's layer sequence, plain: the sigmoid shortcut's rescaled
    # weights would only be folded back, while the plain formula becomes one Sigmoid node per
    # layer (the rules).
    out = OUTPUT_FUNCTIONS["identity" if output == "argmax" else output]
    y = run_layers(dense_pairs(host.layers, traced), a, HIDDEN_ACTIVATIONS[activation], out, ndx)
    if output == "argmax":
        y = ndx.argmax(y, axis=-1)
    model = lean(ndx.build({INPUT_NAME: x}, {OUTPUT_NAMES[output]: y}))
    sizes = ",".join(map(str, host.sizes))
    metadata = {"xpnn.sizes": sizes, "xpnn.activation": activation}
    model.graph.name = "xpnn_mlp_" + sizes.replace(",", "_")
    doc = (
        f"xpnn network {sizes.replace(',', '-')}: {activation} hidden layers, {output} output;"
        f" input {INPUT_NAME!r} ({BATCH}, {host.n_in}) {options.input_dtype}"
    )
    return model, metadata, str(host.dtype), doc


def lean(model: Any) -> Any:
    """``model`` after onnxscript's constant folding and the rewrite rules of :mod:`._rules`."""
    optimizer = require("onnxscript.optimizer", "ONNX export")
    rewriter = require("onnxscript.rewriter", "ONNX export")
    from ._rules import RULES  # imports onnxscript's pattern module

    # Fold every constant subexpression, whatever its size (the weights are constants too).
    limit = 1 << 62
    model = optimizer.optimize(model, input_size_limit=limit, output_size_limit=limit)
    model = rewriter.rewrite(model, pattern_rewrite_rules=RULES)
    return optimizer.optimize(model, input_size_limit=limit, output_size_limit=limit)
