"""xpnn.io (data directory, downloads, atomic writes): atomic writes under fault injection."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import BinaryIO

import pytest

import xpnn
from xpnn.io import write_atomic


class WriterFailedError(Exception):
    pass


def test_a_writer_that_fails_halfway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "entry.npy"
    target.write_bytes(b"the good old content")

    def half(f: BinaryIO) -> None:
        f.write(b"half of the new")
        f.flush()
        raise WriterFailedError

    with pytest.raises(WriterFailedError):
        write_atomic(target, half)
    assert target.read_bytes() == b"the good old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.npy"], "no temporary file is left"


def test_a_successful_write_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "entry.npy"
    write_atomic(target, lambda f: f.write(b"one"))
    write_atomic(target, lambda f: f.write(b"two"))
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["entry.npy"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umask_permissions_and_a_replaced_one_keeps_its_own(
    tmp_path: Path, umask: int
) -> None:
    import os
    import stat

    old = os.umask(umask)
    try:
        fresh = tmp_path / "fresh.npz"
        write_atomic(fresh, lambda f: f.write(b"x"))
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask, "as open(path, 'wb') would make it"
        kept = tmp_path / "kept.npz"
        kept.write_bytes(b"old")
        kept.chmod(0o640)
        write_atomic(kept, lambda f: f.write(b"new"))
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640
    finally:
        os.umask(old)


# --- where the data and the cache live (mutation testing: these lines had no test) -------------


def test_an_explicit_path_wins_and_expands_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    from xpnn.io import data_dir

    monkeypatch.setenv("XPNN_DATA_DIR", "/elsewhere")
    assert data_dir("~/xpnn-data") == Path.home() / "xpnn-data"


@pytest.mark.parametrize("variable", ["XPNN_DATA_DIR", "XPNN_CACHE_DIR"])
def test_the_variables_expand_the_home_directory(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from xpnn.io import cache_dir, data_dir

    monkeypatch.setenv(variable, "~/somewhere")
    where = data_dir() if variable == "XPNN_DATA_DIR" else cache_dir()
    assert where == Path.home() / "somewhere"


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG variables place per-user directories on Linux")
@pytest.mark.parametrize("unset", ["absent", "empty"])
def test_without_the_variables_the_per_user_directories_are_used(
    unset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No XPNN_DATA_DIR / XPNN_CACHE_DIR (or an empty one): <XDG_DATA_HOME>/xpnn, <XDG_CACHE_HOME>/xpnn."""
    from xpnn.io import cache_dir, data_dir

    for variable in ("XPNN_DATA_DIR", "XPNN_CACHE_DIR"):
        if unset == "absent":
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, "")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "data" / "xpnn"
    assert cache_dir() == tmp_path / "cache" / "xpnn"


def test_an_unreadable_path_names_the_fault_in_words(tmp_path: Path) -> None:
    """A data file whose presence cannot even be checked is a fault named in words, not "absent"
    (which would start a download)."""
    import errno
    import os

    root = tmp_path / ("x" * 300)  # longer than any file system allows a name to be
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_mnist(data_dir=root)
    text = str(e.value)
    assert text.startswith(f"{root / 'mnist'}{os.sep}"), text
    assert text.endswith(f".gz cannot be read ({os.strerror(errno.ENAMETOOLONG)})"), text


def test_the_temporary_file_is_written_beside_the_target(tmp_path: Path) -> None:
    """Beside it, hidden, so that the final rename stays on one file system and is atomic."""
    target = tmp_path / "sub" / "f.bin"
    seen: list[str] = []

    def write(f: BinaryIO) -> None:
        seen.extend(p.name for p in target.parent.iterdir())
        f.write(b"x")

    write_atomic(target, write)
    assert len(seen) == 1 and seen[0].startswith(".f.bin.") and seen[0].endswith(".tmp"), seen
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]


# --- what write_atomic refuses to replace, and the names of its temporaries (attack report) -----


def _device_node(path: Path, block: bool = False) -> Path:
    """A private character device node (as /dev/null is: major 1, minor 3) at ``path``, or with
    ``block`` a block device node (as /dev/loop0 is: major 7, minor 0); skips the test where making
    one is not permitted (not root). It is never opened."""
    import os
    import stat

    try:
        os.mknod(
            path,
            (stat.S_IFBLK if block else stat.S_IFCHR) | 0o666,
            os.makedev(*((7, 0) if block else (1, 3))),
        )
    except (PermissionError, AttributeError):
        pytest.skip("making a device node needs root")
    return path


def _kind(path: Path) -> str:
    import os
    import stat

    mode = os.lstat(path).st_mode
    return (
        "chr"
        if stat.S_ISCHR(mode)
        else "blk"
        if stat.S_ISBLK(mode)
        else "fifo"
        if stat.S_ISFIFO(mode)
        else "reg"
        if stat.S_ISREG(mode)
        else "?"
    )


@pytest.mark.parametrize("via", ["direct", "link"])
@pytest.mark.parametrize("kind", ["chr", "blk", "fifo"])
def test_a_device_node_or_fifo_is_refused_and_left_as_it_is(tmp_path: Path, kind: str, via: str) -> None:
    """Attack 1: as root, ``xpnn export --out /dev/null`` replaced /dev/null with a regular file.
    A private node here, never the real one."""
    import os

    import numpy as np
    import reference

    import xpnn

    node = tmp_path / "node.npz"
    if kind in ("chr", "blk"):
        _device_node(node, block=kind == "blk")
    else:
        os.mkfifo(node)
    target = node
    if via == "link":  # /dev/stdout is a link to the pipe or terminal it stands for
        target = tmp_path / "out.npz"
        target.symlink_to(node)
    what = {"chr": "a character device", "blk": "a block device", "fifo": re.escape("a pipe (FIFO)")}[kind]
    with pytest.raises(xpnn.DataError, match=f"is {what}.*not a regular file.*Give a file path") as e:
        xpnn.save_weights(reference.random_network((3, 2), np.float32), target)
    assert str(target) in str(e.value) and (via == "direct" or f"a link to {node}" in str(e.value))
    with pytest.raises(xpnn.DataError, match="not a regular file"):
        write_atomic(target, lambda f: f.write(b"x"))
    assert _kind(node) == kind, "the node is still what it was"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_export_onnx_refuses_a_device_node(tmp_path: Path) -> None:
    pytest.importorskip("ndonnx")
    import xpnn

    node = _device_node(tmp_path / "net.onnx")
    with pytest.raises(xpnn.DataError, match="is a character device"):
        xpnn.export_onnx(xpnn.init_network(), node)
    assert _kind(node) == "chr"


@pytest.mark.parametrize("via", ["direct", "link"])
def test_a_directory_is_refused_in_words_naming_it(tmp_path: Path, via: str) -> None:
    """Attack 12: through a link to a directory, a raw IsADirectoryError named the temporary file."""
    import xpnn

    (tmp_path / "models").mkdir()
    target = tmp_path / "models"
    if via == "link":
        target = tmp_path / "net.npz"
        target.symlink_to(tmp_path / "models")
    with pytest.raises(xpnn.DataError, match="is a directory, not a regular file") as e:
        write_atomic(target, lambda f: f.write(b"x"))
    assert ".tmp" not in str(e.value)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_fifo_made_while_the_file_is_written_is_not_replaced(tmp_path: Path) -> None:
    """The target is checked again just before the rename."""
    import os

    import xpnn

    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def write(f: BinaryIO) -> None:
        f.write(b"new")
        target.unlink()
        os.mkfifo(target)  # someone else puts a pipe there meanwhile

    with pytest.raises(xpnn.DataError, match="is a pipe"):
        write_atomic(target, write)
    assert _kind(target) == "fifo"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def _own_temporary(target: Path) -> str:
    """The name write_atomic gives its temporary file of ``target`` (seen while it writes)."""
    before = {p.name for p in target.parent.iterdir()} if target.parent.exists() else set()
    seen: list[str] = []
    write_atomic(
        target, lambda f: seen.extend(p.name for p in target.parent.iterdir() if p.name not in before)
    )
    seen = [name for name in seen if name.endswith(".tmp")]
    assert len(seen) == 1, seen
    return seen[0]


def _ended_pid() -> int:
    import subprocess

    return int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
        ).stdout
    )


def _with_pid(name: str, pid: int) -> str:
    import os

    assert f"-{os.getpid()}." in name
    return name.replace(f"-{os.getpid()}.", f"-{pid}.", 1)


@pytest.mark.skipif(sys.platform == "win32", reason="pids as POSIX has them")
@pytest.mark.parametrize("pid", [9_999_999_999, 2**31, 0])
def test_a_temporary_name_with_a_number_no_pid_can_be_is_left_alone(tmp_path: Path, pid: int) -> None:
    """Attack 3: ``.net.npz.HOST-9999999999.x.tmp`` made os.kill raise OverflowError: every write
    to the folder crashed."""
    target = tmp_path / "net.npz"
    planted = tmp_path / _with_pid(_own_temporary(target), pid)
    planted.write_bytes(b"")
    write_atomic(target, lambda f: f.write(b"data"))
    assert target.read_bytes() == b"data" and planted.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="pids as POSIX has them")
def test_a_temporary_of_another_pid_namespace_is_never_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack 4: containers sharing a volume and a host name: a live writer's pid in its own
    namespace looked like a dead one here, and its temporary file was deleted."""
    import xpnn.io._atomic

    target = tmp_path / "net.npz"
    with monkeypatch.context() as other:  # a writer in another PID namespace, same host name
        other.setattr(xpnn.io._atomic, "_pid_namespace", lambda: "4026532999", raising=False)
        theirs = tmp_path / _with_pid(_own_temporary(target), _ended_pid())
    theirs.write_bytes(b"half a file, still being written")
    ours = tmp_path / _with_pid(_own_temporary(target), _ended_pid())
    ours.write_bytes(b"half a file of a killed writer of this namespace")
    write_atomic(target, lambda f: f.write(b"data"))
    assert theirs.exists(), "another namespace's pid says nothing here"
    assert not ours.exists(), "this namespace's dead writers are still swept"


@pytest.mark.skipif(sys.platform == "win32", reason="pids as POSIX has them")
def test_where_the_namespace_is_unknown_only_old_temporaries_are_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import time

    import xpnn.io._atomic

    monkeypatch.setattr(xpnn.io._atomic, "_pid_namespace", lambda: "", raising=False)
    target = tmp_path / "net.npz"
    young = tmp_path / _with_pid(_own_temporary(target), _ended_pid())
    old = tmp_path / _with_pid(_own_temporary(target), _ended_pid())
    young.write_bytes(b"")
    old.write_bytes(b"")
    if young == old:
        pytest.skip("the two ended processes had the same pid")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    write_atomic(target, lambda f: f.write(b"data"))
    assert young.exists() and not old.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="pids as POSIX has them")
def test_a_temporary_of_another_users_live_process_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signal 0 to another user's process fails with EPERM: it is running, so its file stays."""
    import os

    target = tmp_path / "net.npz"
    pid = _ended_pid()
    theirs = tmp_path / _with_pid(_own_temporary(target), pid)
    theirs.write_bytes(b"half a file, still being written")
    kill = os.kill

    def not_ours(to: int, signal: int) -> None:
        if to == pid:
            raise PermissionError(1, "Operation not permitted")
        kill(to, signal)

    monkeypatch.setattr(os, "kill", not_ours)
    write_atomic(target, lambda f: f.write(b"data"))
    assert target.read_bytes() == b"data" and theirs.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="pids as POSIX has them")
def test_a_dead_writers_temporary_that_cannot_be_removed_does_not_stop_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a sticky shared folder a dead writer's file may be another user's: unlinking it fails
    (EPERM), and the write goes on."""
    import os

    target = tmp_path / "net.npz"
    stale = tmp_path / _with_pid(_own_temporary(target), _ended_pid())
    stale.write_bytes(b"")
    unlink = os.unlink

    def refuse(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if os.fspath(path) == str(stale):
            raise PermissionError(1, "Operation not permitted", str(stale))
        unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", refuse)
    write_atomic(target, lambda f: f.write(b"data"))
    assert target.read_bytes() == b"data" and stale.exists()


@pytest.mark.parametrize("length", [200, 230, 250, 255])
def test_a_long_file_name_gets_a_short_enough_temporary_name(tmp_path: Path, length: int) -> None:
    """Attack 12: a name of 230+ characters failed with ENAMETOOLONG on the temporary name,
    though open() takes it. The temporaries of a long name are still swept."""
    target = tmp_path / ("n" * (length - 4) + ".npz")
    write_atomic(target, lambda f: f.write(b"one"))
    assert target.read_bytes() == b"one"
    name = _own_temporary(target)
    assert len(name.encode()) <= 255
    if sys.platform != "win32":
        stale = tmp_path / _with_pid(name, _ended_pid())
        stale.write_bytes(b"")
        write_atomic(target, lambda f: f.write(b"two"))
        assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
