"""MNIST as the book loads it, but safe: verified downloads, validated parsing, no pickle.

``load_mnist(normalize=True, flatten=True, one_hot_label=False)`` returns the book's
``((x_train, t_train), (x_test, t_test))``:

============================  ===============================  ==========================
array                         shape                            dtype
============================  ===============================  ==========================
images, ``normalize=True``    ``(N, 784)``, or ``(N, 1, 28,   float32 in [0, 1]
                              28)`` with ``flatten=False``
images, ``normalize=False``   as above                         uint8 in [0, 255]
labels                        ``(N,)``                         uint8
labels, ``one_hot_label``     ``(N, 10)``                      float32, 0.0 or 1.0
============================  ===============================  ==========================

N is 60,000 for the training split and 10,000 for the test split.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import logging
import math
import os
import stat
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from ._backends import get_backend
from ._data import (
    DataError,
    RemoteFile,
    cache_dir,
    check_max_bytes,
    fetch_all,
    is_present,
    open_data_file,
    write_atomic,
)
from ._data import data_dir as resolve_data_dir
from .functions import one_hot

__all__ = ["MAX_IDX_BYTES", "MNIST_FILES", "MNIST_MIRRORS", "load_mnist", "read_idx"]

log = logging.getLogger("xpnn")

#: HTTPS mirrors, tried in order; the first is the one the book's own loader uses.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: (split, kind) -> the file, its SHA-256, and the shape its IDX header must give.
MNIST_FILES: dict[tuple[str, str], tuple[RemoteFile, tuple[int, ...]]] = {
    ("train", "images"): (
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            MNIST_MIRRORS,
        ),
        (60000, 28, 28),
    ),
    ("train", "labels"): (
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            MNIST_MIRRORS,
        ),
        (60000,),
    ),
    ("test", "images"): (
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            MNIST_MIRRORS,
        ),
        (10000, 28, 28),
    ),
    ("test", "labels"): (
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            MNIST_MIRRORS,
        ),
        (10000,),
    ),
}

_IDX_UBYTE = 0x08

#: The most data bytes an IDX file may declare when no shape is expected (MNIST's largest
#: file holds 47 MB); a larger declaration is refused before anything is decompressed.
MAX_IDX_BYTES = 1 << 28


def read_idx(
    path: str | os.PathLike[str],
    expected_shape: tuple[int, ...] | None = None,
    *,
    max_bytes: int = MAX_IDX_BYTES,
) -> np.ndarray:
    """Decode a gzip-compressed IDX file of unsigned bytes (the MNIST format), validating it all.

    The header is decompressed and checked first: the magic number (type ``0x08``, the number
    of dimensions), the dimensions against ``expected_shape`` (if given, else the declared size
    against ``max_bytes``, a positive integer) and the file's size against what a gzip stream of that much data can
    be. Only then is the rest decompressed, in a stream capped at the declared size plus one
    byte, so a gzip bomb costs no more than a genuine file; a file of more gzip members than
    16 and one per 4 KiB of that data is refused after them, not read to its end (empty members
    cost time, not bytes). Every problem raises
    :class:`DataError` naming the file and what was expected; an HTML page saved under the
    file's name is recognized and said to be one.

    >>> import gzip, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.gz"
    >>> _ = path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])))
    >>> read_idx(path, (3,))
    array([7, 2, 1], dtype=uint8)
    """
    max_bytes = check_max_bytes(max_bytes, "read_idx")
    path = Path(path)
    with open_data_file(path) as f:
        return _parse_idx(f, path, expected_shape, max_bytes)


#: The most dimensions an IDX file may declare (NumPy arrays have up to 32 in NumPy 1, 64 in 2).
_MAX_IDX_DIMS = 32

#: How many cache entries one file name keeps (versions from different data directories), the
#: least recently used removed beyond them.
_CACHE_ENTRIES_PER_NAME = 4

#: How much of the file is read at a time.
_CHUNK = 1 << 17


def _members_allowed(n: int) -> int:
    """How many gzip members a file of ``n`` decompressed bytes may have: 16, and one more per
    4 KiB (bgzip-style files have one per 64 KiB; MNIST's have one)."""
    return 16 + n // 4096


class _Members:
    """A gzip file (one member or several, zero padding between them allowed, as the gzip module
    reads them) decompressed on demand, refusing a file with more than ``allowed`` members.

    Every member costs a constant amount of work, however little it holds: a file of millions of
    empty members is refused after ``allowed`` of them, not read to its end.
    """

    def __init__(self, f: BinaryIO, path: Path, allowed: int) -> None:
        self.f, self.path, self.allowed = f, path, allowed
        self.members = 0
        self.inflate: Any = None  # the member being decompressed, None between members
        self.pending = b""  # compressed bytes read from the file, not yet decompressed
        self.ended = False

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the file)."""
        parts: list[bytes] = []
        while n > 0 and not self.ended:
            if self.inflate is None and not self._next_member():
                break
            if not self.pending:
                self.pending = self.f.read(_CHUNK)
                if not self.pending:
                    raise EOFError("the file ends inside a gzip member")
            data = self.inflate.decompress(self.pending, n)
            parts.append(data)
            n -= len(data)
            if self.inflate.eof:
                self.pending, self.inflate = self.inflate.unused_data, None
            else:
                self.pending = self.inflate.unconsumed_tail
        return b"".join(parts)

    def _next_member(self) -> bool:
        """Start the next member (after any zero padding); False at the end of the file."""
        self.pending = self.pending.lstrip(b"\0")
        while not self.pending:
            chunk = self.f.read(_CHUNK)
            if not chunk:
                self.ended = True
                return False
            self.pending = chunk.lstrip(b"\0")
        self.members += 1
        if self.members > self.allowed:
            raise DataError(
                f"{self.path} holds more gzip members than the {self.allowed:,} allowed (16, and one per"
                f" 4 KiB of the data its header announces): it is not what it should be"
            )
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer (CRC, size)
        return True


def _check_gzip_magic(raw: bytes, path: Path) -> None:
    """A :class:`DataError` unless ``raw`` (the file's first bytes) starts a gzip file; an HTML
    page is named as one."""
    if raw[:2] != b"\x1f\x8b":
        head = raw.lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head:
            raise DataError(
                f"{path} looks like an HTML page, not MNIST data (a download that returned an error or"
                f" login page). Delete it or re-download it."
            )
        raise DataError(f"{path} is not gzip-compressed (it does not start with the gzip magic bytes 1f 8b)")


def _parse_idx(
    f: BinaryIO,
    path: Path,
    expected_shape: tuple[int, ...] | None,
    max_bytes: int = MAX_IDX_BYTES,
) -> np.ndarray:
    """:func:`read_idx` on the open file ``f`` of ``path`` (named in the errors), from its start."""
    size = f.seek(0, io.SEEK_END)
    f.seek(0)
    _check_gzip_magic(f.read(512), path)
    f.seek(0)
    try:
        stream = _Members(f, path, _members_allowed(4 + 4 * 255))
        magic = stream.read(4)
        if len(magic) < 4:
            raise DataError(f"{path} holds {len(magic)} bytes once decompressed: too short for an IDX header")
        zero, dtype_code, ndim = int.from_bytes(magic[:2], "big"), magic[2], magic[3]
        if zero != 0 or dtype_code != _IDX_UBYTE:
            raise DataError(
                f"{path} has IDX magic number 0x{magic.hex()}; expected 0x0000 08 NN"
                f" (unsigned bytes, NN dimensions)"
            )
        if expected_shape is not None and ndim != len(expected_shape):
            raise DataError(f"{path} has {ndim} dimensions in its IDX header; expected {len(expected_shape)}")
        if ndim > _MAX_IDX_DIMS:
            raise DataError(
                f"{path} has {ndim} dimensions in its IDX header, more than the {_MAX_IDX_DIMS} an IDX"
                f" file xpnn reads may have: it is not what it should be"
            )
        dims = stream.read(4 * ndim)
        if len(dims) < 4 * ndim:
            raise DataError(f"{path} ends inside its IDX header")
        shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
        if expected_shape is not None and shape != expected_shape:
            raise DataError(f"{path} has shape {shape} in its IDX header; expected {expected_shape}")
        count = math.prod(shape)
        if count > max_bytes:
            raise DataError(
                f"{path} declares {count:,} bytes of data {shape}, more than the limit of {max_bytes:,}"
            )
        bound = _gzip_bound(4 + 4 * ndim + count)
        if size > bound:
            raise DataError(
                f"{path} is {size:,} bytes, more than any gzip stream of the {count:,} bytes its"
                f" header announces can be ({bound:,}): it is not what it should be"
            )
        stream.allowed = _members_allowed(4 + 4 * ndim + count)
        data = stream.read(count + 1)  # capped: a gzip bomb ends here, not in memory
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path} is a broken gzip stream ({e}); the file is truncated or corrupt. Delete it or re-download it."
        ) from e
    if len(data) > count:
        raise DataError(
            f"{path} holds more than the {count} bytes of data its header announces for shape {shape}"
        )
    if len(data) < count:
        raise DataError(
            f"{path} holds {len(data)} bytes of data; its header announces {count} for shape {shape}"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _gzip_bound(n: int) -> int:
    """An upper bound on the size of a gzip file of ``n`` bytes: deflate's worst case (stored
    blocks, zlib's ``deflateBound``) and room for gzip headers, their optional fields and a
    little zero padding."""
    return n + (n >> 12) + (n >> 14) + (n >> 25) + (1 << 16)


def _check_labels(labels: np.ndarray, source: object) -> None:
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise DataError(
            f"{source} has label {int(labels[bad[0]])} at index {int(bad[0])} ({bad.size} labels"
            f" in all are outside 0..9); MNIST labels are digits 0 to 9"
        )


def _decoded(path: Path, remote: RemoteFile, shape: tuple[int, ...], verify: bool) -> np.ndarray:
    """The decoded array of ``path``, from the ``.npy`` cache when it is current and intact.

    The file is read once, into memory; its SHA-256 is that of the bytes then parsed, so a file
    rewritten meanwhile can never be cached under the hash of its old content. A cache entry's
    name carries the SHA-256 of the source file's content (computed on every load, verified or
    not), so a source that changed in any way, or another file of the same
    name, size and modification time, is decoded again; it also carries the CRC-32 of the
    entry's bytes, checked on every read, so an entry changed after it was written is decoded
    again. Each file name keeps its few most recently used entries (files of that name in
    several data directories). Entries are written atomically, and only after the source has been fully validated
    (and, with ``verify``, its SHA-256 matched), so a bad file is never cached as good data.
    """
    stem = remote.name.removesuffix(".gz")
    directory = cache_dir() / "mnist"
    labels = len(shape) == 1
    with open_data_file(path) as f:
        raw = _read_source(f, path, shape)
    sha256 = hashlib.sha256(raw).hexdigest()  # of the very bytes parsed below: one read, no race
    if sha256 == remote.sha256 or not verify:
        cached = _read_cache(directory, f"{stem}-{sha256}", shape, labels)
        if cached is not None:
            return cached
    array = _parse_idx(io.BytesIO(raw), path, shape)
    if verify and sha256 != remote.sha256:
        raise DataError(
            f"{path} decodes, but its SHA-256 is {sha256}, not the MNIST file's {remote.sha256}."
            f" Delete it or re-download it (or pass verify=False to use a file of your own)."
        )
    if labels:
        _check_labels(array, path)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    entry = directory / f"{stem}-{sha256}-{zlib.crc32(buffer.getbuffer()):08x}.npy"
    try:
        write_atomic(entry, lambda out: out.write(buffer.getbuffer()))
        _evict(directory, stem, entry)
    except (OSError, DataError) as e:  # DataError: a directory, FIFO, ... where the entry goes
        log.info("not caching %s: %s", entry, e)  # a read-only cache: decode each time
    return array


def _evict(directory: Path, stem: str, keep: Path) -> None:
    """Remove the entries of file name ``stem`` beyond the most recently used few (``keep``,
    just written, is one of them)."""

    def used(entry: Path) -> float:
        try:
            return entry.stat().st_mtime
        except OSError:
            return 0.0

    others = sorted(
        (e for e in directory.glob(f"{glob.escape(stem)}-*.npy") if e != keep), key=used, reverse=True
    )
    for stale in others[_CACHE_ENTRIES_PER_NAME - 1 :]:
        stale.unlink(missing_ok=True)


def _read_source(f: BinaryIO, path: Path, shape: tuple[int, ...]) -> bytes:
    """The bytes of the open file ``f``, read only when it starts as gzip and is no larger than a
    gzip stream of an IDX file of ``shape`` can be (else the :class:`DataError` saying so)."""
    size, bound = os.fstat(f.fileno()).st_size, _gzip_bound(4 + 4 * len(shape) + math.prod(shape))
    raw = f.read(bound + 1) if size <= bound else f.read(512)  # one read: what is hashed is parsed
    _check_gzip_magic(raw[:512], path)
    if size > bound or len(raw) > bound:  # larger, or grown since it was measured
        raise DataError(
            f"{path} is {max(size, len(raw)):,} bytes, more than any gzip stream of an IDX file of shape"
            f" {shape} can be ({bound:,}): it is not what it should be"
        )
    return raw


def _read_cache(directory: Path, prefix: str, shape: tuple[int, ...], labels: bool) -> np.ndarray | None:
    """The array of an intact cache entry named ``<prefix>-<crc32>.npy``, else None.

    An entry whose bytes do not match the CRC-32 in its name, or that is not a C-ordered uint8
    array of ``shape`` (of digits, for labels), is removed (where the cache is writable).
    """
    for entry in sorted(directory.glob(f"{glob.escape(prefix)}-*.npy")):
        try:
            st = entry.stat()
            if not stat.S_ISREG(st.st_mode) or st.st_size > math.prod(shape) + 4096:
                raise ValueError("not a file the size of an entry of this shape")
            raw = entry.read_bytes()
            if f"{zlib.crc32(raw):08x}" != entry.stem.rsplit("-", 1)[1]:
                raise ValueError("its bytes changed after it was written")
            array = _npy_array(raw)
            if array.shape == shape and array.dtype == np.uint8 and not (labels and np.any(array > 9)):
                with contextlib.suppress(OSError):
                    os.utime(entry)  # recently used: the last an eviction removes
                return array
        except (OSError, ValueError):
            pass
        log.info("cache entry %s is damaged: decoding again", entry)
        with contextlib.suppress(OSError):
            entry.unlink(missing_ok=True)
    return None


def _npy_array(raw: bytes) -> np.ndarray:
    """The C-ordered array in the bytes of a ``.npy`` file, read in place (no copy)."""
    buffer = io.BytesIO(raw)
    version = np.lib.format.read_magic(buffer)
    read_header = (
        np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    )
    shape, fortran_order, dtype = read_header(buffer)
    if fortran_order or dtype.hasobject:
        raise ValueError("not a C-ordered array of plain values")
    count = math.prod(shape)
    if len(raw) - buffer.tell() != count * dtype.itemsize:
        raise ValueError("its size does not match its header")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=buffer.tell()).reshape(shape)


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    split: Literal["train", "test"] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool = True,
    backend: str | None = None,
    device: Any = None,
    progress: bool = False,
) -> Any:
    """Load MNIST as the book does: ``(x_train, t_train), (x_test, t_test)``.

    ``split="test"`` (or ``"train"``) loads and returns only that split, ``(x, t)``: with only
    the test files at hand, and no network, that still works. Shapes and dtypes are in the
    module's table.

    Missing files are downloaded into ``<data_dir>/mnist``; when some cannot be had (or with
    ``download=False``), one :class:`DataNotFoundError` names them all, the directory searched
    and how to fix it. Files are checked against their SHA-256 (``verify=False`` skips that, for
    files of your own in the same format; labels must be 0 to 9 all the same). Decoded arrays
    are cached as ``.npy`` files, keyed by the SHA-256 of the file's content and each with a
    CRC-32 checked on read, so a second load is fast. A ``data_dir`` one level too deep
    (``.../data/mnist`` holding the files) is refused, naming the parent directory meant.

    ``backend``/``device`` place the arrays there: bytes are uploaded, then normalized and
    one-hot encoded on the device.

    >>> (x_train, t_train), (x_test, t_test) = load_mnist()  # doctest: +SKIP
    >>> x_test.shape, x_test.dtype, t_test.shape  # doctest: +SKIP
    ((10000, 784), dtype('float32'), (10000,))
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be 'train', 'test' or None (both); got {split!r}")
    root = resolve_data_dir(data_dir)
    splits = [split] if split else ["train", "test"]
    keys = [(s, kind) for s in splits for kind in ("images", "labels")]
    needs_train = split is None and not all(
        is_present(root / "mnist" / MNIST_FILES[("train", kind)][0].name) for kind in ("images", "labels")
    )
    paths = fetch_all(
        [(MNIST_FILES[key][0], root / "mnist") for key in keys],
        root,
        download=download,
        progress=progress,
        hint="With only the test files, load the test set alone: load_mnist(..., split='test')."
        if needs_train
        else "",
        verify=False,  # _decoded checks each file's SHA-256 while it decodes it (unless verify=False)
    )
    arrays = {key: _decoded(path, *MNIST_FILES[key], verify) for key, path in zip(keys, paths)}
    result = [
        _prepare(
            arrays[(s, "images")], arrays[(s, "labels")], normalize, flatten, one_hot_label, backend, device
        )
        for s in splits
    ]
    return result[0] if split else tuple(result)


def _prepare(
    images: np.ndarray,
    labels: np.ndarray,
    normalize: bool,
    flatten: bool,
    one_hot_label: bool,
    backend: str | None,
    device: Any,
) -> tuple[Any, Any]:
    """Upload the bytes (a private, writable copy of the cache), then reshape, normalize and
    one-hot encode with the backend's own functions, on its device."""
    impl, dev = get_backend(backend or "numpy", device)
    xp = impl.load()
    shape = (images.shape[0], 784) if flatten else (images.shape[0], 1, 28, 28)
    x = xp.reshape(impl.asarray(np.array(images), dev), shape)
    if normalize:
        x = xp.astype(x, xp.float32) / 255.0
    t = impl.asarray(np.array(labels), dev)
    if one_hot_label:
        t = one_hot(t, 10, dtype=xp.float32, xp=xp)
    return x, t
