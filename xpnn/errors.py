"""Every exception and warning xpnn raises of its own, in one place.

Each is a subclass of the built-in a caller would catch anyway (``ValueError``,
``FileNotFoundError``, ``RuntimeError``, ``UserWarning``), so ``except ValueError`` keeps
working; catch these to tell xpnn's reasons apart.

>>> import xpnn
>>> issubclass(xpnn.DataError, ValueError), issubclass(xpnn.DataNotFoundError, FileNotFoundError)
(True, True)
"""

from __future__ import annotations

__all__ = ["BackendUnavailableError", "DataError", "DataNotFoundError", "UnscaledInputWarning"]


class DataError(ValueError):
    """A data or weights file exists but is not what it should be (corrupt, truncated, HTML, ...)."""


class DataNotFoundError(FileNotFoundError):
    """A data file is missing and could not (or may not) be downloaded."""


class BackendUnavailableError(RuntimeError):
    """The array library or device a backend needs cannot be used on this machine."""


class UnscaledInputWarning(UserWarning):
    """Raw pixels (integers, or values above 1) met a network that takes them in ``[0, 1]``.

    ``predict``, ``predict_proba`` and ``accuracy`` stay silent with ``normalize=False`` given
    explicitly; ``train`` (which has no ``normalize``) with
    ``warnings.simplefilter("ignore", xpnn.UnscaledInputWarning)``.

    >>> import warnings, numpy as np, xpnn
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = xpnn.predict(xpnn.init_network(), np.array([[200, 100]], dtype=np.uint8))
    >>> caught[0].category.__name__
    'UnscaledInputWarning'
    """
