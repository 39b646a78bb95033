"""What several ``xpnn`` commands share: their common options, the output-path check, the
extra-module check and the clock."""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..backends import BACKENDS, missing_extra
from ..functions import HIDDEN_ACTIVATIONS

T = TypeVar("T")

#: ``--activation``, as ``mnist`` and ``export`` take it: a name, case-insensitive; None means
#: the weights' own.
ACTIVATION: dict[str, Any] = {
    "default": None,
    "type": str.lower,
    "choices": sorted(HIDDEN_ACTIVATIONS),
    "help": "hidden activation (default: the one the weights file records, else sigmoid, the book's)",
}

#: The options several commands take, each worded once.
OPTIONS: dict[str, dict[str, Any]] = {
    "--device": {"default": None, "help": "backend device, e.g. cuda:0"},
    "--data-dir": {"default": None, "help": "data directory (default: $XPNN_DATA_DIR or the per-user one)"},
    "--weights": {"default": None, "help": "weights file (.pkl, .npz, .safetensors); default: the book's"},
    "--no-download": {"action": "store_true", "help": "never download; fail if a file is missing"},
    "--activation": ACTIVATION,
}


def add_options(command: argparse.ArgumentParser, *flags: str) -> None:
    """Add the shared options ``flags`` to ``command``, in that order (its ``--help`` order)."""
    for flag in flags:
        command.add_argument(flag, **OPTIONS[flag])


def add_backend(command: argparse.ArgumentParser, default: str | None) -> None:
    """``--backend NAME`` (case-insensitive; ``None`` means numpy, told apart from a given numpy)."""
    command.add_argument(
        "--backend", default=default, type=str.lower, help=f"{', '.join(BACKENDS)} or auto (default: numpy)"
    )


def check_out(path: str, suffixes: tuple[str, ...], what: str) -> None:
    """Refuse an output path that cannot be written, before any work: a directory, an unknown
    suffix, a folder that is not one or that this user cannot write to."""
    out = Path(path)
    if out.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"is a directory: name the {what} file to write", path)
    if not out.name.lower().endswith(suffixes):
        raise ValueError(f"--out must name a {what} file; got {path!r}")
    folder = out.absolute().parent
    while not folder.exists():  # written into folders made on the way
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "is not a directory: --out cannot be written there", str(folder)
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "this user cannot write here: choose another --out", str(folder))


def require_extra(what: str, extra: str, *modules: str) -> None:
    """Refuse, in the one wording for a missing extra, unless every module of ``extra`` imports."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ImportError(f"{missing_extra(what, extra)}; {module} cannot be imported here ({e})") from e


def timed(work: Callable[[], T]) -> tuple[T, float]:
    """``work()`` and the seconds it took (the commands' one clock)."""
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start
