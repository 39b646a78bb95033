"""Where xpnn's data lives, and how missing files are fetched: data directory, cache, downloads.

Data directory: the ``data_dir`` argument, else ``XPNN_DATA_DIR``, else the per-user data
directory (platformdirs). Its layout is ``<data_dir>/mnist/<the four IDX .gz files>`` and
``<data_dir>/weights/sample_weight.pkl``. It may be read-only: what xpnn caches goes to the
cache directory (``XPNN_CACHE_DIR``, else the per-user cache directory), or is skipped.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import operator
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from .errors import DataError, DataNotFoundError

__all__ = [
    "DataError",
    "DataNotFoundError",
    "RemoteFile",
    "cache_dir",
    "check_max_bytes",
    "check_pinned",
    "data_dir",
    "download_failure",
    "fetch",
    "fetch_all",
    "is_present",
    "open_data_file",
    "shorten",
    "write_atomic",
]

log = logging.getLogger("xpnn")


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
    """A file xpnn can download: its name, SHA-256 and the mirrors that serve it.

    ``what`` names it in an error (default: its name); ``own`` says how to use a file of one's
    own under that name instead (e.g. "load it with xpnn.load_weights(path)").
    """

    name: str
    sha256: str
    mirrors: Sequence[str]  # base URLs, tried in order; the file's URL is mirror + name
    what: str = ""
    own: str = ""

    def urls(self) -> list[str]:
        return [m.rstrip("/") + "/" + self.name for m in self.mirrors]


#: How a data directory ``DIR`` is laid out, as the error messages say it.
LAYOUT = "DIR/mnist/*.gz and DIR/weights/sample_weight.pkl"


def fetch(
    remote: RemoteFile,
    directory: Path,
    *,
    download: bool = True,
    progress: bool = False,
    root: Path | None = None,
    verify: bool = True,
) -> Path:
    """The path of ``remote`` in ``directory``, downloading it first if it is missing.

    :func:`fetch_all` for one file; ``root`` is the data directory the errors name (default:
    ``directory``).
    """
    return fetch_all(
        [(remote, directory)], root or directory, download=download, progress=progress, verify=verify
    )[0]


def fetch_all(
    wanted: Sequence[tuple[RemoteFile, Path]],
    root: Path,
    *,
    download: bool = True,
    progress: bool = False,
    hint: str = "",
    verify: bool = True,
) -> list[Path]:
    """The paths of the files ``wanted`` (each a file and its directory under the data directory
    ``root``), downloading the missing ones first.

    Each mirror is tried in turn (pooch's HTTP downloader). The response goes to a temporary file
    outside the data directory, hashed on the way; only a file whose SHA-256 matches is written
    into place (atomically), so a failed or bad download (HTTP error, an HTML page, a wrong hash)
    never leaves a file behind. Nothing is made or written in the data directory before a
    mirror has begun to send the file: only then are the directories made and checked for
    writability (a :class:`DataNotFoundError` saying what to do if they are not). A host that
    cannot be reached is not asked again for the other files. Every missing file is tried before
    any error; then one :class:`DataNotFoundError` names each file still missing, the directory
    searched, each mirror's reason and the ways to fix it (``hint`` ends it). Directories made
    for downloads that all failed are removed again.

    Files that ``root`` holds itself instead of in their directory (``data_dir`` pointing one
    level too deep, at ``.../mnist``) are refused at once, before any download, with the
    directory meant.

    A file already there is checked against its pinned SHA-256 on every call (``verify=False``
    leaves that to the caller, as :func:`xpnn.load_mnist` does while it decodes): one that
    differs is a :class:`DataError` naming both hashes and what to do, and is never downloaded
    over (it may be the user's own).
    """
    paths = [directory / remote.name for remote, directory in wanted]
    missing = []
    for (remote, directory), path in zip(wanted, paths):
        if not is_present(path):
            missing.append((remote, directory))
        elif verify:
            check_pinned(remote, path)
    if not missing:
        return paths
    misplaced = _misplaced(missing, root)
    if misplaced:
        raise DataNotFoundError(_missing_message(missing, root, None, "")[0] + "\n" + misplaced)
    if not download:
        raise DataNotFoundError("\n".join(_missing_message(missing, root, None, hint)))
    made: list[Path] = []
    try:
        failures: dict[str, dict[str, list[str]]] = {}  # reason -> host -> files
        unreachable: dict[str, str] = {}  # host -> why it cannot be reached
        still_missing = []
        for remote, directory in missing:
            try:
                if not _download(remote, directory, progress, failures, unreachable, made):
                    still_missing.append((remote, directory))
            except _UnwritableError as e:
                names = ", ".join(r.name for r, d in missing if d == directory)
                raise DataNotFoundError(
                    f"{names} missing from {root}, and cannot be downloaded into {directory}"
                    f" ({e.error.strerror or e.error}). Choose a writable data directory (--data-dir DIR,"
                    f" data_dir=DIR or XPNN_DATA_DIR=DIR, laid out as {LAYOUT}), or put the files there"
                    f" yourself."
                ) from e.error
        if still_missing:
            raise DataNotFoundError("\n".join(_missing_message(still_missing, root, failures, hint)))
    finally:
        for directory in reversed(made):  # only those made here, and only if still empty
            with contextlib.suppress(OSError):
                directory.rmdir()
    return paths


def _misplaced(missing: Sequence[tuple[RemoteFile, Path]], root: Path) -> str:
    """A sentence for the missing files that ``root`` holds itself, not in their subdirectory
    (``""`` when there are none): the parent directory meant, or where they belong."""
    here = [
        (remote, directory)
        for remote, directory in missing
        if directory != root and (root / remote.name).is_file()
    ]
    if not here:
        return ""
    names = ", ".join(remote.name for remote, _ in here)
    full = Path(os.path.abspath(root))  # data_dir="mnist" or ".": name the parent in full
    if all(Path(os.path.abspath(directory)) == full / full.name for _, directory in here):
        parent = full.parent
        return (
            f"{root} holds {names} itself: did you mean the parent directory {parent}?"
            f" (--data-dir {parent}, data_dir={str(parent)!r} or XPNN_DATA_DIR={parent})"
        )
    where = " and ".join(str(d) for d in dict.fromkeys(directory for _, directory in here))
    return f"{root} holds {names} itself: {'it belongs' if len(here) == 1 else 'they belong'} in {where}."


class _UnwritableError(Exception):
    """The directory a download was to go into cannot be made or written."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


def check_pinned(remote: RemoteFile, path: Path, data: bytes | None = None) -> None:
    """Raise :class:`DataError` unless the file at ``path`` has ``remote``'s SHA-256 (one read).

    With ``data`` (the bytes already read from ``path``), those bytes are hashed, not the file:
    a caller that parses ``data`` then parses exactly what was checked.
    """
    digest = hashlib.sha256()
    if data is not None:
        digest.update(data)
    else:
        try:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as e:
            raise DataError(_fault(path, e)) from e
    actual = digest.hexdigest()
    if actual != remote.sha256:
        own = f", or, if it is a file of your own, {remote.own}" if remote.own else ""
        raise DataError(
            f"{path} differs from {remote.what or remote.name}: its SHA-256 is {actual}, not the pinned"
            f" {remote.sha256}. Delete it to download it again{own}."
        )


def check_max_bytes(max_bytes: object, where: str) -> int:
    """``max_bytes`` as an int, or a :class:`ValueError`: a size limit is a positive integer
    (not a bool, a float, None or a string, any of which would bend or switch off the limit)."""
    try:
        value = operator.index(max_bytes)  # type: ignore[arg-type]
    except TypeError:
        value = 0
    if isinstance(max_bytes, bool) or value <= 0:
        raise ValueError(
            f"{where}: max_bytes must be a positive integer (a number of bytes); got {max_bytes!r}"
        )
    return value


def _make_writable(directory: Path, made: list[Path]) -> None:
    """Create ``directory`` and its missing parents (recorded in ``made``), and check that a
    file can be written there; else :class:`_UnwritableError`."""
    try:
        for parent in reversed([directory, *directory.parents]):
            if not parent.is_dir():
                parent.mkdir()
                made.append(parent)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise _UnwritableError(e) from e


class _Sink:
    """Where a download's bytes go: a temporary file outside the data directory, hashed on the
    way; the first bytes make (and check) the directory the file is for."""

    def __init__(self, spool: BinaryIO, directory: Path, made: list[Path]) -> None:
        self.spool, self.directory, self.made = spool, directory, made
        self.digest = hashlib.sha256()
        self.ready = False

    def prepare(self) -> None:
        if not self.ready:
            _make_writable(self.directory, self.made)
            self.ready = True

    def write(self, data: bytes) -> None:
        self.prepare()
        self.spool.write(data)
        self.digest.update(data)

    def flush(self) -> None:
        pass


def _download(
    remote: RemoteFile,
    directory: Path,
    progress: bool,
    failures: dict[str, dict[str, list[str]]],
    unreachable: dict[str, str],
    made: list[Path],
) -> bool:
    """Try each mirror of ``remote`` into ``directory``; record why each one failed."""
    import pooch

    for url in remote.urls():
        host = urlsplit(url).netloc
        if host in unreachable:
            failures.setdefault(unreachable[host], {}).setdefault(host, []).append(remote.name)
            continue
        try:
            log.info("downloading %s", url)
            if progress:
                print(f"Downloading {url} into {directory}", file=sys.stderr, flush=True)
            with tempfile.TemporaryFile() as spool:
                sink = _Sink(spool, directory, made)
                pooch.HTTPDownloader(progressbar=progress)(url, sink, None)
                if sink.digest.hexdigest() != remote.sha256:
                    raise ValueError(f"the SHA-256 hash of {url} does not match the known hash")
                sink.prepare()
                spool.seek(0)
                write_atomic(directory / remote.name, lambda out: shutil.copyfileobj(spool, out))
            return True
        except _UnwritableError:
            raise
        except Exception as e:  # requests' HTTPError, ConnectionError, the hash's ValueError, ...
            reason, host_down = download_failure(e)
            if host_down:
                unreachable[host] = reason
            failures.setdefault(reason, {}).setdefault(host, []).append(remote.name)
    return False


def _missing_message(
    missing: Sequence[tuple[RemoteFile, Path]],
    root: Path,
    failures: dict[str, dict[str, list[str]]] | None,
    hint: str,
) -> list[str]:
    """The lines of one short message: what is missing where, why each mirror failed, and how to
    fix it."""

    def relative(directory: Path, name: str) -> str:
        path = directory / name
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    names = ", ".join(relative(directory, remote.name) for remote, directory in missing)
    lines = [f"Missing from the data directory {root}: {names}."]
    if failures is None:
        lines.append("Downloading is off (--no-download, download=False).")
        fix = "allow downloading (leave out --no-download; download=True)"
    else:
        still = {remote.name for remote, _ in missing}
        lines.append("Downloading failed:")
        for reason, hosts in failures.items():
            files = sorted({name for names in hosts.values() for name in names} & still)
            if files:
                which = "" if len(files) == len(still) else f" ({', '.join(files)})"
                lines.append(f"  {', '.join(hosts)}: {reason}{which}.")
        fix = "connect to the network and run again"
    sources = " and ".join(dict.fromkeys(remote.mirrors[0] for remote, _ in missing if remote.mirrors))
    lines.append(
        f"To fix it: {fix}, or fetch {'them' if len(missing) > 1 else 'it'} by hand"
        + (f" from {sources}" if sources else "")
        + f" into {LAYOUT} and pass --data-dir DIR (data_dir=DIR in Python) or set XPNN_DATA_DIR=DIR."
    )
    return lines + ([hint] if hint else [])


def download_failure(e: BaseException) -> tuple[str, bool]:
    """Why a download failed, in a few whole words, and whether the host could not be reached."""
    import requests

    text = str(e)
    if isinstance(e, ValueError) and "hash" in text.lower() and "match" in text.lower():
        return "SHA-256 does not match (an error page, or a corrupt or different file)", False
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code} {e.response.reason}".strip(), False
    if isinstance(e, requests.Timeout):
        return "timed out", True
    if isinstance(e, requests.ConnectionError):
        cause = _root_cause(e)
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve the host name ({cause.strerror or cause})", True
        if isinstance(cause, OSError) and cause.strerror:
            return f"cannot connect ({cause.strerror})", True
        return "cannot connect", True
    if isinstance(e, OSError) and e.strerror:
        return f"cannot write the file ({e.strerror})", False
    return shorten(f"{type(e).__name__}: {text.strip()}"), False


def _root_cause(e: BaseException) -> BaseException | None:
    """The first socket-level error (an OSError with an errno) behind ``e``'s chain of causes."""
    seen: set[int] = set()
    queue: list[object] = [e]
    while queue:
        item = queue.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen or len(seen) > 50:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.errno is not None:
            return item
        queue += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return None


def shorten(text: str, width: int = 120) -> str:
    """``text`` on one line, cut at a word boundary to at most ``width`` characters ("..." marks a cut)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 3].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "..."


def _umask() -> int:
    """The process's umask (read by setting it and putting it back: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_namespace() -> str:
    """This process's PID namespace (Linux: the inode of ``/proc/self/ns/pid``), ``""`` where unknown.

    Containers that share a volume and a host name still differ here: a pid means something only
    in its own namespace.
    """
    try:
        st = os.stat("/proc/self/ns/pid")
    except OSError:
        return ""
    return f"{st.st_dev}:{st.st_ino}"


def _host() -> str:
    """A short tag of this machine and PID namespace, in temporary names: a pid means something
    only there."""
    return hashlib.sha256(f"{socket.gethostname()}\0{_pid_namespace()}".encode()).hexdigest()[:8]


#: The largest pid a temporary name may carry (``pid_t`` is 32 bits); a larger one is not a pid.
_MAX_PID = (1 << 31) - 1

#: Where the PID namespace is unknown, only temporaries older than this (in seconds) are swept:
#: a writer in another namespace of the same host name may still be writing a younger one.
_UNSURE_AGE = 3600.0


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie counts; so does one of another user).

    A number that cannot be a pid (0, negative, too large) counts as alive: its file is not one
    of ours to remove.
    """
    if not 0 < pid <= _MAX_PID:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):  # PermissionError: it exists, and is someone else's
        return True
    return True


#: How much of a file's name (in bytes) its temporary names carry: the rest of a temporary name
#: (tag, pid, random part) stays within the 255 bytes file systems allow a name.
_NAME_KEPT = 200


def _temp_name(name: str) -> str:
    """``name`` as its temporary names carry it: whole, or cut and followed by a hash of the whole."""
    if len(os.fsencode(name)) <= _NAME_KEPT:
        return name
    cut = name
    while len(os.fsencode(cut)) > _NAME_KEPT - 9:
        cut = cut[:-1]
    return f"{cut}~{hashlib.sha256(os.fsencode(name)).hexdigest()[:8]}"


def _sweep(path: Path) -> None:
    """Remove the temporary files that writers of ``path`` on this host left when they died.

    A temporary file is ``.NAME.HOST-PID.RANDOM.tmp`` (HOST: the host name and PID namespace);
    one whose PID is not running (here) was left by a killed writer, and can never be renamed
    into place. A live process's file, another host's or namespace's, and any other name are
    left alone; where the namespace cannot be known, so is a file younger than an hour. POSIX
    only: elsewhere, a signal 0 is not a harmless question.
    """
    if os.name != "posix":
        return
    pattern = re.compile(
        re.escape(f".{_temp_name(path.name)}.{_host()}-") + r"(\d{1,10})\.[A-Za-z0-9_]+\.tmp"
    )
    unsure = _pid_namespace() == ""
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or int(match[1]) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if not entry.is_file(follow_symlinks=False) or _alive(int(match[1])):
                continue
            if unsure and time.time() - entry.stat(follow_symlinks=False).st_mtime < _UNSURE_AGE:
                continue
            os.unlink(entry.path)
            log.info("removed %s, left by a writer that was killed", entry.path)


def _refuse_non_file(path: Path, given: Path) -> None:
    """A :class:`DataError` if ``path`` (following links) exists and is not a regular file:
    renaming a file over it would replace a directory's place, a device or a pipe."""
    try:
        st = os.stat(path)
    except OSError:  # nothing there (or a fault the writing itself will name)
        return
    if stat.S_ISREG(st.st_mode):
        return
    mode = st.st_mode
    what = (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a character device"
        if stat.S_ISCHR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    real = os.path.realpath(given)
    via = f" (a link to {real})" if real != os.path.abspath(given) else ""
    raise DataError(
        f"{given}{via} is {what}, not a regular file: xpnn writes a file and renames it into place,"
        f" which would replace it. Give a file path (not a directory, device, pipe or standard output)."
    )


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place.

    Two processes doing this at once each rename a complete file; readers never see half of one.
    The file gets the permissions a plain ``open(path, "wb")`` would give (``0o666`` less the
    umask; a replaced file keeps its own), not ``mkstemp``'s private ``0o600``.

    A symbolic link is written through, as editors do: the file it points to is replaced
    (atomically, beside it) and the link stays. A target (through its links) that exists and is
    not a regular file (a directory, device, FIFO, socket: ``/dev/null``, ``/dev/stdout``) is
    refused with a :class:`DataError`, checked before writing and again just before the rename.
    The temporary name, ``.NAME.HOST-PID.RANDOM.tmp`` (a long NAME cut short), says whose it is:
    temporaries of ``path`` left by writers that were killed are removed first.
    """
    given = path
    _refuse_non_file(path, given)
    if path.is_symlink():
        try:
            path = Path(os.path.realpath(path, strict=True))
        except FileNotFoundError:  # a link to a file still to be made: make it there
            path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{_temp_name(path.name)}.{_host()}-{os.getpid()}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        _refuse_non_file(path, given)  # one made there meanwhile is not replaced either
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
