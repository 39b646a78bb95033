"""The adapters: how xpnn talks to each array library, and the arrays' way home.

What each library needs is its row of the table (``table.py``); each adapter here keeps only
what the Array API cannot express: resolving a device, host -> device, device -> host, and a
probe (a real tiny computation: CuPy imports fine without a driver and fails at the first
allocation). A library is imported only when its backend is asked for. Choosing a backend by
name, and whether it is usable, is ``probe.py``'s job.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError
from ..runnable import Runnable
from .compat import array_test, is_array_api_obj, is_cupy_array, is_dask_array, namespace_of
from .compat import device as array_device
from .table import BACKENDS, TABLE, BackendInfo

__all__ = ["REGISTRY", "Backend", "backend_of", "device_of", "to_numpy"]


def _bad_device(name: str, takes: str, device: Any) -> ValueError:
    return ValueError(f"backend {name!r} takes device={takes}; got {device!r}")


class Backend:
    """How xpnn talks to one array library: its row of the table, and the adapter methods."""

    name: str

    @property
    def info(self) -> BackendInfo:
        """This backend's row of the table: its module, extra, and capabilities (``lazy``, ...)."""
        return TABLE[self.name]

    def arrays_on(self, device: Any) -> tuple[Backend, Any]:
        """The backend and device whose arrays hold this backend's data on ``device``.

        The backend itself, except where the row names ``chunk_backends`` (Dask: its chunks are
        NumPy arrays on ``"cpu"``, CuPy arrays on the current GPU on ``"gpu"``).
        """
        if self.info.chunk_backends is None:
            return self, device
        chunks = REGISTRY[self.info.chunk_backends[device != "cpu"]]
        return chunks, chunks.resolve_device(None)

    def load(self) -> Any:
        """Import the library and return its Array API namespace."""
        return importlib.import_module(TABLE[self.name].namespace)

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend."""
        return bool(array_test(TABLE[self.name].array_test)(x))

    def resolve_device(self, device: Any) -> Any:
        """Turn what a user passes as ``device=`` into this backend's device object."""
        if device not in (None, "cpu"):
            raise _bad_device(self.name, "only the device 'cpu'", device)
        return "cpu"

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        """Upload a NumPy array to ``device``, keeping its dtype."""
        return self.load().asarray(x, device=device)

    def to_host(self, x: Any) -> np.ndarray:
        """Bring an array of this backend back to a NumPy array on the host."""
        return np.asarray(x)

    def probe(self, device: Any) -> None:
        """Run a tiny computation on ``device``; raise if the library or device is unusable."""
        self.to_host(self.load().sum(self.from_host(np.ones(2, dtype=np.float32), device)))

    def asarray(self, x: Any, device: Any) -> Any:
        """``x`` (any array, list or scalar) on ``device``; arrays of another library go through the host."""
        if self.owns(x) and array_device(x) == device:
            return x
        return self.from_host(x if isinstance(x, np.ndarray) else to_numpy(x), device)


class _NumPy(Backend):
    name = "numpy"

    #: NumPy 2 itself (an Array API namespace: its wrappers in array_api_compat.numpy cost more
    #: than the toy network's arithmetic), else array_api_compat.numpy.
    namespace = namespace_of(np.empty(0))

    def load(self) -> Any:
        return self.namespace

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        return x

    def asarray(self, x: Any, device: Any) -> Any:
        return x if isinstance(x, np.ndarray) else to_numpy(x)


class _CuPy(Backend):
    name = "cupy"

    def resolve_device(self, device: Any) -> Any:
        import cupy

        if device is None:
            return cupy.cuda.Device()
        if isinstance(device, int):
            return cupy.cuda.Device(device)
        if isinstance(device, str) and device.startswith(("cuda", "gpu")):
            return cupy.cuda.Device(int(device.partition(":")[2] or 0))
        if isinstance(device, cupy.cuda.Device):
            return device
        raise _bad_device("cupy", "None, an int GPU index, 'cuda:N' or a cupy.cuda.Device", device)

    def probe(self, device: Any) -> None:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() == 0:  # raises at once when there is no driver
            raise RuntimeError("no CUDA GPU is visible")
        super().probe(device)

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        import cupy

        with device:
            return cupy.asarray(x)

    def to_host(self, x: Any) -> np.ndarray:
        return x.get()


class _Torch(Backend):
    name = "torch"

    def resolve_device(self, device: Any) -> Any:
        import torch

        if device is None:
            return torch.get_default_device()  # read on each call: the user may change it
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise _bad_device("torch", "a torch.device or a string such as 'cpu' or 'cuda:0'", device) from e

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        import torch

        # torch warns on read-only buffers (memory-mapped caches): copy those instead of sharing.
        return torch.as_tensor(x, device=device) if x.flags.writeable else torch.tensor(x, device=device)

    def to_host(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()


class _Jax(Backend):
    name = "jax"

    def resolve_device(self, device: Any) -> Any:
        import jax

        if device is None:
            return jax.devices()[0]
        if isinstance(device, str):
            platform, _, index = device.partition(":")
            try:
                return jax.devices({"cuda": "gpu"}.get(platform, platform))[int(index or 0)]
            except (RuntimeError, IndexError) as e:
                raise BackendUnavailableError(f"jax has no device {device!r}: {e}") from e
        if isinstance(device, jax.Device):
            return device
        raise _bad_device("jax", "a jax.Device or a string such as 'cpu' or 'gpu:0'", device)

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        import jax

        if x.dtype == np.float64 and not jax.config.read("jax_enable_x64"):
            x = x.astype(np.float32)  # what JAX would do anyway, without its warning
        return jax.device_put(x, device)


class _Dask(Backend):
    """NumPy chunks (device ``"cpu"``) or CuPy chunks (``"gpu"``); chunk sizes are the caller's choice."""

    name = "dask"

    def resolve_device(self, device: Any) -> Any:
        if device in (None, "cpu", "gpu", "cuda"):
            return "gpu" if device in ("gpu", "cuda") else "cpu"
        raise _bad_device("dask", "None or 'cpu' (NumPy chunks) or 'gpu' (CuPy chunks)", device)

    def probe(self, device: Any) -> None:
        if device == "gpu":
            _CuPy().probe(_CuPy().resolve_device(None))
        super().probe(device)

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        import dask.array as da

        chunks = ("auto", *(-1,) * (x.ndim - 1)) if x.ndim else ()  # whole rows
        return self.asarray(da.from_array(x, chunks=chunks), device)

    def asarray(self, x: Any, device: Any) -> Any:
        if not is_dask_array(x):
            return super().asarray(x, device)
        if x.ndim == 2 and len(x.chunks[1]) > 1:
            x = x.rechunk({1: -1})  # whole rows per chunk: the matmul then needs no reduction across chunks
        if device == device_of(x):
            return x
        import cupy

        to, like = (
            (cupy.asarray, cupy.empty) if device == "gpu" else (cupy.asnumpy, np.empty)
        )  # on the workers
        return x.map_blocks(to, dtype=x.dtype, meta=like((0,) * x.ndim, dtype=x.dtype))

    def to_host(self, x: Any) -> np.ndarray:
        return REGISTRY["cupy" if is_cupy_array(x._meta) else "numpy"].to_host(x.compute())


class _ArrayApiStrict(Backend):
    name = "array_api_strict"

    def resolve_device(self, device: Any) -> Any:
        import array_api_strict as xp

        info = xp.__array_namespace_info__()
        if device is None:
            return info.default_device()
        device = xp.Device(device) if isinstance(device, str) else device
        if device not in info.devices():
            raise ValueError(f"array_api_strict has no device {device!r}")
        return device

    def to_host(self, x: Any) -> np.ndarray:
        import array_api_strict as xp

        return np.asarray(x.to_device(xp.__array_namespace_info__().default_device()))


#: Every backend's adapter, by name, in the order of the table.
REGISTRY: dict[str, Backend] = {
    b.name: b for b in (_NumPy(), _CuPy(), _Torch(), _Jax(), _Dask(), _ArrayApiStrict())
}
assert tuple(REGISTRY) == BACKENDS, "the backend table and the adapters disagree"


def backend_of(x: Any) -> str | None:
    """The name of the backend that owns array ``x``, or None when ``x`` is not an array."""
    if isinstance(x, np.ndarray):
        return "numpy"
    if not is_array_api_obj(x):
        return None
    for name, backend in REGISTRY.items():
        if TABLE[name].module in sys.modules and backend.owns(x):
            return name
    raise TypeError(
        f"xpnn does not know the array type {type(x).__module__}.{type(x).__qualname__}; "
        f"its backends are {', '.join(BACKENDS)}"
    )


def to_numpy(x: Any) -> Any:
    """Bring any array (of any backend, on any device), list or scalar back to host NumPy; Dask computes.

    A network (a :class:`xpnn.Network`, a dict of arrays, or a layer network such as
    :class:`xpnn.SimpleConvNet`) comes back as a dict of host NumPy arrays with the same keys,
    the book's format (a layer network's state, ``running_mean1``..., included).

    >>> to_numpy([1, 2])
    array([1, 2])
    >>> to_numpy({"W1": [[1.0]], "b1": [0.0]})
    {'W1': array([[1.]]), 'b1': array([0.])}
    """
    if isinstance(x, Mapping):
        return {key: to_numpy(value) for key, value in x.items()}
    name = backend_of(x)
    if name is not None:
        return REGISTRY[name].to_host(x)
    if isinstance(x, Runnable):  # a network object, not an array
        arrays = getattr(x, "to_numpy", None)
        if arrays is None:
            raise TypeError(
                f"to_numpy: a compiled network ({type(x).__name__}) holds no arrays to return;"
                " call it on the network it was compiled from"
            )
        return arrays()
    return np.asarray(x)


def device_of(x: Any) -> Any:
    """The device of array ``x``: array-api-compat's, except ``'cpu'`` or ``'gpu'`` (CuPy chunks) for Dask."""
    if is_dask_array(x):
        return "gpu" if is_cupy_array(x._meta) else "cpu"
    return array_device(x)
