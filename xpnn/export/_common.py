"""What every export and compile path shares: the graph's names, the option checks, the
refusals made before anything is traced or copied (dtype, size, non-finite weights)."""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .._book_dict import layer_arrays
from .._dtypes import dtype_name, floating_dtype
from ..backends import missing_extra, to_numpy
from ..errors import BackendUnavailableError

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

#: The largest model protobuf can serialize (2 GiB - 1 bytes): ONNX files hold their weights
#: inside the one protobuf message, so a network whose weights exceed it cannot be exported.
ONNX_MAX_BYTES = 2**31 - 1
#: Room kept below that limit for the graph itself (nodes, names, metadata: a few kilobytes).
GRAPH_BYTES = 1 << 20


class Options(NamedTuple):
    """The options every ONNX model is built with (checked by :func:`xpnn.export.onnx_model`)."""

    input_dtype: str
    normalize: bool
    dtype: Any
    allow_nonfinite: bool


def require(module: str, what: str, extra: str = "onnx") -> Any:
    """Import ``module`` for ``what``, or raise ``BackendUnavailableError`` naming the ``extra`` to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailableError(
            f"{missing_extra(what, extra)}; {module.split('.')[0]} cannot be imported here ({e})"
        ) from e


def check_output(output: Any, input_dtype: str) -> str:
    """``output`` in lower case, after checking it and ``input_dtype``."""
    if isinstance(output, str):
        output = output.lower()  # as resolve_activation reads output names in forward
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose one of {list(OUTPUTS)}")
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"unknown input_dtype {input_dtype!r}; choose one of {list(INPUT_DTYPES)}")
    return str(output)


def compute_dtype(net: Mapping[str, Array], dtype: Any = None) -> np.dtype:
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


def check_onnx_size(count: int, dtype: np.dtype) -> None:
    """Refuse, from the declared shapes alone, ``count`` weights too many for one ONNX file."""
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


def mlp_size(net: Mapping[str, Array]) -> int:
    """The number of weights of a ch. 3 network, from the declared shapes."""
    return sum(math.prod(tuple(a.shape)) for pair in layer_arrays(net) for a in pair)


def host_network(
    net: Mapping[str, Array], dtype: Any = None, *, allow_nonfinite: bool = True, what: str = "export"
) -> Any:
    """The ch. 3 network (a dict or a :class:`xpnn.Network`) as a :class:`xpnn.Network` of host
    NumPy arrays in one floating dtype (``dtype``, else the weights' own), its activation kept.

    ``allow_nonfinite=False`` refuses a NaN or infinite weight (``ValueError`` naming it).
    """
    from ..network import to_backend

    host = to_backend(net, "numpy", dtype=compute_dtype(net, dtype))
    if not allow_nonfinite:
        check_finite_weights(host.params.items(), np, what)
    return host


def check_finite_weights(named: Iterable[tuple[str, Array]], xp: Any, what: str = "export") -> None:
    """Refuse a NaN or infinite weight, naming it: the check of ``export_onnx`` and ``compile``.

    One reduction per array where the weights live; only a bad array comes home to be named.
    ``what`` is the verb of the message (``"export"``, ``"compile"``).
    """
    for key, array in named:
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


def check_activation(own: str | None, activation: Any) -> None:
    """Refuse a call's ``activation`` that is not the one the network was compiled with."""
    if own is None:  # a layer network: its activations are its layers
        if activation is not None:
            raise ValueError(
                f"activation={activation!r} does not apply to a layer network: its activations are its layers"
            )
        return
    if activation is not None and (activation.lower() if isinstance(activation, str) else activation) != own:
        raise ValueError(
            f"this network was compiled with activation={own!r}; got activation={activation!r}:"
            f" compile it again with activation={activation!r}"
        )
