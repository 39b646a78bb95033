"""xpnn._data: atomic writes under fault injection."""

from __future__ import annotations

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
