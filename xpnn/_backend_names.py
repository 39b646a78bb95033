"""The one list of backends.

The library's registry (``xpnn._backends``), the test fixture (``tests/conftest.py``) and the
nox sessions (``noxfile.py``) all read this module. It imports nothing, so ``noxfile.py`` can
load it without the package's dependencies.
"""

BACKENDS = ("numpy", "cupy", "torch", "jax", "dask", "array_api_strict")

#: Backends that need a GPU; every other one runs on a CPU machine.
GPU_BACKENDS = ("cupy",)
