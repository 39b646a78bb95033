"""xpnn._data: atomic writes under fault injection."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

import pytest

from xpnn._data import write_atomic


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
    from xpnn._data import data_dir

    monkeypatch.setenv("XPNN_DATA_DIR", "/elsewhere")
    assert data_dir("~/xpnn-data") == Path.home() / "xpnn-data"


@pytest.mark.parametrize("variable", ["XPNN_DATA_DIR", "XPNN_CACHE_DIR"])
def test_the_variables_expand_the_home_directory(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from xpnn._data import cache_dir, data_dir

    monkeypatch.setenv(variable, "~/somewhere")
    where = data_dir() if variable == "XPNN_DATA_DIR" else cache_dir()
    assert where == Path.home() / "somewhere"


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG variables place per-user directories on Linux")
@pytest.mark.parametrize("unset", ["absent", "empty"])
def test_without_the_variables_the_per_user_directories_are_used(
    unset: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No XPNN_DATA_DIR / XPNN_CACHE_DIR (or an empty one): <XDG_DATA_HOME>/xpnn, <XDG_CACHE_HOME>/xpnn."""
    from xpnn._data import cache_dir, data_dir

    for variable in ("XPNN_DATA_DIR", "XPNN_CACHE_DIR"):
        if unset == "absent":
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, "")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_dir() == tmp_path / "data" / "xpnn"
    assert cache_dir() == tmp_path / "cache" / "xpnn"


@pytest.mark.parametrize(
    "text, width, short",
    [
        ("a" * 120, 120, "a" * 120),  # at the width: kept whole
        ("a" * 121, 120, "a" * 117 + "..."),  # one over: cut to the width, "..." included
        ("  two\n lines\t", 120, "two lines"),  # on one line, whitespace collapsed
        ("ab cde fghij", 10, "ab cde..."),  # cut at the last whole word that fits
        ("one; two three", 10, "one..."),  # no dangling punctuation before "..."
        ("AAX BBB CCC", 10, "AAX..."),
    ],
)
def test_shorten_cuts_at_a_word_to_the_width(text: str, width: int, short: str) -> None:
    from xpnn._data import shorten

    assert shorten(text, width) == short
    if width == 120:
        assert shorten(text) == short, "the default width is 120"


def test_an_unreadable_path_names_the_fault_in_words(tmp_path: Path) -> None:
    import errno
    import os

    from xpnn._data import DataError, is_present

    path = tmp_path / ("x" * 300)  # longer than any file system allows a name to be
    with pytest.raises(DataError) as e:
        is_present(path)
    assert str(e.value) == f"{path} cannot be read ({os.strerror(errno.ENAMETOOLONG)})"


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
