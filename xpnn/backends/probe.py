"""Choosing a backend by name: is it usable on this device (probed once), and if not, why.

Why a backend is unusable is data, an :class:`Unusable` (a :class:`Reason` code, the message,
and the library to install where one is missing); code that acts on the reason (the fix in
the error, the install hint of ``xpnn backends``) reads the code, never the message.
"""

from __future__ import annotations

import enum
import importlib.util
import sys
from typing import Any, NamedTuple

from ..errors import BackendUnavailableError
from .adapters import REGISTRY, Backend
from .table import BACKENDS, TABLE

__all__ = ["Reason", "Unusable", "asarray", "check_backend", "get_backend"]


class Reason(str, enum.Enum):
    """Why a backend cannot be used here: the code of an :class:`Unusable`.

    >>> Reason.NOT_INSTALLED.value, Reason.NOT_INSTALLED.needs_install
    ('not_installed', True)
    """

    #: Its library (or one its device needs, as CuPy for Dask's GPU chunks) is not installed.
    NOT_INSTALLED = "not_installed"
    #: Its library is installed but importing it fails (a missing shared library, ...).
    IMPORT_FAILED = "import_failed"
    #: Imported, but the device cannot be found (a CUDA runtime error while looking it up).
    NO_DEVICE = "no_device"
    #: A CPU-only build of the library was asked for a GPU (PyTorch "not compiled with CUDA").
    CPU_ONLY_BUILD = "cpu_only_build"
    #: The device is there, but the test computation on it failed (no driver, a broken device).
    PROBE_FAILED = "probe_failed"

    @property
    def needs_install(self) -> bool:
        """Whether installing a package is the fix (the library is missing or cannot be imported)."""
        return self in (Reason.NOT_INSTALLED, Reason.IMPORT_FAILED)


class Unusable(NamedTuple):
    """Why a backend is not usable on a device: the code, the message, and the library at fault."""

    code: Reason
    message: str
    #: The module to install or repair: the backend's own, or one its device needs (``cupy``).
    module: str


def _fix(name: str, why: Unusable) -> str:
    if why.code.needs_install:
        # The library at fault: the backend's own, or one its device needs (CuPy for Dask's GPU chunks).
        install = next((i.install for i in TABLE.values() if i.module == why.module), TABLE[name].install)
        return f"Install it with {install}"
    if why.code is Reason.CPU_ONLY_BUILD:
        return "This PyTorch is a CPU-only build: install a CUDA build (https://pytorch.org/get-started/locally/)"
    return "Check the device and its driver (for NVIDIA GPUs: nvidia-smi)"  # installed; the device fails


def _unavailable(name: str, why: Unusable) -> BackendUnavailableError:
    message = (
        f"backend {name!r} is not usable here: {why.message}. {_fix(name, why)}, or choose another backend"
    )
    return BackendUnavailableError(f"{message} (`xpnn backends` lists them).")


def _probe(backend: Backend, device: Any) -> Unusable | None:
    module = backend.info.module
    try:
        backend.probe(device)
    except ImportError as e:  # a library the device needs, e.g. CuPy for Dask's GPU chunks
        needed = (e.name or str(e)).split(".")[0]
        return Unusable(
            Reason.NOT_INSTALLED, f"{needed} is not installed (device {device!r} needs it)", needed
        )
    except Exception as e:  # each library raises its own: CUDARuntimeError, RuntimeError, ...
        # PyTorch's words for a CPU-only build asked for a GPU: read once, here, into the code.
        code = Reason.CPU_ONLY_BUILD if "not compiled with CUDA" in str(e) else Reason.PROBE_FAILED
        return Unusable(code, f"a test computation failed ({type(e).__name__}: {e})", module)
    return None


_PROBED: dict[tuple[str, str], Unusable | None] = {}


def check_backend(name: str, device: Any) -> tuple[Any, Unusable | None]:
    """``(device, None)`` when backend ``name`` is usable on ``device`` (probed once), else ``(None, why)``.

    >>> check_backend("numpy", None)
    ('cpu', None)
    """
    backend = REGISTRY[name]
    module = backend.info.module
    if module not in sys.modules and importlib.util.find_spec(module) is None:
        return None, Unusable(Reason.NOT_INSTALLED, f"{module} is not installed", module)
    try:
        resolved = backend.resolve_device(device)
    except (ValueError, BackendUnavailableError):
        raise
    except ImportError as e:
        return None, Unusable(Reason.IMPORT_FAILED, f"{module} cannot be imported ({e})", module)
    except Exception as e:  # e.g. a CUDA runtime error while looking up the default device
        return None, Unusable(
            Reason.NO_DEVICE, f"its device cannot be found ({type(e).__name__}: {e})", module
        )
    if (key := (name, repr(resolved))) not in _PROBED:
        _PROBED[key] = _probe(backend, resolved)
    return (resolved if _PROBED[key] is None else None), _PROBED[key]


def get_backend(name: str, device: Any = None) -> tuple[Backend, Any]:
    """The usable backend called ``name`` (``"auto"``: CuPy if usable, else NumPy) and its resolved device.

    ``ValueError`` for an unknown name or device; ``BackendUnavailableError``, with the reason,
    when the library or device cannot be used.
    """
    if name == "numpy" and device is None:
        return REGISTRY["numpy"], "cpu"  # the common case, kept short
    if name == "auto":
        name = "cupy" if check_backend("cupy", device)[1] is None else "numpy"
        device = device if name == "cupy" else None
    if name not in REGISTRY:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)} (or 'auto')")
    resolved, why = check_backend(name, device)
    if why is not None:
        raise _unavailable(name, why)
    return REGISTRY[name], resolved


def asarray(x: Any, *, backend: str = "numpy", device: Any = None) -> Any:
    """``x`` (any array, list or scalar) as an array of ``backend`` on ``device``: an explicit move.

    Lists become NumPy arrays first (float64 wherever the backend has it); other libraries' arrays
    go through the host.

    >>> asarray([1.0, 2.0], backend="numpy")
    array([1., 2.])
    """
    impl, dev = get_backend(backend, device)
    return impl.asarray(x, dev)
