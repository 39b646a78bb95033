"""Training, the book's chapters 4-8 on any backend: ``random_network``, ``loss``, ``gradient``,
``numerical_gradient`` and ``train``, for the ch. 3 dict and every layer network alike.

The math is the network's :meth:`xpnn.Sequential.loss_and_gradient` (forward and backward,
pure) and :mod:`xpnn.optimizers` (pure updates). This package checks the arguments
(``_checks``), makes the one conversion of a book dict to the layers it means (``_api.placed``),
runs the one loop, a generator of epochs (:func:`epochs`, ``_loop``) and keeps the history
(``_train``). ``xpnn.nn.train_network`` and the estimators drive the same loop.
"""

from ._api import gradient, loss, numerical_gradient
from ._init import WEIGHT_INITS, random_network
from ._loop import Epoch, epochs
from ._train import SGD_LR, default_lr, train

__all__ = [
    "SGD_LR",
    "WEIGHT_INITS",
    "Epoch",
    "default_lr",
    "epochs",
    "gradient",
    "loss",
    "numerical_gradient",
    "random_network",
    "train",
]
