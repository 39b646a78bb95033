"""The one table of backends: one row each, with what the rest of xpnn may ask of it.

The adapters (``adapters.py``), the error hints (``status.py``), the test fixture
(``tests/conftest.py``) and the nox sessions (``noxfile.py``, with ``runpy`` from this file's
path) all read this module. It imports only the standard library, so ``noxfile.py`` can load it
without the package's dependencies. Adding a backend is one row here and one adapter in
``adapters.py`` (see CONTRIBUTING.md).

Code outside ``xpnn/backends/`` asks a row for a capability (``TABLE[name].trainable``), never
for a backend by name (``name == "dask"``).

>>> TABLE["dask"].lazy, TABLE["dask"].trainable, TABLE["numpy"].lazy
(True, False, False)
"""

from __future__ import annotations

from typing import NamedTuple


class BackendInfo(NamedTuple):
    """What xpnn knows of one backend, apart from how to talk to it."""

    #: The module whose presence means the library is installed (``importlib.util.find_spec``).
    module: str
    #: The module that is the backend's Array API namespace.
    namespace: str
    #: The name in ``xpnn.backends.compat`` (array-api-compat's, where it has one) that tells its arrays.
    array_test: str
    #: The pyproject extra that installs it (None: a dependency of xpnn itself); nox installs it.
    extra: str | None
    #: How to install it in a fresh environment, then in a clone of xpnn.
    install: str
    #: Whether it needs a GPU: skipped without one, its nox session is not a default one.
    gpu: bool = False
    #: Whether its arrays are lazy task graphs (Dask): results are computed when asked for, and
    #: inference runs the chunks as its batches instead of slicing them itself.
    lazy: bool = False
    #: Whether ``train``, ``train_network`` and ``xpnn train`` run on it (not Dask: train elsewhere,
    #: then predict on it).
    trainable: bool = True
    #: An input of the batching policy (``xpnn.network``): on a CPU device, batches of about a
    #: thousand rows beat one big batch (measured: NumPy, PyTorch); False: one batch.
    cpu_batches: bool = False
    #: For a backend whose chunks are another backend's arrays (Dask): that backend on its
    #: ``"cpu"`` device and on its ``"gpu"`` device; None: its arrays are its own.
    chunk_backends: tuple[str, str] | None = None


TABLE: dict[str, BackendInfo] = {
    "numpy": BackendInfo("numpy", "numpy", "is_numpy_array", None, "`pip install numpy`", cpu_batches=True),
    "cupy": BackendInfo(
        "cupy",
        "array_api_compat.cupy",
        "is_cupy_array",
        "cuda12",
        "`pip install cupy-cuda12x` (or `cupy-cuda13x`, to match your CUDA driver;"
        " in a clone of xpnn, `pip install -e '.[cuda12]'`)",
        gpu=True,
    ),
    "torch": BackendInfo(
        "torch",
        "array_api_compat.torch",
        "is_torch_array",
        "torch",
        "`pip install torch` (without a GPU, the CPU build:"
        " `pip install torch --index-url https://download.pytorch.org/whl/cpu`;"
        " in a clone of xpnn, `pip install -e '.[torch]'`)",
        cpu_batches=True,
    ),
    "jax": BackendInfo(
        "jax",
        "jax.numpy",
        "is_jax_array",
        "jax",
        "`pip install jax` (in a clone of xpnn, `pip install -e '.[jax]'`)",
    ),
    "dask": BackendInfo(
        "dask",
        "array_api_compat.dask.array",
        "is_dask_array",
        "dask",
        "`pip install 'dask[array]' distributed` (in a clone of xpnn, `pip install -e '.[dask]'`)",
        lazy=True,
        trainable=False,
        chunk_backends=("numpy", "cupy"),
    ),
    "array_api_strict": BackendInfo(
        "array_api_strict",
        "array_api_strict",
        "is_array_api_strict_array",
        "strict",
        "`pip install array-api-strict` (in a clone of xpnn, `pip install -e '.[strict]'`)",
    ),
}

BACKENDS = tuple(TABLE)

#: Backends that need a GPU; every other one runs on a CPU machine.
GPU_BACKENDS = tuple(name for name, info in TABLE.items() if info.gpu)
