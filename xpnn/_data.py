"""Where xpnn's data lives, and how missing files are fetched: data directory, cache, downloads.

Data directory: the ``data_dir`` argument, else ``XPNN_DATA_DIR``, else the per-user data
directory (platformdirs). Its layout is ``<data_dir>/mnist/<the four IDX .gz files>`` and
``<data_dir>/weights/sample_weight.pkl``. It may be read-only: what xpnn caches goes to the
cache directory (``XPNN_CACHE_DIR``, else the per-user cache directory), or is skipped.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "DataError",
    "DataNotFoundError",
    "RemoteFile",
    "cache_dir",
    "data_dir",
    "fetch",
    "is_present",
    "open_data_file",
    "write_atomic",
]

log = logging.getLogger("xpnn")


class DataError(ValueError):
    """A data or weights file exists but is not what it should be (corrupt, truncated, HTML, ...)."""


class DataNotFoundError(FileNotFoundError):
    """A data file is missing and could not (or may not) be downloaded."""


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
        raise DataError(_fault(path, e)) from e
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
        raise DataError(_fault(path, e)) from e


def _fault(path: Path, e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return f"{path} is a symbolic link loop ({e.strerror}); remove it or fix it"
    if isinstance(e, PermissionError):
        return f"{path} cannot be read ({e.strerror}); fix its permissions or choose another data directory"
    return f"{path} cannot be read ({e.strerror or e})"


@dataclass(frozen=True)
class RemoteFile:
    """A file xpnn can download: its name, SHA-256 and the mirrors that serve it."""

    name: str
    sha256: str
    mirrors: Sequence[str]  # base URLs, tried in order; the file's URL is mirror + name

    def urls(self) -> list[str]:
        return [m.rstrip("/") + "/" + self.name for m in self.mirrors]


def fetch(remote: RemoteFile, directory: Path, *, download: bool = True, progress: bool = False) -> Path:
    """The path of ``remote`` in ``directory``, downloading it first if it is missing.

    Each mirror is tried in turn with pooch, which writes to a temporary file, checks the
    SHA-256 and only then renames the file into place: a failed or bad download (HTTP error,
    an HTML page, a wrong hash) never leaves a file behind. When every mirror fails, the error
    lists what was tried.
    """
    path = directory / remote.name
    if is_present(path):
        return path
    if not download:
        raise DataNotFoundError(
            f"{remote.name} is not in {directory}. Put the file there, point XPNN_DATA_DIR (or"
            f" data_dir=) at a directory that has it, or allow downloading (download=True; on the"
            f" command line, leave out --no-download)."
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise DataNotFoundError(
            f"{remote.name} is missing and cannot be downloaded into {directory} ({e.strerror})."
            f" Choose a writable data directory with XPNN_DATA_DIR or data_dir=, or put the file there."
        ) from e
    import pooch

    failures = []
    pooch_log = pooch.get_logger()
    level = pooch_log.level
    pooch_log.setLevel(logging.INFO if progress else logging.WARNING)  # pooch announces each download
    try:
        for url in remote.urls():
            try:
                log.info("downloading %s", url)
                pooch.retrieve(
                    url,
                    known_hash=f"sha256:{remote.sha256}",
                    fname=remote.name,
                    path=directory,
                    progressbar=progress,
                )
                return path
            except Exception as e:  # requests' HTTPError, ConnectionError, pooch's hash ValueError, ...
                failures.append(f"{url}: {_short(e)}")
    finally:
        pooch_log.setLevel(level)
    raise DataNotFoundError(
        f"could not download {remote.name} into {directory}; tried:\n  "
        + "\n  ".join(failures)
        + "\nCheck the network, or download the file yourself and put it in that directory."
    )


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    first = text[0] if text else ""
    if "hash" in str(e).lower() and "match" in str(e).lower():
        return "the file's SHA-256 does not match (an error page, or a corrupt or different file)"
    return f"{type(e).__name__}: {first}"[:300]


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    Two processes doing this at once each rename a complete file; readers never see half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
