"""xpnn: the neural networks of *Deep Learning from Scratch*, on any Array API library.

>>> import xpnn
>>> xpnn.forward(xpnn.init_network(), [1.0, 0.5])
array([0.31682708, 0.69627909])
"""

from ._book_dict import init_network
from .backends import (
    BACKENDS,
    BackendStatus,
    asarray,
    available_backends,
    backend_of,
    backend_status,
    to_numpy,
)
from .errors import BackendUnavailableError, DataError, DataNotFoundError, UnscaledInputWarning
from .functions import affine, cross_entropy_error, identity_function, relu, sigmoid, softmax, step_function
from .inference import accuracy, predict, predict_proba
from .io import (
    fetch_sample_convnet,
    fetch_sample_weights,
    load_mnist,
    load_params,
    load_sample_network,
    load_weights,
    save_weights,
)
from .network import Network, forward, to_backend
from .nn import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, Sequential, SimpleConvNet
from .plotting import img_show, save_digit_grid, save_image
from .shapes import format_shape_trace, shape_trace
from .training import gradient, loss, numerical_gradient, random_network, train

# The submodules users reach as attributes (``xpnn.layers.Affine``, ``xpnn.optimizers.Adam``),
# imported by name so that none depends on another module happening to import it.
from . import functions, inference, layers, nn, optimizers, training  # noqa: F401  isort: skip

#: The package version: the one place it is written (pyproject.toml reads it from here).
__version__ = "0.1.0"

#: Public names whose modules are imported on first use (they import heavy libraries lazily anyway).
_LAZY = {
    "export_onnx": "export",
    "compile": "export",
    "MLPClassifier": "estimators",
    "MLPRegressor": "estimators",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "BackendStatus",
    "BackendUnavailableError",
    "DataError",
    "DataNotFoundError",
    "DeepConvNet",
    "MLPClassifier",
    "MLPRegressor",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "Network",
    "Sequential",
    "SimpleConvNet",
    "UnscaledInputWarning",
    "accuracy",
    "affine",
    "asarray",
    "available_backends",
    "cross_entropy_error",
    "backend_of",
    "backend_status",
    "compile",
    "export_onnx",
    "fetch_sample_convnet",
    "fetch_sample_weights",
    "format_shape_trace",
    "gradient",
    "forward",
    "identity_function",
    "img_show",
    "init_network",
    "load_mnist",
    "load_params",
    "load_sample_network",
    "load_weights",
    "loss",
    "numerical_gradient",
    "predict",
    "predict_proba",
    "random_network",
    "relu",
    "save_digit_grid",
    "save_image",
    "save_weights",
    "shape_trace",
    "sigmoid",
    "softmax",
    "step_function",
    "to_backend",
    "to_numpy",
    "train",
]
