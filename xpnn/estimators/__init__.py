"""xpnn's scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

Both share :class:`~xpnn.estimators._base.BaseMLP` (parameters, placement, the epoch loop,
early stopping); importing this package imports scikit-learn. :func:`register_skl2onnx`
registers both with skl2onnx (it imports skl2onnx and onnx when called, not before).
"""

from ..backends import missing_extra

try:  # here, before any module of the package imports scikit-learn, so that this is what a user reads
    import sklearn  # noqa: F401
except ImportError as e:
    raise ImportError(
        f"{missing_extra('xpnn.estimators (MLPClassifier, MLPRegressor)', 'sklearn')};"
        f" scikit-learn cannot be imported here ({e})"
    ) from e

from ._skl2onnx import register_skl2onnx
from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "register_skl2onnx"]
