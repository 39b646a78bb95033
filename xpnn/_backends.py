"""Backends: which array library (and device) a computation runs on.

One tiny class per backend, in the spirit of einops' ``_backends.py``. A backend's library is
imported only when that backend is asked for, so ``import xpnn`` never imports a GPU stack, and
each backend is probed with a real tiny computation before use: CuPy imports fine on a machine
without a driver and fails only at the first allocation.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ._backend_names import BACKENDS
from ._compat import (
    device as array_device,
)
from ._compat import (
    is_array_api_obj,
    is_cupy_array,
    is_dask_array,
    is_jax_array,
    is_numpy_array,
    is_torch_array,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendStatus",
    "BackendUnavailableError",
    "asarray",
    "available_backends",
    "backend_of",
    "backend_status",
    "get_backend",
    "to_numpy",
]


#: Rows per batch on CPU backends when the caller gives none (see ``Backend.default_batch_rows``).
CPU_BATCH_ROWS = 1024


class BackendUnavailableError(RuntimeError):
    """The array library or device a backend needs cannot be used on this machine."""


class Backend:
    """How xpnn talks to one array library. Subclasses fill in the library-specific parts."""

    name: str
    module: str
    install: str  # how to install the library in a fresh environment, then from a clone of xpnn

    def load(self) -> Any:
        """Import the library and return its Array API namespace."""
        raise NotImplementedError

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend."""
        raise NotImplementedError

    def resolve_device(self, device: Any) -> Any:
        """Turn what a user passes as ``device=`` into this backend's device object."""
        if device not in (None, "cpu"):
            raise ValueError(f"backend {self.name!r} has only the device 'cpu'; got {device!r}")
        return "cpu"

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        """Upload a NumPy array to ``device``, keeping its dtype."""
        raise NotImplementedError

    def to_host(self, x: Any) -> np.ndarray:
        """Bring an array of this backend back to a NumPy array on the host."""
        return np.asarray(x)

    def probe(self, device: Any) -> None:
        """Run a tiny computation on ``device``; raise if the library or device is unusable."""
        xp = self.load()
        y = self.from_host(np.ones(2, dtype=np.float32), device)
        self.to_host(xp.sum(y))

    def asarray(self, x: Any, device: Any) -> Any:
        """``x`` (any array, list or scalar) as an array of this backend on ``device``.

        Arrays of another library go through the host: that copy is the explicit move the
        caller asked for by naming this backend.
        """
        if self.owns(x) and self.same_device(x, device):
            return x
        if not isinstance(x, np.ndarray):
            x = to_numpy(x)
        return self.from_host(x, device)

    def same_device(self, x: Any, device: Any) -> bool:
        return True

    def describe_device(self, device: Any) -> str:
        return str(device)

    def synchronize(self, device: Any) -> None:
        """Wait for queued work on ``device`` (a no-op on synchronous backends)."""

    def wait(self, x: Any, device: Any) -> Any:
        """Wait until array ``x`` is computed (for timing); returns ``x``."""
        self.synchronize(device)
        return x

    def default_batch_rows(self, device: Any) -> int | None:
        """Rows per batch when the caller gives no batch size (None: everything in one batch)."""
        return None

    #: Whether arrays are lazy task graphs that batch themselves (Dask): then ``rows`` of
    #: ``chunked`` replaces xpnn's own loop over batches.
    lazy = False

    def chunked(self, x: Any, device: Any, rows: int | None) -> Any:
        """``x`` on this backend, split into batches of ``rows`` (lazy backends only)."""
        raise NotImplementedError


class _NumPy(Backend):
    name, module, install = "numpy", "numpy", "`pip install numpy`"

    def default_batch_rows(self, device: Any) -> int | None:
        # Measured (benchmarks/bench.py batch-sweep, mnist-infer): on CPUs, batches of about a
        # thousand rows beat one big batch, since each layer's activations then stay in cache.
        return CPU_BATCH_ROWS

    def load(self) -> Any:
        # NumPy 2 is itself an Array API namespace; using it directly skips the wrappers of
        # array_api_compat.numpy, which cost more than the toy network's arithmetic.
        if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
            return np
        import array_api_compat.numpy as xp

        return xp

    def owns(self, x: Any) -> bool:
        return isinstance(x, np.ndarray) or is_numpy_array(x)

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        return x


class _CuPy(Backend):
    name, module = "cupy", "cupy"
    install = (
        "`pip install cupy-cuda12x` (or `cupy-cuda13x`, to match your CUDA driver;"
        " in a clone of xpnn, `pip install -e '.[cuda12]'`)"
    )

    def load(self) -> Any:
        import array_api_compat.cupy as xp

        return xp

    def owns(self, x: Any) -> bool:
        return is_cupy_array(x)

    def resolve_device(self, device: Any) -> Any:
        import cupy

        if device is None:
            return cupy.cuda.Device()
        if isinstance(device, int):
            return cupy.cuda.Device(device)
        if isinstance(device, str) and device.startswith(("cuda", "gpu")):
            _, _, index = device.partition(":")
            return cupy.cuda.Device(int(index or 0))
        if isinstance(device, cupy.cuda.Device):
            return device
        raise ValueError(
            f"backend 'cupy' takes device=None, an int GPU index, 'cuda:N' or a cupy.cuda.Device;"
            f" got {device!r}"
        )

    def probe(self, device: Any) -> None:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()  # raises at once when there is no driver
        if count == 0:
            raise RuntimeError("no CUDA GPU is visible")
        super().probe(device)

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        import cupy

        with device:
            return cupy.asarray(x)

    def to_host(self, x: Any) -> np.ndarray:
        return x.get()

    def same_device(self, x: Any, device: Any) -> bool:
        return bool(x.device.id == device.id)

    def describe_device(self, device: Any) -> str:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(device.id)
        return f"cuda:{device.id} ({props['name'].decode()})"

    def synchronize(self, device: Any) -> None:
        device.synchronize()


class _Torch(Backend):
    name, module = "torch", "torch"
    install = (
        "`pip install torch` (without a GPU, the CPU build:"
        " `pip install torch --index-url https://download.pytorch.org/whl/cpu`;"
        " in a clone of xpnn, `pip install -e '.[torch]'`)"
    )

    def load(self) -> Any:
        import array_api_compat.torch as xp

        return xp

    def owns(self, x: Any) -> bool:
        return is_torch_array(x)

    def resolve_device(self, device: Any) -> Any:
        import torch

        if device is None:
            return torch.get_default_device()
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise ValueError(
                f"backend 'torch' takes a torch.device or a string such as 'cpu' or 'cuda:0'; got {device!r}"
            ) from e

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        import torch

        if not x.flags.writeable:
            # torch warns on read-only buffers (memory-mapped caches); copy instead of sharing.
            return torch.tensor(x, device=device)
        return torch.as_tensor(x, device=device)

    def to_host(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def same_device(self, x: Any, device: Any) -> bool:
        return bool(x.device == device)

    def default_batch_rows(self, device: Any) -> int | None:
        return CPU_BATCH_ROWS if device.type == "cpu" else None  # as NumPy on the CPU; whole on a GPU

    def describe_device(self, device: Any) -> str:
        import torch

        if device.type == "cuda":
            return f"{device} ({torch.cuda.get_device_name(device)})"
        return str(device)

    def synchronize(self, device: Any) -> None:
        import torch

        if device.type == "cuda":
            torch.cuda.synchronize(device)


class _Jax(Backend):
    name, module = "jax", "jax"
    install = "`pip install jax` (in a clone of xpnn, `pip install -e '.[jax]'`)"

    def load(self) -> Any:
        import jax.numpy as xp

        return xp

    def owns(self, x: Any) -> bool:
        return is_jax_array(x)

    def resolve_device(self, device: Any) -> Any:
        import jax

        if device is None:
            return jax.devices()[0]
        if isinstance(device, str):
            platform, _, index = device.partition(":")
            platform = {"cuda": "gpu"}.get(platform, platform)
            try:
                return jax.devices(platform)[int(index or 0)]
            except (RuntimeError, IndexError) as e:
                raise BackendUnavailableError(f"jax has no device {device!r}: {e}") from e
        if isinstance(device, jax.Device):
            return device
        raise ValueError(
            f"backend 'jax' takes a jax.Device or a string such as 'cpu' or 'gpu:0'; got {device!r}"
        )

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        import jax

        if x.dtype == np.float64 and not jax.config.read("jax_enable_x64"):
            x = x.astype(np.float32)  # what JAX would do anyway, without its warning
        return jax.device_put(x, device)

    def same_device(self, x: Any, device: Any) -> bool:
        return bool(x.devices() == {device})

    def wait(self, x: Any, device: Any) -> Any:
        return x.block_until_ready()  # JAX dispatches asynchronously; only the array knows


class _Dask(Backend):
    name, module = "dask", "dask"
    install = "`pip install 'dask[array]' distributed` (in a clone of xpnn, `pip install -e '.[dask]'`)"

    def load(self) -> Any:
        import array_api_compat.dask.array as xp

        return xp

    def owns(self, x: Any) -> bool:
        return is_dask_array(x)

    lazy = True

    def resolve_device(self, device: Any) -> Any:
        """``"cpu"`` (NumPy chunks, the default) or ``"gpu"`` (CuPy chunks, e.g. under dask-cuda)."""
        if device in (None, "cpu"):
            return "cpu"
        if device in ("gpu", "cuda"):
            return "gpu"
        raise ValueError(
            f"backend 'dask' takes device=None or 'cpu' (NumPy chunks) or 'gpu' (CuPy chunks); got {device!r}"
        )

    def probe(self, device: Any) -> None:
        if device == "gpu":
            _CuPy().probe(_CuPy().resolve_device(None))
        super().probe(device)

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        return self.chunked(x, device, None)

    def asarray(self, x: Any, device: Any) -> Any:
        if not is_dask_array(x):
            return super().asarray(x, device)
        if x.ndim == 2 and len(x.chunks[1]) > 1:
            x = x.rechunk({1: -1})  # whole rows per chunk: the matmul then needs no reduction across chunks
        return self._on(x, device)

    def chunked(self, x: Any, device: Any, rows: int | None) -> Any:
        """Rows are the parallel axis: chunk along them only, ``rows`` at a time (else dask's choice)."""
        import dask.array as da

        chunks = (rows or "auto", *(-1,) * (x.ndim - 1)) if x.ndim else ()
        if is_dask_array(x):
            return self.asarray(x.rechunk(chunks) if rows else x, device)
        return self._on(da.from_array(x if isinstance(x, np.ndarray) else to_numpy(x), chunks=chunks), device)

    def _on(self, x: Any, device: Any) -> Any:
        """Chunks of the right kind: CuPy for ``"gpu"``, converted lazily on the workers."""
        is_cupy_chunk = type(x._meta).__module__.startswith("cupy")
        if device == "gpu" and not is_cupy_chunk:
            import cupy

            return x.map_blocks(cupy.asarray, dtype=x.dtype, meta=cupy.empty((0,) * x.ndim, dtype=x.dtype))
        if device == "cpu" and is_cupy_chunk:
            import cupy

            return x.map_blocks(cupy.asnumpy, dtype=x.dtype, meta=np.empty((0,) * x.ndim, dtype=x.dtype))
        return x

    def same_device(self, x: Any, device: Any) -> bool:
        return (device == "gpu") == type(x._meta).__module__.startswith("cupy")

    def to_host(self, x: Any) -> np.ndarray:
        result = x.compute()
        return result.get() if type(result).__module__.startswith("cupy") else np.asarray(result)


class _ArrayApiStrict(Backend):
    name, module = "array_api_strict", "array_api_strict"
    install = "`pip install array-api-strict` (in a clone of xpnn, `pip install -e '.[strict]'`)"

    def load(self) -> Any:
        import array_api_strict as xp

        return xp

    def owns(self, x: Any) -> bool:
        return type(x).__module__.startswith("array_api_strict")

    def resolve_device(self, device: Any) -> Any:
        import array_api_strict as xp

        if device is None:
            return xp.__array_namespace_info__().default_device()
        if isinstance(device, str):
            device = xp.Device(device)
        if device not in xp.__array_namespace_info__().devices():
            raise ValueError(f"array_api_strict has no device {device!r}")
        return device

    def from_host(self, x: np.ndarray, device: Any) -> Any:
        import array_api_strict as xp

        return xp.asarray(x, device=device)

    def to_host(self, x: Any) -> np.ndarray:
        import array_api_strict as xp

        return np.asarray(x.to_device(xp.__array_namespace_info__().default_device()))

    def same_device(self, x: Any, device: Any) -> bool:
        return bool(x.device == device)


_REGISTRY: dict[str, Backend] = {
    b.name: b for b in (_NumPy(), _CuPy(), _Torch(), _Jax(), _Dask(), _ArrayApiStrict())
}
assert tuple(_REGISTRY) == BACKENDS, "xpnn._backend_names.BACKENDS and the registry disagree"


def _known(name: str) -> Backend:
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)} (or 'auto')")
    return _REGISTRY[name]


def _unavailable(backend: Backend, why: str) -> BackendUnavailableError:
    if "not installed" in why or "cannot be imported" in why:
        # The library named first: the backend's own, or one its device needs (CuPy for Dask's GPU chunks).
        module = why.split()[0]
        install = next((b.install for b in _REGISTRY.values() if b.module == module), backend.install)
        fix = f"Install it with {install}"
    elif "not compiled with CUDA" in why:  # a CPU-only PyTorch asked for a GPU
        fix = "This PyTorch is a CPU-only build: install a CUDA build (https://pytorch.org/get-started/locally/)"
    else:  # installed, but the device or its driver fails
        fix = "Check the device and its driver (for NVIDIA GPUs: nvidia-smi)"
    return BackendUnavailableError(
        f"backend {backend.name!r} is not usable here: {why}. {fix}, or choose another backend"
        f" (`xpnn backends` lists them)."
    )


_PROBED: dict[tuple[str, str], str | None] = {}


def _check(name: str, device: Any) -> tuple[Any, str | None]:
    """Resolve ``device`` for backend ``name`` and probe it once per process.

    Returns the resolved device and None when usable, or None and the reason why not.
    """
    backend = _REGISTRY[name]
    if backend.module not in sys.modules and importlib.util.find_spec(backend.module) is None:
        return None, f"{backend.module} is not installed"
    try:
        resolved = backend.resolve_device(device)
    except ImportError as e:
        return None, f"{backend.module} cannot be imported ({e})"
    except Exception as e:  # e.g. a CUDA runtime error while looking up the default device
        if isinstance(e, (ValueError, BackendUnavailableError)):
            raise
        return None, f"its device cannot be found ({type(e).__name__}: {e})"
    key = (name, repr(resolved))
    if key not in _PROBED:
        try:
            backend.probe(resolved)
            _PROBED[key] = None
        except ImportError as e:  # a library the device needs, e.g. CuPy for Dask's GPU chunks
            _PROBED[key] = (
                f"{(e.name or str(e)).split('.')[0]} is not installed (device {resolved!r} needs it)"
            )
        except Exception as e:  # each library raises its own: CUDARuntimeError, RuntimeError, ...
            _PROBED[key] = f"a test computation failed ({type(e).__name__}: {e})"
    why = _PROBED[key]
    return (resolved if why is None else None), why


_DEFAULTS: dict[str, tuple[Backend, Any]] = {}


def get_backend(name: str, device: Any = None) -> tuple[Backend, Any]:
    """The usable backend called ``name`` and its resolved device.

    ``name="auto"`` picks CuPy when it is usable, else NumPy. Raises ``ValueError`` for an
    unknown name or device and ``BackendUnavailableError`` (with the reason) when the library
    or device cannot be used.
    """
    if device is None and name in _DEFAULTS:
        return _DEFAULTS[name]
    if name == "auto":
        name = "cupy" if _check("cupy", device)[1] is None else "numpy"
        device = device if name == "cupy" else None
    backend = _known(name)
    resolved, why = _check(name, device)
    if why is not None:
        raise _unavailable(backend, why)
    if device is None and name != "auto":
        _DEFAULTS[name] = (backend, resolved)
    return backend, resolved


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend is usable here; if not, ``reason`` says why."""

    name: str
    available: bool
    reason: str
    version: str | None


def backend_status() -> dict[str, BackendStatus]:
    """Every known backend with whether it is usable on this machine, and why not.

    >>> backend_status()["numpy"].available
    True
    """
    result = {}
    for name, backend in _REGISTRY.items():
        why = _check(name, None)[1]
        module: ModuleType | None = sys.modules.get(backend.module) if why is None else None
        result[name] = BackendStatus(name, why is None, why or "usable", getattr(module, "__version__", None))
    return result


def available_backends() -> tuple[str, ...]:
    """Names of the backends usable on this machine, in the order of ``BACKENDS``."""
    return tuple(name for name, s in backend_status().items() if s.available)


def backend_of(x: Any) -> str | None:
    """The name of the backend that owns array ``x``, or None when ``x`` is not an array."""
    if isinstance(x, np.ndarray):
        return "numpy"
    if not is_array_api_obj(x):
        return None
    for name, backend in _REGISTRY.items():
        if backend.module.split(".")[0] in sys.modules and backend.owns(x):
            return name
    raise TypeError(
        f"xpnn does not know the array type {type(x).__module__}.{type(x).__qualname__}; "
        f"its backends are {', '.join(BACKENDS)}"
    )


def to_numpy(x: Any) -> np.ndarray:
    """Bring any array (of any backend, on any device), list or scalar back to host NumPy.

    Dask arrays are computed.
    """
    name = backend_of(x)
    if name is None:
        return np.asarray(x)
    return _REGISTRY[name].to_host(x)


def device_of(x: Any) -> Any:
    """The device of array ``x``: ``'cpu'`` for NumPy; ``'cpu'`` or ``'gpu'`` (CuPy chunks) for Dask."""
    name = backend_of(x)
    if name in (None, "numpy"):
        return "cpu"
    if name == "dask":
        return "gpu" if type(x._meta).__module__.startswith("cupy") else "cpu"
    return array_device(x)


def asarray(x: Any, *, backend: str = "numpy", device: Any = None) -> Any:
    """``x`` (any array, list or scalar) as an array of ``backend`` on ``device``: an explicit move.

    Lists become NumPy arrays first (so ``[0.3, 2.9]`` is float64 wherever the backend has it);
    arrays of another library go through the host.

    >>> asarray([1.0, 2.0], backend="numpy")
    array([1., 2.])
    """
    impl, dev = get_backend(backend, device)
    return impl.asarray(x, dev)
