"""ONNX export: :func:`onnx_model` and :func:`export_onnx`, for a ch. 3 network (traced,
:mod:`._trace`) and for a layer network (written from its layers, :mod:`._graph`)."""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..functions import network_activation
from ..io import write_atomic
from ..nn.sequential import Sequential, is_layer_network
from ._common import Options, check_activation, check_output, require

__all__ = ["export_onnx", "onnx_model"]

Array = Any


def onnx_model(
    net: Mapping[str, Array] | Sequential,
    *,
    activation: str | None = None,
    output: str = "softmax",
    input_dtype: str = "float32",
    normalize: bool = False,
    dtype: Any = None,
    allow_nonfinite: bool = False,
) -> Any:
    """The network as an ``onnx.ModelProto``: what :func:`export_onnx` writes to a file.

    Options as :func:`export_onnx` describes them.

    >>> from xpnn import init_network
    >>> model = onnx_model(init_network(), output="identity")
    >>> [i.name for i in model.graph.input], [o.name for o in model.graph.output]
    (['input'], ['logits'])
    """
    options = Options(input_dtype, normalize, dtype, allow_nonfinite)
    if is_layer_network(net):  # written from its layers
        check_activation(None, activation)
        output = check_output(output, input_dtype)
        from ._graph import layer_model

        model, metadata, dtype_name, doc = layer_model(net, output, options)
    else:  # the book's dict or xpnn.Network: traced from xpnn's forward over its layers
        activation = network_activation(net, activation)
        output = check_output(output, input_dtype)
        from ._trace import mlp_model

        model, metadata, dtype_name, doc = mlp_model(net, activation, output, options)  # type: ignore[arg-type]
    onnx = require("onnx", "ONNX export")
    from .. import __version__

    del model.metadata_props[:]
    metadata |= {
        "xpnn.output": output,
        "xpnn.input_dtype": input_dtype,
        "xpnn.normalize": str(bool(normalize)).lower(),
        "xpnn.dtype": dtype_name,
    }
    onnx.helper.set_model_props(model, metadata)
    model.producer_name = "xpnn"
    model.producer_version = __version__
    model.doc_string = doc + (", divided by 255 in the graph" if normalize else "")
    onnx.checker.check_model(model, full_check=True)
    return model


def export_onnx(
    net: Mapping[str, Array] | Sequential,
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

    The options are keywords, the same as :func:`onnx_model`'s (written out here so that
    ``help()``, the API reference and editors show them).

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

    A layer network (:class:`xpnn.Sequential`: ``SimpleConvNet``, ``DeepConvNet``,
    ``MultiLayerNet``, ``MultiLayerNetExtend``) is written from its layers, a few ONNX nodes
    each (``Conv``, ``MaxPool``, ``BatchNormalization``, ``Mul`` for dropout, ``Gemm``; see
    :mod:`xpnn.export._graph`); its input is ``(batch, *net.n_in)``, ``(batch, 1, 28, 28)``
    for the book's CNNs, and its compute dtype ``dtype``, else the arrays' own, except float32
    for a network with a convolution (onnxruntime's CPU ``Conv`` runs only float32). Its
    activations are its layers: an ``activation`` is a ``ValueError``. The layers are in the
    metadata (``xpnn.layers``, a JSON list of :meth:`xpnn.Sequential.spec`).

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
        net, activation=activation, output=output, input_dtype=input_dtype, normalize=normalize,
        dtype=dtype, allow_nonfinite=allow_nonfinite,
    )  # fmt: skip
    data = model.SerializeToString()
    write_atomic(path, lambda f: f.write(data))
    return model
