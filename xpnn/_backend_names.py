"""The one table of backends.

The library's registry (``xpnn._backends``), its error hints, the test fixture
(``tests/conftest.py``) and the nox sessions (``noxfile.py``) all read this module. It imports
only the standard library, so ``noxfile.py`` can load it without the package's dependencies.
Adding a backend is one row here and one adapter in ``xpnn/_backends.py`` (see CONTRIBUTING.md).
"""

from typing import NamedTuple


class BackendInfo(NamedTuple):
    """What xpnn knows of one backend, apart from how to talk to it."""

    #: The module whose presence means the library is installed (``importlib.util.find_spec``).
    module: str
    #: The module that is the backend's Array API namespace.
    namespace: str
    #: The name in ``xpnn._compat`` (array-api-compat's, where it has one) that tells its arrays.
    array_test: str
    #: The pyproject extra that installs it (None: a dependency of xpnn itself); nox installs it.
    extra: str | None
    #: How to install it in a fresh environment, then in a clone of xpnn.
    install: str
    #: Whether it needs a GPU: skipped without one, its nox session is not a default one.
    gpu: bool = False


TABLE: dict[str, BackendInfo] = {
    "numpy": BackendInfo("numpy", "numpy", "is_numpy_array", None, "`pip install numpy`"),
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
