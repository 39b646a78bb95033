"""Backends: which array library (and device) a computation runs on, and whether it can.

One room, four modules, one job each:

- ``table.py``: the one table, a row per backend (its module, extra, install hint, and the
  capabilities the rest of xpnn asks about: ``lazy``, ``trainable``, ``cpu_batches``,
  ``chunk_backends``). Standard library only: ``noxfile.py`` reads it by path.
- ``compat.py``: the one import point for array-api-compat (``array_namespace``, ``device``,
  ``is_*_array``).
- ``adapters.py``: one small adapter per library (device, host <-> device, probe) and the way
  home (``to_numpy``, ``backend_of``, ``device_of``).
- ``probe.py`` and ``status.py``: choosing a backend by name (``get_backend``, probed once per
  device), why one is unusable as data (``Reason``), and ``backend_status`` for ``xpnn backends``.

The rest of xpnn imports these names from ``xpnn.backends`` itself.
"""

from .adapters import REGISTRY, Backend, backend_of, device_of, to_numpy
from .probe import Reason, Unusable, asarray, check_backend, get_backend
from .status import BackendStatus, available_backends, backend_status, missing_extra
from .table import BACKENDS, GPU_BACKENDS, TABLE, BackendInfo

__all__ = [
    "BACKENDS",
    "GPU_BACKENDS",
    "REGISTRY",
    "TABLE",
    "Backend",
    "BackendInfo",
    "BackendStatus",
    "Reason",
    "Unusable",
    "asarray",
    "available_backends",
    "backend_of",
    "backend_status",
    "check_backend",
    "device_of",
    "get_backend",
    "missing_extra",
    "to_numpy",
]
