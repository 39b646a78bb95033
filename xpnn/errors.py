"""Every exception and warning xpnn raises of its own, in one place.

Each is a subclass of the built-in a caller would catch anyway (``ValueError``,
``FileNotFoundError``, ``RuntimeError``, ``UserWarning``), so ``except ValueError`` keeps
working; catch these to tell xpnn's reasons apart.

>>> import xpnn
>>> issubclass(xpnn.DataError, ValueError), issubclass(xpnn.DataNotFoundError, FileNotFoundError)
(True, True)
"""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

__all__ = ["BackendUnavailableError", "DataError", "DataNotFoundError", "UnscaledInputWarning"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


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


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn``, attributed to the first line outside xpnn that led to it.

    A fixed ``stacklevel`` names the right line only while the call depth inside xpnn stays
    what it was when it was written; this walks out of the package instead, as pandas'
    ``find_stack_level`` does, so the warning names the user's line however it got there.
    """
    frame: FrameType | None = sys._getframe(1)
    level = 2  # stacklevel 2: warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
