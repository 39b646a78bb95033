"""The ch. 3 network's ONNX model: xpnn's own forward pass, run on a graph builder.

``ndonnx`` is an Array API namespace whose arrays record an ONNX graph instead of computing.
:func:`mlp_model` runs the very code that :func:`xpnn.forward` runs (``run_layers`` with the
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
from ..network import run_layers
from ._common import (
    BATCH,
    INPUT_NAME,
    OUTPUT_NAMES,
    check_onnx_size,
    compute_dtype,
    host_layers,
    mlp_size,
    require,
)

Array = Any


def mlp_model(
    net: Mapping[str, Array],
    *,
    activation: str,
    output: str,
    input_dtype: str,
    normalize: bool,
    dtype: Any,
    allow_nonfinite: bool,
) -> tuple[Any, dict[str, str], str, str]:
    """``(model, metadata, dtype name, doc)`` of a ch. 3 network (options checked by the caller)."""
    compute = compute_dtype(net, dtype)
    check_onnx_size(mlp_size(net), compute)  # before any copy or trace
    ndx = require("ndonnx", "ONNX export")
    require("onnx", "ONNX export")
    layers = host_layers(net, compute, allow_nonfinite=allow_nonfinite)
    traced = [(ndx.asarray(W), ndx.asarray(b)) for W, b in layers]
    n_in, dtype = int(layers[0][0].shape[0]), traced[0][0].dtype
    x = ndx.argument(shape=(BATCH, n_in), dtype=getattr(ndx, input_dtype))
    # What prepare_input does: cast to the compute dtype, then divide by 255 if asked.
    a = ndx.astype(x, dtype) if x.dtype != dtype else x
    if normalize:
        a = a / 255.0
    # The book's loop, plain: the sigmoid shortcut's rescaled weights would only be folded
    # back, while the plain formula becomes one Sigmoid node per layer (the rules).
    out = OUTPUT_FUNCTIONS["identity" if output == "argmax" else output]
    y = run_layers(traced, a, HIDDEN_ACTIVATIONS[activation], out, ndx)
    if output == "argmax":
        y = ndx.argmax(y, axis=-1)
    model = lean(ndx.build({INPUT_NAME: x}, {OUTPUT_NAMES[output]: y}))
    sizes = ",".join(str(n) for n in (n_in, *(int(W.shape[1]) for W, _ in layers)))
    metadata = {"xpnn.sizes": sizes, "xpnn.activation": activation}
    model.graph.name = "xpnn_mlp_" + sizes.replace(",", "_")
    doc = (
        f"xpnn network {sizes.replace(',', '-')}: {activation} hidden layers, {output} output;"
        f" input {INPUT_NAME!r} ({BATCH}, {n_in}) {input_dtype}"
    )
    return model, metadata, str(layers[0][0].dtype), doc


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
