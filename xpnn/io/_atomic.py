"""Writing a file atomically: a temporary name in the same directory, renamed into place."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import DataError

__all__ = ["write_atomic"]

log = logging.getLogger("xpnn")


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
