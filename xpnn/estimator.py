"""The estimators' old home: ``from xpnn.estimator import MLPClassifier`` keeps working.

They live in :mod:`xpnn.estimators` now (a shared base, a classifier and a regressor).
"""

from .estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
