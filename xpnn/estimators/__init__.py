"""xpnn's scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

Both share :class:`~xpnn.estimators._base.BaseMLP` (parameters, placement, the epoch loop,
early stopping); importing this package imports scikit-learn.
"""

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
