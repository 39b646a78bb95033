"""The one import point for the Array API namespace machinery.

Everything else in xpnn imports ``array_namespace``, ``device``, ``is_*_array`` and friends
from here, so that the dependency on array-api-compat is in one place.
"""

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
    "device",
    "is_array_api_obj",
    "is_cupy_array",
    "is_dask_array",
    "is_jax_array",
    "is_numpy_array",
    "is_torch_array",
]
