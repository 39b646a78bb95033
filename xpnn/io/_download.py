"""Fetching missing files: pinned SHA-256, mirrors tried in order, one error naming every file missing."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import operator
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from ..errors import DataError, DataNotFoundError
from ._atomic import write_atomic
from ._paths import fault_message, is_present

__all__ = [
    "LAYOUT",
    "RemoteFile",
    "check_max_bytes",
    "check_pinned",
    "download_failure",
    "fetch",
    "fetch_all",
    "shorten",
]

log = logging.getLogger("xpnn")


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
LAYOUT = "DIR/mnist/*.gz and DIR/weights/*.pkl"


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
            raise DataError(fault_message(path, e)) from e
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
    places = " and ".join(
        dict.fromkeys(_place(directory, remote.name, root) for remote, directory in missing)
    )
    lines.append(
        f"To fix it: {fix}, or fetch {'them' if len(missing) > 1 else 'it'} by hand"
        + (f" from {sources}" if sources else "")
        + f" into {places} and pass --data-dir DIR (data_dir=DIR in Python) or set XPNN_DATA_DIR=DIR."
    )
    return lines + ([hint] if hint else [])


def _place(directory: Path, name: str, root: Path) -> str:
    """Where a missing file goes, as the hand-fetch hint says it: ``DIR/mnist/*.gz`` for MNIST's
    files, ``DIR/weights/params.pkl`` for one file, under a data directory ``DIR``."""
    if not directory.is_relative_to(root):
        return str(directory / name)
    where = "/".join(("DIR", *directory.relative_to(root).parts))
    return f"{where}/*.gz" if name.endswith(".gz") else f"{where}/{name}"


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
    """``text`` on one line, cut to at most ``width`` characters ("..." marks a cut).

    The cut is at a word boundary where one is in the second half, else mid-word, so a message
    made of one long token (a path, an address) keeps its text.
    """
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 3]
    word = cut.rsplit(" ", 1)[0]
    # At a word boundary, unless that would drop most of the text (a long URL or path, say).
    if len(word) >= (width - 3) // 2:
        cut = word
    return cut.rstrip(",;:") + "..."
