"""ONNX export and compiled inference.

- :mod:`.onnx`: :func:`export_onnx` and :func:`onnx_model`, the graph of a ch. 3 network traced
  from xpnn's own forward (:mod:`._trace`, made lean by the rewrite rules of :mod:`._rules`) or
  of a layer network written from its layers (:mod:`._graph`);
- :mod:`._ort`: ``compile(net, "onnxruntime")``, that graph in an onnxruntime session;
- :mod:`._jax`: ``compile(net, "jax")``, ``jax.jit`` of xpnn's forward (nothing to do with ONNX);
- :mod:`._common`: the names, checks and refusals they share.

Importing this package imports none of onnx, ndonnx, onnxruntime, onnxscript or jax.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._common import IR_VERSION, OPSET, require
from .onnx import export_onnx, onnx_model

__all__ = ["IR_VERSION", "OPSET", "compile", "export_onnx", "onnx_model", "require"]

Array = Any


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
    network's own is a ``ValueError``. A layer network (:class:`xpnn.Sequential`, the book's
    CNNs) compiles for onnxruntime from the graph of :func:`export_onnx`, in float32 where it
    has a convolution (onnxruntime's CPU ``Conv`` is float32 only), and for jax as ``jax.jit``
    of its layers' forward (convolution and pooling through ``jax.lax``), both in the network's
    own default batches; its activations are its layers. ``dtype`` must be a real floating dtype (or its name) for
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
        from ._ort import OnnxRuntimeNetwork

        return OnnxRuntimeNetwork(net, **options)
    if target == "jax":
        from ._jax import JaxNetwork

        return JaxNetwork(net, **options)
    raise ValueError(f"unknown compile target {target!r}; choose 'onnxruntime' or 'jax'")
