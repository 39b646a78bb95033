"""ONNX export and compiled inference: xpnn's own forward pass, run on a graph builder.

``ndonnx`` is an Array API namespace whose arrays record an ONNX graph instead of computing.
:func:`export_onnx` runs the very code that :func:`xpnn.forward` runs (``run_layers`` with the
functions of ``xpnn.functions``) on ``ndonnx`` arrays: the weights become graph constants, the
input a graph input with a dynamic batch dimension. Nothing here writes an ONNX node by hand.

The traced graph is then made lean by the ONNX ecosystem's tools: onnxscript's optimizer folds
constants, and a few onnxscript rewrite rules replace what the Array API spelling of a formula
traces to by the single ONNX operator with the same meaning (``tanh(x/2)/2 + 1/2`` is
``Sigmoid``, ``maximum(x, 0)`` is ``Relu``), and drop the guards ndonnx puts around ``matmul``
and ``max`` (against an onnxruntime bug with zero-size inputs that onnxruntime 1.32 no longer
has; and a NaN guard that cannot change a softmax): each rule says why it keeps the meaning,
and the tests run empty batches and NaN rows through the result.
"""

from __future__ import annotations

import errno
import importlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._backends import BackendUnavailableError, to_numpy
from ._book_dict import layer_arrays
from ._data import write_atomic
from ._dtypes import dtype_name, floating_dtype
from ._status import missing_extra
from .functions import HIDDEN_ACTIVATIONS, OUTPUT_FUNCTIONS, network_activation, resolve_activation
from .network import run_layers, to_backend

__all__ = ["JaxNetwork", "OnnxRuntimeNetwork", "compile", "export_onnx", "onnx_model"]

Array = Any

#: The opset the exported models declare; onnxruntime >= 1.18 runs it.
OPSET = 21
#: The ONNX IR version of the exported models (the one that goes with opset 21).
IR_VERSION = 10

OUTPUTS = ("softmax", "identity", "argmax")
INPUT_DTYPES = ("float32", "float64", "float16", "uint8")
#: The graph's output name for each ``output=``.
OUTPUT_NAMES = {"softmax": "probabilities", "identity": "logits", "argmax": "label"}
INPUT_NAME = "input"
BATCH = "batch"


def require(module: str, what: str, extra: str = "onnx") -> Any:
    """Import ``module`` for ``what``, or raise ``BackendUnavailableError`` naming the ``extra`` to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailableError(
            f"{missing_extra(what, extra)}; {module.split('.')[0]} cannot be imported here ({e})"
        ) from e


def _check_options(activation: str, output: str, input_dtype: str) -> None:
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(HIDDEN_ACTIVATIONS)}")
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose one of {list(OUTPUTS)}")
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"unknown input_dtype {input_dtype!r}; choose one of {list(INPUT_DTYPES)}")


#: The largest model protobuf can serialize (2 GiB - 1 bytes): ONNX files hold their weights
#: inside the one protobuf message, so a network whose weights exceed it cannot be exported.
ONNX_MAX_BYTES = 2**31 - 1
#: Room kept below that limit for the graph itself (nodes, names, metadata: a few kilobytes).
GRAPH_BYTES = 1 << 20


def _compute_dtype(net: Mapping[str, Array], dtype: Any = None) -> np.dtype:
    """The host compute dtype, from the declared dtypes alone (nothing is copied): ``dtype`` if
    given (a real floating dtype, else ``ValueError``), else the weights' own (integers: float64)."""
    if dtype is not None:
        return np.dtype(floating_dtype(np, dtype))
    names = {dtype_name(a.dtype) for pair in layer_arrays(net) for a in pair}
    try:
        found = np.result_type(*(np.dtype(n) for n in names))
    except TypeError:  # a dtype NumPy has no name for (bfloat16 without ml_dtypes): float32
        found = np.dtype(np.float32)
    return np.dtype(floating_dtype(np, found)) if found.kind == "f" else np.dtype(np.float64)


def _check_onnx_size(net: Mapping[str, Array], dtype: np.dtype) -> None:
    """Refuse, from the declared shapes alone, a network too big for one ONNX file."""
    count = sum(math.prod(tuple(a.shape)) for pair in layer_arrays(net) for a in pair)
    size = count * dtype.itemsize
    if size + GRAPH_BYTES <= ONNX_MAX_BYTES:
        return
    smaller = [
        name for name in ("float16",) if count * np.dtype(name).itemsize + GRAPH_BYTES <= ONNX_MAX_BYTES
    ]
    hint = (
        f"export it with dtype={smaller[0]!r} (half the size), or " if smaller and dtype.itemsize > 2 else ""
    )
    raise ValueError(
        f"this network's {count:,} weights take {size:,} bytes in {dtype.name}, more than the"
        f" {ONNX_MAX_BYTES:,} bytes (2 GiB) an ONNX model can hold (protobuf's limit on one message): {hint}save it with"
        " xpnn.save_weights instead"
    )


def _host_layers(
    net: Mapping[str, Array], dtype: Any = None, *, allow_nonfinite: bool = True, what: str = "export"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The layers as host NumPy arrays in one floating dtype (``dtype``, else the weights' own).

    ``allow_nonfinite=False`` refuses a NaN or infinite weight (``ValueError`` naming it).
    """
    compute = _compute_dtype(net, dtype)
    layers = [(to_numpy(W).astype(compute), to_numpy(b).astype(compute)) for W, b in layer_arrays(net)]
    if not allow_nonfinite:
        _check_finite_weights(layers, np, what)
    return layers


def _check_finite_weights(layers: Any, xp: Any, what: str = "export") -> None:
    """Refuse a NaN or infinite weight, naming it: the check of ``export_onnx`` and ``compile``.

    One reduction per array where the weights live; only a bad array comes home to be named.
    ``what`` is the verb of the message (``"export"``, ``"compile"``).
    """
    for i, pair in enumerate(layers, start=1):
        for key, array in zip((f"W{i}", f"b{i}"), pair):
            if bool(xp.all(xp.isfinite(array))):
                continue
            finite = np.isfinite(to_numpy(array))
            where = tuple(int(j) for j in np.argwhere(~finite)[0])
            made = "exported model" if what == "export" else "compiled network"
            raise ValueError(
                f"weight {key} holds {int(np.count_nonzero(~finite)):,} non-finite value(s) (NaN or"
                f" infinity; the first at index {where}): every output of the {made}"
                f" would be NaN or meaningless. Fix the weights, or pass allow_nonfinite=True to"
                f" {what} them anyway"
            )


def onnx_model(
    net: Mapping[str, Array],
    *,
    activation: str | None = None,
    output: str = "softmax",
    input_dtype: str = "float32",
    normalize: bool = False,
    dtype: Any = None,
    allow_nonfinite: bool = False,
) -> Any:
    """The network as an ``onnx.ModelProto``: what :func:`export_onnx` writes to a file.

    Options as :func:`export_onnx`.

    >>> from xpnn import init_network
    >>> model = onnx_model(init_network(), output="identity")
    >>> [i.name for i in model.graph.input], [o.name for o in model.graph.output]
    (['input'], ['logits'])
    """
    activation = network_activation(net, activation)
    if isinstance(output, str):
        output = output.lower()  # as resolve_activation reads output names in forward
    _check_options(activation, output, input_dtype)
    compute = _compute_dtype(net, dtype)
    _check_onnx_size(net, compute)  # before any copy or trace
    ndx = require("ndonnx", "ONNX export")
    onnx = require("onnx", "ONNX export")
    layers = _host_layers(net, compute, allow_nonfinite=allow_nonfinite)
    traced = [(ndx.asarray(W), ndx.asarray(b)) for W, b in layers]
    n_in, dtype = int(layers[0][0].shape[0]), traced[0][0].dtype
    x = ndx.argument(shape=(BATCH, n_in), dtype=getattr(ndx, input_dtype))
    # What prepare_input does: cast to the compute dtype, then divide by 255 if asked.
    a = ndx.astype(x, dtype) if x.dtype != dtype else x
    if normalize:
        a = a / 255.0
    # The book's loop, plain: the sigmoid shortcut's rescaled weights would only be folded
    # back, while the plain formula becomes one Sigmoid node per layer (the rules below).
    out = OUTPUT_FUNCTIONS["identity" if output == "argmax" else output]
    y = run_layers(traced, a, HIDDEN_ACTIVATIONS[activation], out, ndx)
    if output == "argmax":
        y = ndx.argmax(y, axis=-1)
    model = ndx.build({INPUT_NAME: x}, {OUTPUT_NAMES[output]: y})
    model = _lean(model)
    sizes = ",".join(str(n) for n in (n_in, *(int(W.shape[1]) for W, _ in layers)))
    from . import __version__

    del model.metadata_props[:]
    onnx.helper.set_model_props(
        model,
        {
            "xpnn.sizes": sizes,
            "xpnn.activation": activation,
            "xpnn.output": output,
            "xpnn.input_dtype": input_dtype,
            "xpnn.normalize": str(bool(normalize)).lower(),
            "xpnn.dtype": str(layers[0][0].dtype),
        },
    )
    model.producer_name = "xpnn"
    model.producer_version = __version__
    model.graph.name = "xpnn_mlp_" + sizes.replace(",", "_")
    model.doc_string = (
        f"xpnn network {sizes.replace(',', '-')}: {activation} hidden layers, {output} output;"
        f" input {INPUT_NAME!r} ({BATCH}, {n_in}) {input_dtype}"
        + (", divided by 255 in the graph" if normalize else "")
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(
    net: Mapping[str, Array],
    path: str | os.PathLike[str],
    *,
    activation: str | None = None,
    output: str = "softmax",
    input_dtype: str = "float32",
    normalize: bool = False,
    dtype: Any = None,
    allow_nonfinite: bool = False,
) -> Any:
    """Write the network to ``path`` as an ONNX model; returns the ``onnx.ModelProto``.

    The model is xpnn's own forward pass run on ``ndonnx`` arrays. Its input ``"input"`` has
    shape ``(batch, n_in)`` with a dynamic batch; its output is ``"probabilities"``
    (``output="softmax"``), ``"logits"`` (``"identity"``) or ``"label"`` (``"argmax"``, int64).
    ``input_dtype="uint8"`` with ``normalize=True`` takes raw MNIST bytes and divides by 255 in
    the graph. The compute dtype is ``dtype`` (a real floating dtype or its name: ``"float16"``
    halves the file), else the weights' own (integer weights: float64). ``activation=None`` (the default) is the
    network's own (a :class:`xpnn.Network` from ``xpnn.train`` or ``to_backend(...,
    activation=)``), else sigmoid; one that contradicts the network's own is a ``ValueError``.
    The layer sizes, activation and output
    are in the model's metadata (``xpnn.sizes`` and friends). Needs ``xpnn[onnx]``.

    Refused with a ``ValueError`` before anything is traced or written: an integer or bool
    ``dtype``; a network whose weights exceed the 2 GiB that one ONNX model can hold (judged
    from the declared shapes and dtype, so nothing is copied first); and a NaN or infinite
    weight, unless ``allow_nonfinite=True`` (as :func:`xpnn.load_weights`).

    The file is written to a temporary name beside ``path`` and renamed into place (as
    :func:`xpnn.save_weights` does): missing parent directories are created, an interrupted or
    failed write leaves no file behind, and a ``path`` that is a directory is an
    ``IsADirectoryError`` naming it.

    >>> import tempfile, pathlib
    >>> from xpnn import init_network
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.onnx"
    >>> model = export_onnx(init_network(), path, output="identity")
    >>> {p.key: p.value for p in model.metadata_props}["xpnn.sizes"]
    '2,3,2,2'
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory: name the .onnx file to write", str(path))
    model = onnx_model(
        net,
        activation=activation,
        output=output,
        input_dtype=input_dtype,
        normalize=normalize,
        dtype=dtype,
        allow_nonfinite=allow_nonfinite,
    )
    data = model.SerializeToString()
    write_atomic(path, lambda f: f.write(data))
    return model


# --- making the traced graph lean: the ONNX ecosystem's optimizer and rewrite rules ------------


def _lean(model: Any) -> Any:
    optimizer = require("onnxscript.optimizer", "ONNX export")
    rewriter = require("onnxscript.rewriter", "ONNX export")
    # Fold every constant subexpression, whatever its size (the weights are constants too).
    limit = 1 << 62
    model = optimizer.optimize(model, input_size_limit=limit, output_size_limit=limit)
    model = rewriter.rewrite(model, pattern_rewrite_rules=_rules())
    return optimizer.optimize(model, input_size_limit=limit, output_size_limit=limit)


def _scalar(value: Any, expected: float) -> bool:
    """Whether ``value`` (an onnx_ir Value) is a constant holding the one number ``expected``."""
    const = getattr(value, "const_value", None)
    if const is None:
        return False
    array = const.numpy()
    value = float(array.reshape(-1)[0]) if array.size == 1 else None
    if value is None:
        return False
    return math.isnan(value) if math.isnan(expected) else math.isclose(value, expected, rel_tol=0.0)


def _tests_for_nan(value: Any, x: Any) -> bool:
    """Whether ``value`` is ndonnx's ``any(isnan(x))``: an If on ``size(isnan(x)) == 0``."""
    chain = [value.producer()]
    for op_type in ("If", "Equal", "Size", "IsNaN"):
        node = chain[-1]
        if node is None or node.op_type != op_type:
            return False
        chain.append(node.inputs[0].producer() if op_type != "IsNaN" else None)
    return chain[-2].inputs[0] is x


def _else_branch(node: Any) -> list[Any] | None:
    """The nodes of ``node``'s else branch (an ``If`` node), or None."""
    branch = node.attributes.get("else_branch")
    return None if branch is None or branch.value is None else list(branch.value)


def _guarded_matmul(node: Any) -> Any:
    """The one MatMul in ``node``'s else branch (an ``If`` node), or None."""
    graph = _else_branch(node)
    if graph is None or len(graph) != 1:
        return None
    (inner,) = graph
    return inner if inner.op_type == "MatMul" and inner.domain in ("", "ai.onnx") else None


_RULES: Any = None


def _rules() -> Any:
    """The rewrite rules, made once (onnxscript imported on first use)."""
    global _RULES
    if _RULES is not None:
        return _RULES
    pattern = require("onnxscript.rewriter.pattern", "ONNX export")
    Rule: Any = pattern.RewriteRuleClassBase

    class SigmoidFromTanh(Rule):
        """``tanh(x * 0.5) * 0.5 + 0.5`` (xpnn's overflow-free sigmoid) is ``Sigmoid(x)``."""

        def pattern(self, op: Any, x: Any, h1: Any, h2: Any, h3: Any) -> Any:
            return op.Add(op.Mul(op.Tanh(op.Mul(x, h1)), h2), h3)

        def check(self, context: Any, x: Any, h1: Any, h2: Any, h3: Any, **_: Any) -> Any:
            ok = all(_scalar(h, 0.5) for h in (h1, h2, h3))
            return pattern.MatchResult() if ok else pattern.MatchResult().fail("not the halves of a sigmoid")

        def rewrite(self, op: Any, x: Any, **_: Any) -> Any:
            return op.Sigmoid(x)

    class ReluFromMaximum(Rule):
        """``maximum(x, zeros_like(x))`` (xpnn's relu) is ``Relu(x)``."""

        def pattern(self, op: Any, x: Any, zero: Any) -> Any:
            return op.Max(x, op.Expand(zero, op.Shape(x)))

        def check(self, context: Any, x: Any, zero: Any, **_: Any) -> Any:
            return pattern.MatchResult() if _scalar(zero, 0.0) else pattern.MatchResult().fail("not zero")

        def rewrite(self, op: Any, x: Any, **_: Any) -> Any:
            return op.Relu(x)

    class UnguardedMatmul(Rule):
        """ndonnx's ``If(size(x) * size(W) == 0)`` around each ``MatMul(x, W)`` is the MatMul.

        ndonnx guards every matmul against an onnxruntime bug with zero-size inputs; the
        onnxruntime versions that ``xpnn[onnx]`` installs multiply an empty batch correctly
        (``tests/test_export.py`` runs a batch of 0 rows), and the guard hides the MatMul from
        onnxruntime's fusion with the bias Add that follows.
        """

        def pattern(self, op: Any, x: Any, n: Any, zero: Any) -> Any:
            return op.If(op.Equal(op.Mul(op.Size(x), n), zero), _outputs=["guarded"])

        def check(self, context: Any, x: Any, zero: Any, guarded: Any, **_: Any) -> Any:
            result = pattern.MatchResult()
            if not _scalar(zero, 0.0):
                return result.fail("not a test for zero size")
            matmul = _guarded_matmul(guarded.producer())
            if matmul is None or matmul.inputs[0] is not x:
                return result.fail("the else branch is not one MatMul of x")
            return result

        def rewrite(self, op: Any, x: Any, guarded: Any, **_: Any) -> Any:
            matmul = _guarded_matmul(guarded.producer())
            return op.MatMul(x, matmul.inputs[1])

    class SoftmaxWithoutNanGuard(Rule):
        """``exp(x - where(any(isnan(x)), nan, max(x)))`` normalized is ``exp(x - max(x))`` normalized.

        ndonnx makes ``max`` return NaN for a row that holds a NaN; in a softmax that row is
        NaN either way (the NaN's ``exp`` reaches the row's sum), so the guard changes nothing.
        """

        def pattern(self, op: Any, x: Any, any_nan: Any, nan: Any, m: Any, axes: Any) -> Any:
            e = op.Exp(op.Sub(x, op.Where(any_nan, nan, m)))
            return op.Div(e, op.ReduceSum(e, axes, _outputs=["total"]))

        def check(self, context: Any, x: Any, any_nan: Any, nan: Any, total: Any, **_: Any) -> Any:
            result = pattern.MatchResult()
            keepdims = total.producer().attributes.get("keepdims")
            if not _scalar(nan, math.nan) or not _tests_for_nan(any_nan, x):
                return result.fail("not ndonnx's NaN guard")
            if keepdims is None or keepdims.value != 1:
                return result.fail("not a softmax's sum")
            return result

        def rewrite(self, op: Any, x: Any, m: Any, axes: Any, **_: Any) -> Any:
            e = op.Exp(op.Sub(x, m))
            return op.Div(e, op.ReduceSum(e, axes, keepdims=1))

    class UnguardedReduction(Rule):
        """ndonnx's ``If(size(x) == 0)`` around ``max(x)`` is its else branch, run inline.

        The then branch fills an empty result with ``-inf``; onnxruntime reduces an empty batch
        to an empty result by itself (``tests/test_export.py`` runs a batch of 0 rows).
        """

        def pattern(self, op: Any, x: Any, zero: Any) -> Any:
            return op.If(op.Equal(op.Size(x), zero), _outputs=["guarded"])

        def check(self, context: Any, x: Any, zero: Any, guarded: Any, **_: Any) -> Any:
            result = pattern.MatchResult()
            branch = _else_branch(guarded.producer()) or []
            if not _scalar(zero, 0.0) or [n.op_type for n in branch] != ["Unsqueeze", "ReduceMax", "Squeeze"]:
                return result.fail("not a guarded max")
            unsqueeze, reduce, squeeze = branch
            if unsqueeze.inputs[0] is not x or reduce.inputs[0] is not unsqueeze.outputs[0]:
                return result.fail("the branch does not reduce x")
            if squeeze.inputs[0] is not reduce.outputs[0]:
                return result.fail("the branch does not reduce x")
            return result

        def rewrite(self, op: Any, x: Any, guarded: Any, **_: Any) -> Any:
            unsqueeze, reduce, squeeze = _else_branch(guarded.producer()) or []
            attrs = {name: attr.value for name, attr in reduce.attributes.items()}
            u = op.Unsqueeze(x, unsqueeze.inputs[1])
            return op.Squeeze(op.ReduceMax(u, reduce.inputs[1], **attrs), squeeze.inputs[1])

    _RULES = pattern.RewriteRuleSet(
        [
            SigmoidFromTanh.rule(),
            ReluFromMaximum.rule(),
            UnguardedMatmul.rule(),
            SoftmaxWithoutNanGuard.rule(),
            UnguardedReduction.rule(),
        ]
    )
    return _RULES


# --- compiled networks: the Runnable interface over an onnxruntime session or jax.jit ----------


def compile(net: Mapping[str, Array], target: str, **options: Any) -> Any:
    """A compiled network that :func:`xpnn.predict`, ``predict_proba`` and ``accuracy`` accept.

    - ``target="onnxruntime"``: the model of :func:`export_onnx` (its logits) in an onnxruntime
      session; options ``activation``, ``provider="cpu"`` (or ``"cuda"``: the CUDA
      execution provider, a ``BackendUnavailableError`` where it is not available; ``device=``
      ``"cpu"`` or ``"cuda"`` says the same) and
      ``threads`` (onnxruntime's intra-op threads; default: its own choice) and ``dtype``
      (the compute dtype, as for :func:`export_onnx`). Inputs and
      results are host NumPy arrays. Needs ``xpnn[onnx]``.
    - ``target="jax"``: ``jax.jit`` of xpnn's forward, the weights placed once on ``device``;
      options ``activation``, ``device``, ``dtype`` and ``exact_shapes=2``. The first
      ``exact_shapes`` batch sizes compile as they are; any other size is padded up to a bucket
      (a power of two times 1, 1.25, 1.5 or 1.75) and compiles once per bucket, so a run of odd
      batch sizes compiles a bounded number of times. Needs ``xpnn[jax]``.

    ``activation=None`` (the default) is the network's own (a :class:`xpnn.Network` from
    ``xpnn.train`` or ``to_backend(..., activation=)``), else sigmoid; one that contradicts the
    network's own is a ``ValueError``. ``dtype`` must be a real floating dtype (or its name) for
    both targets: an integer dtype would truncate every weight, so it is a ``ValueError``
    (:func:`xpnn._dtypes.floating_dtype`, the rule of ``to_backend`` and ``export_onnx``).
    A NaN or infinite weight is a ``ValueError``, as for :func:`export_onnx`, unless
    ``allow_nonfinite=True`` (both targets).
    The hidden activation is fixed when compiling: a call
    that asks for another is a ``ValueError``. ``output`` may be ``"identity"`` or ``"softmax"`` (or a function), as for a
    :class:`xpnn.Network`.

    A compiled network computes eagerly: a Dask array given to ``forward``, ``predict`` or
    ``predict_proba`` is computed at once and the result is a NumPy (onnxruntime) or JAX (jax)
    array, not a lazy Dask array; for lazy inference on Dask use a :class:`xpnn.Network`.

    >>> import numpy as np
    >>> from xpnn import init_network, predict
    >>> fast = compile(init_network(), "onnxruntime")
    >>> predict(fast, np.array([[1.0, 0.5], [-1.0, 2.0]]))
    array([1, 1])
    """
    if target == "onnxruntime":
        return OnnxRuntimeNetwork(net, **options)
    if target == "jax":
        return JaxNetwork(net, **options)
    raise ValueError(f"unknown compile target {target!r}; choose 'onnxruntime' or 'jax'")


def _check_activation(own: str, activation: Any) -> None:
    if activation is not None and (activation.lower() if isinstance(activation, str) else activation) != own:
        raise ValueError(
            f"this network was compiled with activation={own!r}; got activation={activation!r}:"
            f" compile it again with activation={activation!r}"
        )


def _host_input(x: Any, n_in: int, dtype: Any, normalize: bool) -> np.ndarray:
    """``x`` as a host NumPy array of ``dtype``, width checked, divided by 255 if asked."""
    x = to_numpy(x)
    if not x.shape or x.shape[-1] != n_in:
        raise ValueError(
            f"input of shape {tuple(x.shape)} does not fit this network: the last axis must be {n_in}"
        )
    x = np.ascontiguousarray(x, dtype=dtype)  # onnxruntime reads C-ordered buffers
    return x / 255.0 if normalize else x


class OnnxRuntimeNetwork:
    """A network compiled for onnxruntime: made by ``xpnn.compile(net, "onnxruntime")``.

    A :class:`xpnn.runnable.Runnable` on the host (``backend="numpy"``): the session computes the
    logits, and ``output="softmax"`` applies xpnn's softmax to them.
    """

    backend = "numpy"
    device = "cpu"

    def __init__(
        self,
        net: Mapping[str, Array],
        *,
        activation: str | None = None,
        provider: str | None = None,
        threads: int | None = None,
        device: Any = None,
        dtype: Any = None,
        allow_nonfinite: bool = False,
    ):
        compute = _compute_dtype(net, dtype)  # a non-floating dtype is refused before anything else
        ort = require("onnxruntime", "compile(net, 'onnxruntime')")
        providers = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider"]}
        if device is not None:
            aliases = {"cpu": "cpu", "cuda": "cuda", "cuda:0": "cuda", "gpu": "cuda"}
            named = aliases.get(str(device).lower())
            if named is None:
                raise ValueError(
                    f"onnxruntime runs on device 'cpu' or 'cuda' (its CUDA execution provider, GPU 0);"
                    f" got device={device!r}"
                )
            if provider is not None and provider != named:
                raise ValueError(f"device={device!r} contradicts provider={provider!r}: give one of them")
            provider = named
        provider = provider or "cpu"
        if provider not in providers:
            raise ValueError(f"unknown provider {provider!r}; choose 'cpu' or 'cuda'")
        if provider == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            raise BackendUnavailableError(
                "onnxruntime's CUDA execution provider is not available here (this onnxruntime has"
                f" {ort.get_available_providers()}): install onnxruntime-gpu on a machine with an"
                " NVIDIA GPU, or use provider='cpu'"
            )
        activation = network_activation(net, activation)
        _check_onnx_size(net, compute)
        layers = _host_layers(net, compute, allow_nonfinite=allow_nonfinite, what="compile")
        self.dtype = layers[0][0].dtype
        self.model = onnx_model(
            net,
            activation=activation,
            output="identity",
            input_dtype=self.dtype.name,
            dtype=self.dtype,
            allow_nonfinite=True,
        )
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(
            self.model.SerializeToString(), options, providers=providers[provider]
        )
        if self.session.get_providers()[0] != providers[provider][0]:
            raise BackendUnavailableError(
                f"onnxruntime could not start its {providers[provider][0]} (it fell back to"
                f" {self.session.get_providers()}): check the CUDA and cuDNN libraries"
            )
        from ._compat import array_namespace

        self.xp = array_namespace(layers[0][0])
        self.provider = provider
        self.activation = activation
        self.n_in = int(layers[0][0].shape[0])
        self.n_out = int(layers[-1][0].shape[1])
        self.sizes = (self.n_in, *(int(W.shape[1]) for W, _ in layers))
        #: One batch: onnxruntime splits the work over its own threads.
        self.default_batch_rows: int | None = None

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.sizes))
        return f"OnnxRuntimeNetwork({sizes}, dtype={self.dtype}, activation={self.activation!r}, provider={self.provider!r})"

    def prepare_input(self, x: Any, *, normalize: bool = False) -> np.ndarray:
        """``x`` as a host array of the compute dtype, width checked; ``normalize`` divides by 255."""
        return _host_input(x, self.n_in, self.dtype, normalize)

    def run(self, x: np.ndarray, *, activation: Any = None, output: Any = "identity") -> np.ndarray:
        """The network's output for a batch (or one input) from :meth:`prepare_input`."""
        _check_activation(self.activation, activation)
        out = resolve_activation(output, OUTPUT_FUNCTIONS, "output")
        single = len(x.shape) == 1
        (y,) = self.session.run(None, {INPUT_NAME: x[None, :] if single else x})
        y = out(y, self.xp)
        return y[0, ...] if single else y


def _bucket(rows: int) -> int:
    """The smallest of 1..8 and ``2**k * (1, 1.25, 1.5, 1.75)`` that holds ``rows``."""
    if rows <= 8:
        return max(rows, 1)
    power = 1 << (rows - 1).bit_length() - 1  # the largest power of two below rows
    for quarter in (5, 6, 7, 8):
        size = power * quarter // 4
        if size >= rows:
            return size
    return power * 2  # unreachable: 8 quarters is the next power of two


class JaxNetwork:
    """A network compiled with ``jax.jit``: made by ``xpnn.compile(net, "jax")``.

    ``compiles`` counts the times the forward has been traced and compiled.
    """

    backend = "jax"

    def __init__(
        self,
        net: Mapping[str, Array],
        *,
        activation: str | None = None,
        device: Any = None,
        dtype: Any = None,
        exact_shapes: int = 2,
        allow_nonfinite: bool = False,
    ):
        activation = network_activation(net, activation)
        jax = require("jax", "compile(net, 'jax')", "jax")
        placed = to_backend(net, "jax", device, dtype=dtype, activation=activation)
        if not allow_nonfinite:
            _check_finite_weights(placed.layers, placed.xp, "compile")
        self._placed = placed
        self.device = placed.device
        self.xp = placed.xp
        self.dtype = placed.dtype
        self.n_in = placed.n_in
        self.n_out = int(placed.layers[-1][0].shape[1])
        self.activation = activation
        self.default_batch_rows: int | None = None
        self.exact_shapes = int(exact_shapes)
        self.compiles = 0
        self._shapes: set[tuple[int, ...]] = set()
        hidden = HIDDEN_ACTIVATIONS[activation]
        xp = self.xp

        def forward(layers: Any, x: Array) -> Array:
            self.compiles += 1  # runs when jax traces: once per compiled shape
            return run_layers(layers, x, hidden, OUTPUT_FUNCTIONS["identity"], xp)

        self._forward = jax.jit(forward)

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self._placed.sizes))
        return (
            f"JaxNetwork({sizes}, dtype={self.dtype}, activation={self.activation!r}, device={self.device!r})"
        )

    def prepare_input(self, x: Any, *, normalize: bool = False) -> Array:
        """``x`` on the device, in the compute dtype, width checked; ``normalize`` divides by 255."""
        return self._placed.prepare_input(x, normalize=normalize)

    def run(self, x: Array, *, activation: Any = None, output: Any = "identity") -> Array:
        """The network's output for a batch (or one input) from :meth:`prepare_input`."""
        _check_activation(self.activation, activation)
        out = resolve_activation(output, OUTPUT_FUNCTIONS, "output")
        xp = self.xp
        single = len(x.shape) == 1
        if single:
            x = xp.reshape(x, (1, self.n_in))
        rows = int(x.shape[0])
        size = rows
        if (rows,) not in self._shapes:
            if len(self._shapes) >= self.exact_shapes:
                size = _bucket(rows)
            self._shapes.add((size,))
        if size != rows:
            x = xp.concat([x, xp.zeros((size - rows, self.n_in), dtype=x.dtype, device=self.device)], axis=0)
        y = self._forward(self._placed.layers, x)
        y = out(y if size == rows else y[:rows, ...], xp)
        return y[0, ...] if single else y
