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
import gzip
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
    fetch_all,
    is_present,
    open_data_file,
    write_atomic,
)
from ._data import data_dir as resolve_data_dir

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
    against ``max_bytes``) and the file's size against what a gzip stream of that much data can
    be. Only then is the rest decompressed, in a stream capped at the declared size plus one
    byte, so a gzip bomb costs no more than a genuine file. Every problem raises
    :class:`DataError` naming the file and what was expected; an HTML page saved under the
    file's name is recognized and said to be one.

    >>> import gzip, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.gz"
    >>> _ = path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])))
    >>> read_idx(path, (3,))
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    with open_data_file(path) as f:
        return _parse_idx(f, path, expected_shape, max_bytes)


class _Hashing:
    """A file read through this is hashed on the way."""

    def __init__(self, f: BinaryIO, digest: Any) -> None:
        self.f, self.digest = f, digest

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.digest.update(data)
        return data


def _parse_idx(
    f: BinaryIO,
    path: Path,
    expected_shape: tuple[int, ...] | None,
    max_bytes: int = MAX_IDX_BYTES,
    digest: Any = None,
) -> np.ndarray:
    """:func:`read_idx` on the open file ``f`` of ``path`` (named in the errors); the whole file
    is fed to ``digest`` (a hashlib object), if given, in the same pass."""
    raw = f.read(512)
    if raw[:2] != b"\x1f\x8b":
        head = raw.lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head:
            raise DataError(
                f"{path} looks like an HTML page, not MNIST data (a download that returned an error or"
                f" login page). Delete it or re-download it."
            )
        raise DataError(f"{path} is not gzip-compressed (it does not start with the gzip magic bytes 1f 8b)")
    f.seek(0)
    source: Any = f if digest is None else _Hashing(f, digest)
    try:
        with gzip.GzipFile(fileobj=source, mode="rb") as stream:
            magic = stream.read(4)
            if len(magic) < 4:
                raise DataError(
                    f"{path} holds {len(magic)} bytes once decompressed: too short for an IDX header"
                )
            zero, dtype_code, ndim = int.from_bytes(magic[:2], "big"), magic[2], magic[3]
            if zero != 0 or dtype_code != _IDX_UBYTE:
                raise DataError(
                    f"{path} has IDX magic number 0x{magic.hex()}; expected 0x0000 08 NN"
                    f" (unsigned bytes, NN dimensions)"
                )
            if expected_shape is not None and ndim != len(expected_shape):
                raise DataError(
                    f"{path} has {ndim} dimensions in its IDX header; expected {len(expected_shape)}"
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
            size, bound = os.fstat(f.fileno()).st_size, _gzip_bound(4 + 4 * ndim + count)
            if size > bound:
                raise DataError(
                    f"{path} is {size:,} bytes, more than any gzip stream of the {count:,} bytes its"
                    f" header announces can be ({bound:,}): it is not what it should be"
                )
            data = stream.read(count + 1)  # capped: a gzip bomb ends here, not in memory
        if digest is not None:
            while source.read(1 << 20):
                pass
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

    A cache entry's name carries the source's size, modification time and whether it was
    verified, so a changed source is decoded again and an unverified load never vouches for a
    verified one; it also carries the CRC-32 of the entry's bytes, checked on every read, so an
    entry changed after it was written is decoded again. Entries are written atomically, and
    only after the source has been fully validated (and its SHA-256 checked), so a bad file is
    never cached as good data.
    """
    stem = remote.name.removesuffix(".gz")
    directory = cache_dir() / "mnist"
    labels = len(shape) == 1
    with open_data_file(path) as f:
        st = os.fstat(f.fileno())
        prefix = f"{stem}-{st.st_size}-{st.st_mtime_ns}-{'verified' if verify else 'unverified'}"
        cached = _read_cache(directory, prefix, shape, labels)
        if cached is not None:
            return cached
        digest = hashlib.sha256() if verify else None
        array = _parse_idx(f, path, shape, digest=digest)
    if digest is not None and digest.hexdigest() != remote.sha256:
        raise DataError(
            f"{path} decodes, but its SHA-256 is {digest.hexdigest()}, not the MNIST file's {remote.sha256}."
            f" Delete it or re-download it (or pass verify=False to use a file of your own)."
        )
    if labels:
        _check_labels(array, path)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    entry = directory / f"{prefix}-{zlib.crc32(buffer.getbuffer()):08x}.npy"
    try:
        for stale in directory.glob(f"{glob.escape(stem)}-*.npy"):
            if stale != entry:  # entries of an older version of the source
                stale.unlink(missing_ok=True)
        write_atomic(entry, lambda out: out.write(buffer.getbuffer()))
    except OSError as e:
        log.info("not caching %s: %s", entry, e)  # a read-only cache: decode each time
    return array


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
    are cached as ``.npy`` files, each with a CRC-32 checked on read, so a second load is fast.

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
        classes = xp.arange(10, dtype=t.dtype, device=dev)
        t = xp.astype(xp.expand_dims(t, axis=1) == classes, xp.float32)
    return x, t
