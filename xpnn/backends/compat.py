"""The one import point for the Array API namespace machinery.

Everything else in xpnn imports ``array_namespace``, ``device``, ``is_*_array`` and friends
from here, so that the dependency on array-api-compat is in one place.
"""

from typing import Any

import numpy as np
from array_api_compat import (
    array_namespace,
    device,
    is_array_api_obj,
    is_cupy_array,
    is_dask_array,
    is_jax_array,
    is_numpy_array,
    is_torch_array,
)

__all__ = [
    "array_namespace",
    "array_test",
    "device",
    "is_array_api_obj",
    "is_array_api_strict_array",
    "is_cupy_array",
    "is_dask_array",
    "is_jax_array",
    "is_numpy_array",
    "is_torch_array",
    "namespace_of",
]

_NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


def is_array_api_strict_array(x: Any) -> bool:
    """Whether ``x`` is an array-api-strict array (array-api-compat has a namespace test only)."""
    return type(x).__module__.startswith("array_api_strict")


def namespace_of(x: Any) -> Any:
    """``array_namespace(x)``, except NumPy 2 itself for a NumPy array.

    NumPy 2 is an Array API namespace on its own; array-api-compat's wrapper around it costs
    more per call than a small network's arithmetic, which matters in training's inner loop.
    """
    if _NUMPY2 and type(x) is np.ndarray:
        return np
    return array_namespace(x)


def array_test(name: str) -> Any:
    """The array test the backend table names (``"is_torch_array"``, ...): a function of one object.

    >>> array_test("is_numpy_array")(np.zeros(1))
    True
    """
    return globals()[name]
