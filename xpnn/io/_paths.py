"""The data directory and the cache directory, and checked opening of the files in them.

Data directory: the ``data_dir`` argument, else ``XPNN_DATA_DIR``, else the per-user data
directory (platformdirs). Its layout is ``<data_dir>/mnist/<the four IDX .gz files>`` and
``<data_dir>/weights/sample_weight.pkl``. It may be read-only: what xpnn caches goes to the
cache directory (``XPNN_CACHE_DIR``, else the per-user cache directory), or is skipped.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import DataError, DataNotFoundError

__all__ = ["cache_dir", "data_dir", "fault_message", "is_present", "open_data_file"]


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``path``, else ``$XPNN_DATA_DIR``, else the per-user data directory."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("XPNN_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("xpnn", appauthor=False))


def cache_dir() -> Path:
    """Where decoded arrays are cached: ``$XPNN_CACHE_DIR``, else the per-user cache directory."""
    env = os.environ.get("XPNN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("xpnn", appauthor=False))


def is_present(path: Path) -> bool:
    """True for a regular file at ``path``, False when nothing is there; anything else is a fault.

    A symlink loop, a broken symlink, a directory (or FIFO, device, ...) where a file should be,
    or a path that cannot be searched raises :class:`DataError` naming the path and the fault.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # nothing there (or a file where a folder should be)
        if os.path.islink(path):
            raise DataError(
                f"{path} is a broken symbolic link (to {os.readlink(path)}); remove it or fix it"
            ) from None
        return False
    except OSError as e:
        raise DataError(fault_message(path, e)) from e
    if stat.S_ISREG(st.st_mode):
        return True
    what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, socket or device)"
    raise DataError(
        f"{path} is {what} where a data file should be; remove it or choose another data directory"
    )


def open_data_file(path: Path) -> BinaryIO:
    """``path`` opened for reading, or a :class:`DataError` naming the path and the fault.

    Like :func:`is_present`, and a missing or unreadable file is a fault too.
    """
    if not is_present(path):
        raise DataNotFoundError(f"{path} does not exist")
    try:
        return open(path, "rb")
    except OSError as e:
        raise DataError(fault_message(path, e)) from e


def fault_message(path: Path, e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return f"{path} is a symbolic link loop ({e.strerror}); remove it or fix it"
    if isinstance(e, PermissionError):
        return f"{path} cannot be read ({e.strerror}); fix its permissions or choose another data directory"
    return f"{path} cannot be read ({e.strerror or e})"
