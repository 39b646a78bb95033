"""Which backends are usable on this machine, and why not: what ``xpnn backends`` prints.

Also the one wording for a missing pyproject extra (:func:`missing_extra`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass

from .probe import Reason, check_backend
from .table import TABLE

__all__ = ["BackendStatus", "available_backends", "backend_status", "missing_extra"]


def missing_extra(what: str, extra: str) -> str:
    """What xpnn says when ``what`` needs a pyproject extra that is not installed: one wording everywhere.

    >>> print(missing_extra("save_digit_grid", "plot"))
    save_digit_grid needs the `plot` extra: pip install 'xpnn[plot]' (in a clone: pip install -e '.[plot]')
    """
    return f"{what} needs the `{extra}` extra: pip install 'xpnn[{extra}]' (in a clone: pip install -e '.[{extra}]')"


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend is usable here; if not, ``reason`` says why (``code``, the same as data),
    and ``install`` how to install it when its library is missing or cannot be imported (None
    otherwise).

    >>> backend_status(["numpy"])["numpy"].code is None
    True
    """

    name: str
    available: bool
    reason: str
    version: str | None
    install: str | None = None
    #: Why it is unusable, as data (``Reason.NOT_INSTALLED``, ...); None when it is usable.
    code: Reason | None = None


def backend_status(names: Iterable[str] | None = None) -> dict[str, BackendStatus]:
    """Every known backend (or only ``names``) with whether it is usable on this machine, and why not.

    Checking a backend imports its library (PyTorch, JAX, ... take seconds and start threads):
    pass ``names`` to check only those.

    >>> backend_status()["numpy"].available
    True
    >>> list(backend_status(["numpy"]))
    ['numpy']
    """
    if names is None:
        names = list(TABLE)
    else:
        names = list(names)
        unknown = [n for n in names if n not in TABLE]
        if unknown:
            raise ValueError(f"unknown backend {unknown[0]!r}: choose from {', '.join(TABLE)}")
    result = {}
    for name in names:
        why = check_backend(name, None)[1]
        if why is None:
            version = getattr(sys.modules.get(TABLE[name].module), "__version__", None)
            result[name] = BackendStatus(name, True, "usable", version)
        else:
            install = TABLE[name].install if why.code.needs_install else None
            result[name] = BackendStatus(name, False, why.message, None, install, why.code)
    return result


def available_backends() -> tuple[str, ...]:
    """Names of the backends usable on this machine, in the order of ``BACKENDS``.

    >>> "numpy" in available_backends()
    True
    """
    return tuple(name for name, s in backend_status().items() if s.available)
