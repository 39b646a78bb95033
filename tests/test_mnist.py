"""load_mnist and the IDX parser: shapes, dtypes, validation, the cache, placement, real data."""

from __future__ import annotations

import gzip
import io
import math
import os
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import Case, assert_close
from idx import idx_bytes, sha256, tiny_mnist, tiny_mnist_files, write_idx_gz

import xpnn
from xpnn.io import idx, mnist

N = 12


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, np.ndarray]]:
    """A data directory with tiny MNIST-format files, and xpnn told their hashes and shapes."""
    root = tmp_path / "data"
    arrays = tiny_mnist(root / "mnist", n=N)
    monkeypatch.setattr(mnist, "MNIST_FILES", tiny_mnist_files(root / "mnist", N))
    return root, arrays


def test_book_call_shapes_and_dtypes(tiny) -> None:
    root, arrays = tiny
    (x_train, t_train), (x_test, t_test) = xpnn.load_mnist(data_dir=root)
    assert x_train.shape == (N, 784) and x_train.dtype == np.float32
    assert t_train.shape == (N,) and t_train.dtype == np.uint8
    np.testing.assert_array_equal(
        x_test, arrays["t10k-images"].reshape(N, 784).astype(np.float32) / np.float32(255)
    )
    np.testing.assert_array_equal(t_test, arrays["t10k-labels"])
    assert x_test.min() >= 0.0 and x_test.max() <= 1.0


def test_unnormalized_unflattened_one_hot(tiny) -> None:
    root, arrays = tiny
    x, t = xpnn.load_mnist(normalize=False, flatten=False, one_hot_label=True, split="train", data_dir=root)
    assert x.shape == (N, 1, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:, 0], arrays["train-images"])
    assert t.shape == (N, 10) and t.dtype == np.float32
    np.testing.assert_array_equal(t.argmax(axis=1), arrays["train-labels"])
    np.testing.assert_array_equal(t.sum(axis=1), np.ones(N))
    x[0, 0, 0, 0] = 7  # the book's arrays are writable; the cache behind them is not touched
    x2, _ = xpnn.load_mnist(normalize=False, flatten=False, split="train", data_dir=root)
    assert x2[0, 0, 0, 0] == arrays["train-images"][0, 0, 0]


def test_placement_on_each_backend(tiny, backend: Case) -> None:
    root, arrays = tiny
    x, t = xpnn.load_mnist(
        one_hot_label=True, split="test", data_dir=root, backend=backend.name, device=backend.device_arg
    )
    expected = arrays["t10k-images"].reshape(N, 784).astype(np.float64) / 255
    assert_close(x, expected, backend, dtype=backend.dtype("float32"))
    assert_close(t, np.eye(10)[arrays["t10k-labels"]], backend, dtype=backend.dtype("float32"))


def test_data_dir_from_the_environment(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    root, arrays = tiny
    monkeypatch.setenv("XPNN_DATA_DIR", str(root))
    _, t = xpnn.load_mnist(split="test")
    np.testing.assert_array_equal(t, arrays["t10k-labels"])


def test_missing_files_without_download_name_files_and_directory(tmp_path: Path) -> None:
    with pytest.raises(xpnn.DataNotFoundError) as e:
        xpnn.load_mnist(data_dir=tmp_path, download=False)
    message = str(e.value)
    assert f"Missing from the data directory {tmp_path}: " in message
    for name in ("train-images-idx3-ubyte.gz", "train-labels", "t10k-images", "t10k-labels-idx1-ubyte.gz"):
        assert f"mnist/{name}" in message
    assert message.endswith(
        "\nWith only the test files, load the test set alone: load_mnist(..., split='test')."
    )


def test_with_the_training_files_at_hand_the_message_has_no_hint(tiny) -> None:
    """The split='test' hint is for a missing training set only."""
    root, _ = tiny
    (root / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(xpnn.DataNotFoundError) as e:
        xpnn.load_mnist(data_dir=root, download=False)
    assert str(e.value).startswith(
        f"Missing from the data directory {root}: mnist/t10k-labels-idx1-ubyte.gz.\n"
    )
    assert str(e.value).endswith(" or set XPNN_DATA_DIR=DIR.")


def test_only_the_test_files_load_the_test_split(tiny) -> None:
    root, _ = tiny
    (root / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    x, _ = xpnn.load_mnist(split="test", data_dir=root, download=False)
    assert x.shape == (N, 784)
    with pytest.raises(xpnn.DataNotFoundError, match="train-images-idx3-ubyte.gz"):
        xpnn.load_mnist(data_dir=root, download=False)


def test_bad_split() -> None:
    with pytest.raises(ValueError, match="split must be"):
        xpnn.load_mnist(split="validation")  # type: ignore[arg-type]


# --- the parser ------------------------------------------------------------------------------


def _images(n: int = 3) -> np.ndarray:
    return np.arange(n * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(n, 28, 28)


def test_read_idx_round_trip(tmp_path: Path) -> None:
    images = _images()
    np.testing.assert_array_equal(idx.read_idx(write_idx_gz(tmp_path / "a.gz", images), (3, 28, 28)), images)


@pytest.mark.parametrize(
    "shape",
    [(5,), (2, 3), (0, 1 << 24), (2, 1, 1, 300), (1, 1, 1, 2, 2)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_read_idx_reads_every_dimension_in_full(tmp_path: Path, shape: tuple[int, ...]) -> None:
    """IDX dimensions are 32-bit big-endian, one to each dimension, however many there are."""
    array = np.arange(math.prod(shape), dtype=np.uint8).reshape(shape)
    path = write_idx_gz(tmp_path / "a.gz", array)
    for expected in (None, shape):
        read = idx.read_idx(path, expected)
        assert read.shape == shape and read.dtype == np.uint8
        np.testing.assert_array_equal(read, array)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<!DOCTYPE html><html><body>403 Forbidden</body></html>", "looks like an HTML page"),
        (b"\n  <html><head><title>Sign in</title></head></html>", "looks like an HTML page"),
        # pages without an <html> tag: HTML5, an S3 error (XML), fragments a proxy sends
        (b"<!DOCTYPE html><title>429 Too Many Requests</title>", "looks like an HTML page"),
        (b'\r\n<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', "looks like an HTML page"),
        (b"<head><title>502 Bad Gateway</title></head>", "looks like an HTML page"),
        (b"<body>Service unavailable</body>", "looks like an HTML page"),
        (b"PK\x03\x04 a zip file", "not gzip-compressed"),
        # only the first 512 bytes are looked at: "<html" there is a page, beyond them it is not
        (b"x" * 507 + b"<html>", "looks like an HTML page"),
        (b"x" * 508 + b"<html>", "not gzip-compressed"),
        (gzip.compress(idx_bytes(_images()))[:-30], "broken gzip stream"),
        (gzip.compress(b"\x00\x00"), "too short for an IDX header"),
        (gzip.compress(idx_bytes(_images(), magic=b"\x00\x00\x0d\x03")), "IDX magic number 0x00000d03"),
        (gzip.compress(idx_bytes(_images(), magic=b"\x01\x00\x08\x03")), "IDX magic number"),
        (gzip.compress(idx_bytes(_images(), magic=b"\x00\x00\x08\x02", dims=(3, 784))), "has 2 dimensions"),
        (
            gzip.compress(idx_bytes(_images(), dims=(3, 28, 27))),
            r"shape \(3, 28, 27\).*expected \(3, 28, 28\)",
        ),
        (gzip.compress(idx_bytes(_images(), dims=(4, 28, 28))), r"shape \(4, 28, 28\)"),
        (gzip.compress(idx_bytes(_images())[:-5]), "holds 2347 bytes of data; its header announces 2352"),
        (gzip.compress(idx_bytes(_images()) + b"extra"), "holds more than the 2352 bytes of data"),
        (gzip.compress(b"\x00\x00\x08\x03\x00\x00"), "ends inside its IDX header"),
    ],
    # gzip stamps the time into its header: ids made from the bytes would differ between collections.
    ids=lambda v: v if isinstance(v, str) else "bytes",
)
def test_read_idx_rejects_bad_files_naming_them(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(xpnn.DataError, match=message) as e:
        idx.read_idx(path, (3, 28, 28))
    assert str(path) in str(e.value)


def test_html_page_is_reported_and_never_cached(tiny) -> None:
    root, _ = tiny
    page = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    page.write_bytes(b"<!doctype html>\n<html><body>Rate limit exceeded</body></html>\n")
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_mnist(split="test", data_dir=root)
    assert str(e.value) == (
        f"{page} looks like an HTML page, not MNIST data (a download that returned an error or"
        " login page). Delete it or re-download it."
    )
    assert not list((xpnn.io.cache_dir() / "mnist").glob("t10k-images*"))


@pytest.mark.parametrize("verify", [True, False])
def test_a_file_of_another_shape_is_refused_even_unverified(tiny, verify: bool) -> None:
    """The header's shape must be MNIST's (here the tiny set's): a valid IDX file of 13 images is not it."""
    root, _ = tiny
    path = write_idx_gz(root / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((N + 1, 28, 28), np.uint8))
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_mnist(split="test", data_dir=root, verify=verify)
    assert str(e.value) == f"{path} has shape ({N + 1}, 28, 28) in its IDX header; expected ({N}, 28, 28)"


def test_wrong_hash_is_refused_and_not_cached(tiny) -> None:
    root, _ = tiny
    write_idx_gz(
        root / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(N, dtype=np.uint8)
    )  # valid, but not ours
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_mnist(split="test", data_dir=root)
    assert str(e.value) == (
        f"{path} decodes, but its SHA-256 is {sha256(path)}, not the MNIST file's"
        f" {mnist.MNIST_FILES[('test', 'labels')][0].sha256}. Delete it or re-download it (or pass"
        " verify=False to use a file of your own)."
    )
    assert not list((xpnn.io.cache_dir() / "mnist").glob("t10k-labels*"))
    _, t = xpnn.load_mnist(split="test", data_dir=root, verify=False)  # a file of one's own
    np.testing.assert_array_equal(t, np.zeros(N))


# --- the cache -------------------------------------------------------------------------------


def test_second_load_reads_the_cache_and_a_changed_source_invalidates_it(tiny) -> None:
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root)
    cached = sorted((xpnn.io.cache_dir() / "mnist").glob("t10k-*.npy"))
    assert len(cached) == 2
    np.testing.assert_array_equal(np.load(cached[0], allow_pickle=False), arrays["t10k-images"])

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is current")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(idx, "_parse_idx", no_decoding)
        xpnn.load_mnist(split="test", data_dir=root)

    new = np.full(N, 3, dtype=np.uint8)
    write_idx_gz(root / "mnist" / "t10k-labels-idx1-ubyte.gz", new)
    _, t = xpnn.load_mnist(split="test", data_dir=root, verify=False)
    np.testing.assert_array_equal(t, new)
    assert len(list((xpnn.io.cache_dir() / "mnist").glob("t10k-labels*.npy"))) == 2, (
        "the old version's entry stays beside the new one (a few per name; another data directory"
        " may still hold it)"
    )


@pytest.mark.parametrize("verify", [True, False])
def test_cache_entries_are_named_by_the_sources_sha256_and_their_own_crc(tiny, verify: bool) -> None:
    """<file>-<SHA-256 of the source file>-<CRC-32 of the entry>.npy, one per file."""
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root, verify=verify)
    expected = set()
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        buffer = io.BytesIO()
        np.save(buffer, arrays[stem.split("-idx")[0]], allow_pickle=False)
        crc = zlib.crc32(buffer.getvalue())
        expected.add(f"{stem}-{sha256(root / 'mnist' / f'{stem}.gz')}-{crc:08x}.npy")
    assert {p.name for p in (xpnn.io.cache_dir() / "mnist").iterdir()} == expected


def test_cached_labels_of_every_digit_0_to_9_are_served_from_the_cache(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = tiny
    labels = np.arange(N, dtype=np.uint8) % 10  # 0..9 and 0, 1: the 9s too
    write_idx_gz(root / "mnist" / "t10k-labels-idx1-ubyte.gz", labels)
    xpnn.load_mnist(split="test", data_dir=root, verify=False)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is current")

    monkeypatch.setattr(idx, "_parse_idx", no_decoding)
    _, t = xpnn.load_mnist(split="test", data_dir=root, verify=False)
    np.testing.assert_array_equal(t, labels)


def test_a_rewrite_in_place_that_keeps_the_size_and_the_mtime_is_decoded_again(tiny) -> None:
    """Issue 24: a file rewritten with its old modification time was served from the cache of its
    old content. The cache key is the content's SHA-256, not the size and mtime."""
    root, _ = tiny
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    write_idx_gz(path, np.full(N, 3, dtype=np.uint8), compresslevel=0)
    _, t = xpnn.load_mnist(split="test", data_dir=root, verify=False)
    np.testing.assert_array_equal(t, np.full(N, 3))
    before = path.stat()
    write_idx_gz(path, np.full(N, 4, dtype=np.uint8), compresslevel=0)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns), "the test needs both"
    _, t = xpnn.load_mnist(split="test", data_dir=root, verify=False)
    np.testing.assert_array_equal(t, np.full(N, 4))


def test_two_data_directories_with_files_of_the_same_size_and_mtime_each_get_their_own(
    tiny, tmp_path: Path
) -> None:
    """Issue 24: the second directory got the first one's labels from the cache."""
    import shutil

    root, _ = tiny
    other = tmp_path / "other"
    shutil.copytree(root, other)
    name = "mnist/t10k-labels-idx1-ubyte.gz"
    first, second = np.arange(N, dtype=np.uint8) % 10, (np.arange(N, dtype=np.uint8) + 1) % 10
    write_idx_gz(root / name, first, compresslevel=0)
    write_idx_gz(other / name, second, compresslevel=0)
    st = (root / name).stat()
    os.utime(other / name, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert ((other / name).stat().st_size, (other / name).stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    _, t1 = xpnn.load_mnist(split="test", data_dir=root, verify=False)
    _, t2 = xpnn.load_mnist(split="test", data_dir=other, verify=False)
    np.testing.assert_array_equal(t1, first)
    np.testing.assert_array_equal(t2, second)


def test_an_unverified_load_does_not_vouch_for_a_verified_one(tiny) -> None:
    """verify=False first caches a file of one's own; verify=True afterwards still checks the hash."""
    root, _ = tiny
    write_idx_gz(root / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(N, dtype=np.uint8))
    _, t = xpnn.load_mnist(split="test", data_dir=root, verify=False)
    np.testing.assert_array_equal(t, np.zeros(N))
    with pytest.raises(xpnn.DataError, match="SHA-256"):
        xpnn.load_mnist(split="test", data_dir=root)


def _plant(entry: Path, array: np.ndarray) -> Path:
    """Replace the cache entry ``entry`` by ``array`` under a name with its correct CRC-32."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    entry.unlink()
    planted = entry.with_name(f"{entry.stem.rsplit('-', 1)[0]}-{zlib.crc32(buffer.getvalue()):08x}.npy")
    planted.write_bytes(buffer.getvalue())
    return planted


@pytest.mark.parametrize(
    "wrong",
    [np.zeros(N + 1, dtype=np.uint8), np.zeros((N, 1), dtype=np.uint8), np.zeros(N, dtype=np.int8)],
    ids=["longer", "2-d", "int8"],
)
def test_a_cache_entry_of_the_wrong_shape_or_dtype_is_not_returned(tiny, wrong: np.ndarray) -> None:
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root)
    (entry,) = (xpnn.io.cache_dir() / "mnist").glob("t10k-labels*.npy")
    planted = _plant(entry, wrong)  # a valid .npy with a valid checksum, of the wrong array
    _, t = xpnn.load_mnist(split="test", data_dir=root)
    np.testing.assert_array_equal(t, arrays["t10k-labels"])
    assert t.dtype == np.uint8
    assert not planted.exists(), "the wrong entry is replaced"


def test_a_cache_entry_whose_bytes_changed_is_decoded_again(tiny) -> None:
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root)
    (entry,) = (xpnn.io.cache_dir() / "mnist").glob("t10k-labels*.npy")
    raw = bytearray(entry.read_bytes())
    raw[-1] ^= 1  # the last label becomes another digit: shape, dtype and range all still fine
    entry.write_bytes(bytes(raw))
    _, t = xpnn.load_mnist(split="test", data_dir=root)
    np.testing.assert_array_equal(t, arrays["t10k-labels"])
    np.testing.assert_array_equal(np.load(entry, allow_pickle=False), arrays["t10k-labels"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_in_the_cache_is_not_read(tiny) -> None:
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root)
    (entry,) = (xpnn.io.cache_dir() / "mnist").glob("t10k-labels*.npy")
    entry.unlink()
    os.mkfifo(entry)  # reading it would block forever
    _, t = xpnn.load_mnist(split="test", data_dir=root)
    np.testing.assert_array_equal(t, arrays["t10k-labels"])


def test_labels_outside_0_to_9_are_refused_even_unverified(tiny) -> None:
    root, _ = tiny
    labels = np.arange(N, dtype=np.uint8) % 10
    labels[5], labels[7] = 255, 10
    write_idx_gz(root / "mnist" / "t10k-labels-idx1-ubyte.gz", labels)
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_mnist(split="test", data_dir=root, verify=False)
    assert str(e.value) == (
        f"{path} has label 255 at index 5 (2 labels in all are outside 0..9); MNIST labels are digits 0 to 9"
    )
    assert not list((xpnn.io.cache_dir() / "mnist").glob("t10k-labels*"))


@pytest.mark.parametrize("label", [10, 255])
def test_cached_labels_outside_0_to_9_are_not_returned(tiny, label: int) -> None:
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root)
    (entry,) = (xpnn.io.cache_dir() / "mnist").glob("t10k-labels*.npy")
    _plant(entry, np.full(N, label, dtype=np.uint8))
    _, t = xpnn.load_mnist(split="test", data_dir=root)
    np.testing.assert_array_equal(t, arrays["t10k-labels"])


def test_a_damaged_cache_entry_is_replaced(tiny) -> None:
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root)
    for entry in (xpnn.io.cache_dir() / "mnist").glob("t10k-images*.npy"):
        entry.write_bytes(b"garbage")
    x, _ = xpnn.load_mnist(split="test", data_dir=root, normalize=False)
    np.testing.assert_array_equal(x, arrays["t10k-images"].reshape(N, 784))


def test_a_stale_entry_another_process_removed_meanwhile_does_not_stop_caching(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two loads at once may both find an old entry; the second one's removal finds it gone."""
    root, _ = tiny
    cache = xpnn.io.cache_dir() / "mnist"
    real_glob = Path.glob

    def glob_listing_a_vanished_entry(self: Path, pattern: str):
        yield from real_glob(self, pattern)
        if pattern.startswith("t10k-labels"):
            yield self / f"t10k-labels-idx1-ubyte-{0:064x}-00000000.npy"  # listed, then removed

    monkeypatch.setattr(Path, "glob", glob_listing_a_vanished_entry)
    xpnn.load_mnist(split="test", data_dir=root)
    monkeypatch.undo()
    assert len(list(cache.glob("t10k-labels*.npy"))) == 1, "the new entry is written all the same"


def test_a_damaged_entry_in_a_read_only_cache_is_decoded_again_each_time(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root)
    (entry,) = (xpnn.io.cache_dir() / "mnist").glob("t10k-labels*.npy")
    entry.write_bytes(b"garbage")
    real_unlink = Path.unlink

    def read_only(self: Path, missing_ok: bool = False) -> None:  # tests run as root: chmod would not do
        if self.parent == entry.parent:
            raise PermissionError(13, "Permission denied", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    monkeypatch.setattr(idx, "write_atomic", lambda path, write: read_only(path))
    for _ in range(2):
        _, t = xpnn.load_mnist(split="test", data_dir=root)
        np.testing.assert_array_equal(t, arrays["t10k-labels"])
    assert entry.read_bytes() == b"garbage"


def test_the_data_directory_is_only_read(tiny) -> None:
    root, _ = tiny
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    xpnn.load_mnist(data_dir=root)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_an_unwritable_cache_is_skipped(tiny, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root, arrays = tiny
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XPNN_CACHE_DIR", str(blocker))  # mkdir below a file fails, even for root
    _, t = xpnn.load_mnist(split="test", data_dir=root)
    np.testing.assert_array_equal(t, arrays["t10k-labels"])


def test_two_processes_filling_the_cache_at_once(tiny, tmp_path: Path) -> None:
    root, arrays = tiny
    cache = tmp_path / "shared-cache"
    code = textwrap.dedent(
        f"""
        import hashlib, os, pathlib
        import numpy as np, xpnn
        from xpnn.io import mnist
        from xpnn.io import RemoteFile
        root = pathlib.Path({str(root)!r}) / "mnist"
        mnist.MNIST_FILES = {{
            k: (RemoteFile(r.name, hashlib.sha256((root / r.name).read_bytes()).hexdigest(), ()), ({N}, *s[1:]))
            for k, (r, s) in mnist.MNIST_FILES.items()
        }}
        for _ in range(20):
            x, t = xpnn.load_mnist(split="test", data_dir={str(root)!r}, normalize=False)
        np.save({str(tmp_path)!r} + "/out-%d.npy" % os.getpid(), x)
        """
    )
    env = {"XPNN_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen([sys.executable, "-W", "error", "-c", code], env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    for out in tmp_path.glob("out-*.npy"):
        np.testing.assert_array_equal(np.load(out), arrays["t10k-images"].reshape(N, 784))
    for entry in (cache / "mnist").glob("*.npy"):
        np.load(entry, allow_pickle=False)  # every entry left behind is complete
    assert not list((cache / "mnist").glob(".*.tmp")), "no temporary files are left behind"


# --- the real files --------------------------------------------------------------------------


def test_real_test_set(real_data_dir: Path) -> None:
    x, t = xpnn.load_mnist(split="test", data_dir=real_data_dir, download=False)
    assert x.shape == (10000, 784) and x.dtype == np.float32 and x.min() >= 0 and x.max() == 1.0
    assert t.shape == (10000,) and set(np.unique(t)) == set(range(10))


# --- hostile and faulty files ------------------------------------------------------------------


def test_a_declared_size_above_the_limit_is_refused_before_decompressing(tmp_path: Path) -> None:
    path = tmp_path / "big.gz"
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (100_000, 100, 100))
    path.write_bytes(gzip.compress(header + b"\0" * 1000))
    with pytest.raises(xpnn.DataError, match=r"declares 1,000,000,000 bytes of data.*more than the limit"):
        idx.read_idx(path)
    with pytest.raises(xpnn.DataError, match="holds 1000 bytes of data; its header announces 1000000000"):
        idx.read_idx(path, max_bytes=10**9)


def test_a_file_larger_than_its_declared_data_can_compress_to_is_refused(tmp_path: Path) -> None:
    path = write_idx_gz(tmp_path / "padded.gz", _images())
    path.write_bytes(path.read_bytes() + b"\0" * 100_000)  # gzip readers skip zero padding, slowly
    with pytest.raises(xpnn.DataError, match="more than any gzip stream of the 2,352 bytes"):
        idx.read_idx(path, (3, 28, 28))


@pytest.mark.parametrize("count", [100, 20_000, (1 << 25) + 1000])
def test_a_file_exactly_as_large_as_a_gzip_stream_of_its_data_can_be_is_read_on(
    tmp_path: Path, count: int
) -> None:
    """The size limit is zlib's deflateBound of the IDX bytes plus 64 KiB for gzip's own fields:
    a file of exactly that size is decompressed, one byte more is refused before that."""
    n = 4 + 4 + count  # the header of a 1-D file, then its data
    bound = n + (n >> 12) + (n >> 14) + (n >> 25) + (1 << 16)
    member = gzip.compress(bytes([0, 0, 8, 1]) + count.to_bytes(4, "big"), mtime=0)  # the data is missing
    path = tmp_path / "padded.gz"
    for size, message in [
        (bound, "is a broken gzip stream"),  # read on: the byte after the member is not gzip
        (bound + 1, f"is {bound + 1:,} bytes, more than any gzip stream of the {count:,} bytes its header"),
    ]:
        with path.open("wb") as f:
            f.write(member + b"\x01")
            f.truncate(size)  # sparse: the big case takes no room
        with pytest.raises(xpnn.DataError, match=f"^{path} {message}"):
            idx.read_idx(path)


def test_decompression_stops_one_byte_past_the_declared_size(tmp_path: Path) -> None:
    """In-process twin of the bomb test below: 64 MiB behind a header declaring 1 MB costs ~1 MB."""

    def chunk(data: bytes) -> bytes:  # a self-contained piece of a raw deflate stream
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    count = 1_000_000
    body = chunk(bytes([0, 0, 8, 1]) + count.to_bytes(4, "big")) + chunk(bytes(1 << 20)) * 64
    path = tmp_path / "bomb.gz"
    path.write_bytes(
        gzip.compress(b"")[:10] + body + zlib.compressobj(9, zlib.DEFLATED, -15).flush() + bytes(8)
    )
    tracemalloc.start()
    try:
        with pytest.raises(xpnn.DataError, match=f"^{path} holds more than the {count} bytes of data"):
            idx.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16e6, peak


def _bytes_read() -> int | None:
    """Bytes this process has read from files so far (Linux's /proc/self/io), else None."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return None
    return int(fields["rchar"])


@pytest.mark.parametrize("data", ["data", "no-data"])
def test_many_empty_gzip_members_are_refused_after_a_number_bounded_by_the_declared_size(
    tmp_path: Path, data: str
) -> None:
    """Issue 24: a 47 MB file of empty gzip members took 17 s to refuse, each member costing the
    gzip module microseconds. Here 159,000 members behind a header declaring 3,136,016 bytes (a
    file within the size a gzip stream of that much can have): only the first few hundred are
    read. A byte after the first 4,000 that is not gzip would be "a broken gzip stream"."""
    shape = (4000, 28, 28)
    first = idx_bytes(np.zeros(shape, np.uint8)) if data == "data" else idx_bytes(np.zeros(0), dims=shape)
    empty = gzip.compress(b"", mtime=0)
    path = tmp_path / "members.gz"
    path.write_bytes(gzip.compress(first, mtime=0) + empty * 4000 + b"\x01" + empty * 155_000)
    size = path.stat().st_size
    before = _bytes_read()
    with pytest.raises(xpnn.DataError, match=f"^{path} holds more gzip members than"):
        idx.read_idx(path, shape)
    after = _bytes_read()
    if before is not None and after is not None:
        assert after - before < size // 4, (after - before, size)


def test_a_file_of_several_members_with_zero_padding_between_reads_as_one(tmp_path: Path) -> None:
    """As the gzip module reads them: members one after another (bgzip-style, with an empty one
    at the end), zero bytes between and after them."""
    images = _images(20)
    raw = idx_bytes(images)
    pieces = [raw[i : i + 1000] for i in range(0, len(raw), 1000)]
    path = tmp_path / "members.gz"
    path.write_bytes(b"\0\0".join(gzip.compress(p, mtime=0) for p in pieces) + gzip.compress(b"") + bytes(7))
    np.testing.assert_array_equal(idx.read_idx(path, images.shape), images)


BOMB = textwrap.dedent(
    """
    import gzip, pathlib, resource, sys, time, tracemalloc, zlib
    import xpnn

    def chunk(data):  # a self-contained piece of a raw deflate stream (full flush: no history)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    root = pathlib.Path(sys.argv[1])
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (10000, 28, 28))
    zeros = chunk(bytes(1 << 20))  # 1 MiB of zeros in about 1 kB
    body = chunk(header) + zeros * 1024 + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    bomb = gzip.compress(b"")[:10] + body + bytes(8)  # 1 GiB behind a valid MNIST header
    (root / "mnist").mkdir()
    (root / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(bomb)
    labels = bytes([0, 0, 8, 1]) + (10000).to_bytes(4, "big") + bytes(10000)
    (root / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    try:
        xpnn.load_mnist(split="test", data_dir=root, verify=sys.argv[2] == "verify", download=False)
    except xpnn.DataError as e:
        print("refused", str(e).replace(str(root), "<root>"))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(len(bomb), seconds, peak, grown)
    """
)


@pytest.mark.parametrize("verify", ["verify", "no-verify"])
def test_a_gzip_bomb_behind_a_valid_header_is_refused_cheaply(tmp_path: Path, verify: str) -> None:
    (tmp_path / "data").mkdir()
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", BOMB, str(tmp_path / "data"), verify],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XPNN_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr
    message, numbers = result.stdout.splitlines()
    assert message.startswith("refused <root>/mnist/t10k-images-idx3-ubyte.gz holds more than the 7840000")
    size, seconds, peak, grown = map(float, numbers.split())
    assert size < 2e6  # the bomb: about 1 MB on disk, 1 GiB inflated
    assert peak < 100e6 and grown < 100e6, (peak, grown)  # a genuine test file decodes to 7.8 MB
    assert seconds < 10  # generous: on an idle machine this takes a few milliseconds


def test_a_symlink_loop_is_named(tiny) -> None:
    root, _ = tiny
    path = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.unlink()
    path.symlink_to(path.name)
    with pytest.raises(xpnn.DataError, match=f"{path} is a symbolic link loop"):
        xpnn.load_mnist(split="test", data_dir=root)


def test_a_broken_symlink_is_named(tiny) -> None:
    root, _ = tiny
    path = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    path.unlink()
    path.symlink_to(root / "elsewhere.gz")
    with pytest.raises(xpnn.DataError, match=f"{path} is a broken symbolic link"):
        xpnn.load_mnist(split="test", data_dir=root, download=False)


def test_a_directory_where_a_file_should_be_is_named(tiny) -> None:
    root, _ = tiny
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.unlink()
    path.mkdir()
    with pytest.raises(xpnn.DataError, match=f"{path} is a directory where a data file should be"):
        xpnn.load_mnist(split="test", data_dir=root)
    with pytest.raises(xpnn.DataError, match=f"{path} is a directory"):
        idx.read_idx(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_not_opened(tiny) -> None:
    root, _ = tiny
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.unlink()
    os.mkfifo(path)  # opening it for reading would block forever
    with pytest.raises(xpnn.DataError, match=f"{path} is not a regular file"):
        xpnn.load_mnist(split="test", data_dir=root)


def test_an_unreadable_file_is_named(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may run as root, who reads any file: the refusal is simulated where it happens."""
    root, _ = tiny
    path = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    real_open = open

    def guarded_open(file, *args, **kwargs):
        if Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(xpnn.io._paths, "open", guarded_open, raising=False)
    with pytest.raises(xpnn.DataError, match=f"{path} cannot be read \\(Permission denied\\)"):
        xpnn.load_mnist(split="test", data_dir=root)


def test_a_fortran_ordered_cache_entry_is_not_read_as_c_ordered(tiny) -> None:
    """Mutation testing: an entry with the right shape and dtype but in Fortran order is decoded again."""
    root, arrays = tiny
    xpnn.load_mnist(split="test", data_dir=root, normalize=False, flatten=False)
    (entry,) = (xpnn.io.cache_dir() / "mnist").glob("t10k-images*.npy")
    cached = np.load(entry, allow_pickle=False)
    assert cached.ndim > 1, "in one dimension both orders are the same"
    planted = _plant(entry, np.asfortranarray(cached))  # valid .npy, valid checksum, fortran_order True
    x, _ = xpnn.load_mnist(split="test", data_dir=root, normalize=False, flatten=False)
    np.testing.assert_array_equal(x.reshape(arrays["t10k-images"].shape), arrays["t10k-images"])
    assert not planted.exists(), "the Fortran-ordered entry is replaced"


# --- the attack report: a rewrite between hashing and parsing, the cache per name, options -----


class RewrittenOnceRead:
    """An open file that, once read to its end, has its file rewritten in place with ``new``
    (another writer, right after xpnn read it): a deterministic stand-in for the race."""

    def __init__(self, f, path: Path, new: bytes) -> None:
        self.f, self.path, self.new, self.rewritten = f, path, new, False

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if not self.rewritten and self.f.tell() >= os.fstat(self.f.fileno()).st_size:
            self.rewritten = True
            with open(self.path, "r+b") as w:
                w.write(self.new)
                w.truncate()
        return data

    def __getattr__(self, name: str):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def test_a_file_rewritten_after_it_was_hashed_is_not_cached_under_the_old_hash(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack 2: the file was hashed in one read and parsed in a second one; a rewrite between
    the two cached the new content under the pinned SHA-256, served to every later verified load."""
    root, arrays = tiny
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    genuine = path.read_bytes()
    evil = gzip.compress(idx_bytes(np.full(N, 7, dtype=np.uint8)), mtime=0)
    opened: list[RewrittenOnceRead] = []
    real_open = idx.open_data_file

    def racing_open(p: Path):
        f = real_open(p)
        if p == path:
            opened.append(RewrittenOnceRead(f, p, evil))
            return opened[-1]
        return f

    monkeypatch.setattr(idx, "open_data_file", racing_open)
    _, t = xpnn.load_mnist(split="test", data_dir=root)
    assert opened and all(f.rewritten for f in opened), "the file was rewritten while it was loaded"
    np.testing.assert_array_equal(t, arrays["t10k-labels"])  # what was hashed is what was parsed
    monkeypatch.setattr(idx, "open_data_file", real_open)
    path.write_bytes(genuine)
    _, t = xpnn.load_mnist(split="test", data_dir=root)
    np.testing.assert_array_equal(t, arrays["t10k-labels"])
    path.write_bytes(evil)
    with pytest.raises(xpnn.DataError, match="SHA-256"):
        xpnn.load_mnist(split="test", data_dir=root)


def test_files_of_one_name_in_several_directories_each_keep_their_cache_entry(
    tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attack 9: one entry per file name: two directories took turns decoding again."""
    import shutil

    root, _ = tiny
    other = tmp_path / "other"
    shutil.copytree(root, other)
    name = "mnist/t10k-labels-idx1-ubyte.gz"
    first, second = np.arange(N, dtype=np.uint8) % 10, (np.arange(N, dtype=np.uint8) + 1) % 10
    write_idx_gz(root / name, first)
    write_idx_gz(other / name, second)
    xpnn.load_mnist(split="test", data_dir=root, verify=False)
    xpnn.load_mnist(split="test", data_dir=other, verify=False)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache holds it")

    monkeypatch.setattr(idx, "_parse_idx", no_decoding)
    for directory, labels in [(root, first), (other, second), (root, first)]:
        _, t = xpnn.load_mnist(split="test", data_dir=directory, verify=False)
        np.testing.assert_array_equal(t, labels)


def test_a_file_name_keeps_a_few_cache_entries_not_one_per_version(tiny) -> None:
    root, _ = tiny
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    for version in range(7):
        labels = (np.arange(N, dtype=np.uint8) + version) % 10
        write_idx_gz(path, labels)
        _, t = xpnn.load_mnist(split="test", data_dir=root, verify=False)
        np.testing.assert_array_equal(t, labels)
    entries = {p.name for p in (xpnn.io.cache_dir() / "mnist").glob("t10k-labels-*.npy")}
    assert len(entries) == idx._CACHE_ENTRIES_PER_NAME, entries
    assert any(sha256(path) in name for name in entries), "the newest is kept"


@pytest.mark.parametrize("max_bytes", [math.nan, None, "1000", True, False, 0, -1, 1.5, 1e9])
def test_read_idx_max_bytes_must_be_a_positive_integer(tmp_path: Path, max_bytes: object) -> None:
    """Attack 10: max_bytes=nan switched the limit off."""
    path = write_idx_gz(tmp_path / "f.gz", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"read_idx: max_bytes must be a positive integer .*; got "):
        idx.read_idx(path, max_bytes=max_bytes)  # type: ignore[arg-type]
    np.testing.assert_array_equal(idx.read_idx(path, max_bytes=np.int64(5)), np.zeros(5))
    with pytest.raises(xpnn.DataError, match="more than the limit of 4"):
        idx.read_idx(path, max_bytes=4)


@pytest.mark.parametrize("ndim", [33, 64, 65, 255])
def test_read_idx_refuses_more_dimensions_than_an_array_has_in_words(tmp_path: Path, ndim: int) -> None:
    """Attack 12: ndim > 64 raised NumPy's own ValueError from reshape."""
    path = write_idx_gz(tmp_path / "f.gz", np.zeros(1, np.uint8), dims=(1,) * ndim)
    with pytest.raises(
        xpnn.DataError, match=f"^{path} has {ndim} dimensions in its IDX header, more than the 32"
    ):
        idx.read_idx(path)


def test_a_data_file_at_most_as_large_as_a_gzip_stream_of_its_shape_can_be_is_read_on(
    tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_mnist's twin of the read_idx limit: a file of exactly the bound is decompressed, one
    byte more is refused; a file grown past the bound after it was measured is read only one byte
    past it."""
    root, _ = tiny
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    n = 4 + 4 + N  # the header of the labels' 1-D file, then its data
    bound = n + (n >> 12) + (n >> 14) + (n >> 25) + (1 << 16)
    member = gzip.compress(bytes([0, 0, 8, 1]) + N.to_bytes(4, "big"), mtime=0)  # the data is missing
    too_large = (
        f"^{path} is {bound + 1:,} bytes, more than any gzip stream of an IDX file of shape \\({N},\\)"
    )
    for size, message in [(bound, f"^{path} is a broken gzip stream"), (bound + 1, too_large)]:
        with path.open("wb") as f:
            f.write(member + b"\x01")
            f.truncate(size)
        with pytest.raises(xpnn.DataError, match=message):
            xpnn.load_mnist(split="test", data_dir=root, verify=False)
    with path.open("wb") as f:  # measured at the bound, read when 1,000 bytes longer
        f.write(member + b"\x01")
        f.truncate(bound + 1000)
    measured = os.stat_result((*os.stat(path)[:6], bound, *os.stat(path)[7:]))

    class _Os:
        def __getattr__(self, name: str) -> object:
            return getattr(os, name)

        @staticmethod
        def fstat(fd: int) -> os.stat_result:
            return measured

    monkeypatch.setattr(idx, "os", _Os())
    with pytest.raises(xpnn.DataError, match=too_large):
        xpnn.load_mnist(split="test", data_dir=root, verify=False)
