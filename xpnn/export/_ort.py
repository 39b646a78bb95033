"""``compile(net, "onnxruntime")``: the model of :func:`xpnn.export_onnx` in an onnxruntime session,
as a :class:`xpnn.network.Runnable` on the host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..backends import to_numpy
from ..backends.compat import array_namespace
from ..errors import BackendUnavailableError
from ..functions import OUTPUT_FUNCTIONS, network_activation, resolve_activation
from ..nn.layers import Convolution
from ..nn.sequential import Sequential, is_layer_network
from ._common import (
    INPUT_NAME,
    check_activation,
    check_finite_weights,
    check_onnx_size,
    compute_dtype,
    host_network,
    mlp_size,
    require,
)
from ._graph import layer_dtype
from .onnx import onnx_model

__all__ = ["OnnxRuntimeNetwork"]

Array = Any


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

    A :class:`xpnn.network.Runnable` on the host (``backend="numpy"``): the session computes the
    logits, and ``output="softmax"`` applies xpnn's softmax to them.
    """

    backend = "numpy"
    device = "cpu"

    def __init__(
        self,
        net: Mapping[str, Array] | Sequential,
        *,
        activation: str | None = None,
        provider: str | None = None,
        threads: int | None = None,
        device: Any = None,
        dtype: Any = None,
        allow_nonfinite: bool = False,
    ):
        # a non-floating dtype is refused before anything else
        compute = layer_dtype(net, dtype) if is_layer_network(net) else compute_dtype(net, dtype)  # type: ignore[arg-type]
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
        if is_layer_network(net):
            self._setup_layers(net, compute, activation, provider, allow_nonfinite)
        else:
            self._setup_mlp(net, compute, activation, allow_nonfinite)  # type: ignore[arg-type]
        self.model = onnx_model(
            net,
            activation=self.activation,
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
        self.xp = array_namespace(np.empty(0))
        self.provider = provider

    def _setup_mlp(
        self, net: Mapping[str, Array], compute: np.dtype, activation: Any, allow_nonfinite: bool
    ) -> None:
        self.activation: str | None = network_activation(net, activation)
        check_onnx_size(mlp_size(net), compute)
        host = host_network(net, compute, allow_nonfinite=allow_nonfinite, what="compile")
        self.dtype = host.dtype
        self.n_in: int | tuple[int, ...] = host.n_in
        self.n_out = host.n_out
        self._host: Sequential | None = None
        self.sizes = host.sizes
        #: One batch: onnxruntime splits the work over its own threads.
        self.default_batch_rows: int | None = None

    def _setup_layers(
        self, net: Sequential, compute: np.dtype, activation: Any, provider: str, allow_nonfinite: bool
    ) -> None:
        check_activation(None, activation)
        has_conv = any(isinstance(layer, Convolution) for layer in net.layers)
        if has_conv and provider == "cpu" and compute != np.float32:
            raise ValueError(
                f"onnxruntime's CPU provider runs a convolution only in float32; got dtype={compute.name!r}:"
                " leave dtype out (float32 for a network with a convolution) or pass dtype='float32'"
            )
        if not allow_nonfinite:
            check_finite_weights(net.to_numpy().items(), np, "compile")
        self.activation = None
        self.dtype = compute
        self._host = net.to_backend("numpy", dtype=compute.name)  # checks inputs as the network does
        self.n_in, self.n_out = tuple(net.n_in), int(net.n_out)
        self.kinds = "-".join(layer.kind for layer in net.layers)
        #: Batches as the network's own: a convolution's intermediate values grow with the batch.
        self.default_batch_rows = self._host.default_batch_rows

    def __repr__(self) -> str:
        if self._host is not None:
            what = f"{self.kinds}, input_shape={self.n_in}"
            return f"OnnxRuntimeNetwork({what}, dtype={self.dtype}, provider={self.provider!r})"
        sizes = "-".join(map(str, self.sizes))
        return f"OnnxRuntimeNetwork({sizes}, dtype={self.dtype}, activation={self.activation!r}, provider={self.provider!r})"

    def prepare_input(self, x: Any, *, normalize: bool = False) -> np.ndarray:
        """``x`` as a host array of the compute dtype, width checked; ``normalize`` divides by 255."""
        if self._host is not None:
            return np.ascontiguousarray(self._host.prepare_input(x, normalize=normalize))
        assert isinstance(self.n_in, int)
        return _host_input(x, self.n_in, self.dtype, normalize)

    def run(self, x: np.ndarray, *, activation: Any = None, output: Any = "identity") -> np.ndarray:
        """The network's output for a batch (or one input) from :meth:`prepare_input`."""
        check_activation(self.activation, activation)
        out = resolve_activation(output, OUTPUT_FUNCTIONS, "output")
        single = len(x.shape) == (len(self.n_in) if isinstance(self.n_in, tuple) else 1)
        (y,) = self.session.run(None, {INPUT_NAME: x[None, :] if single else x})
        y = out(y, self.xp)
        return y[0, ...] if single else y
