"""xpnn: the neural networks of *Deep Learning from Scratch*, chapter 3, on any Array API library.

>>> import xpnn
>>> xpnn.forward(xpnn.init_network(), [1.0, 0.5])
array([0.31682708, 0.69627909])
"""

from ._backends import (
    BACKENDS,
    BackendStatus,
    BackendUnavailableError,
    asarray,
    available_backends,
    backend_of,
    backend_status,
    to_numpy,
)
from .functions import affine, identity_function, relu, sigmoid, softmax, step_function
from .network import Network, format_shape_trace, forward, init_network, shape_trace, to_backend

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "BackendStatus",
    "BackendUnavailableError",
    "Network",
    "affine",
    "asarray",
    "available_backends",
    "backend_of",
    "backend_status",
    "format_shape_trace",
    "forward",
    "identity_function",
    "init_network",
    "relu",
    "shape_trace",
    "sigmoid",
    "softmax",
    "step_function",
    "to_backend",
    "to_numpy",
]
