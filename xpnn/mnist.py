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

import gzip
import hashlib
import logging
import os
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._backends import get_backend
from ._data import DataError, DataNotFoundError, RemoteFile, cache_dir, fetch, write_atomic
from ._data import data_dir as resolve_data_dir

__all__ = ["MNIST_FILES", "MNIST_MIRRORS", "load_mnist", "read_idx"]

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


def read_idx(path: str | os.PathLike[str], expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Decode a gzip-compressed IDX file of unsigned bytes (the MNIST format), validating it all.

    Checks the gzip stream, the magic number (type ``0x08``, the number of dimensions), the
    dimensions against ``expected_shape`` (if given) and that the payload holds exactly the
    items the header announces. Every problem raises :class:`DataError` naming the file and what
    was expected; an HTML page saved under the file's name is recognized and said to be one.
    """
    path = Path(path)
    return _parse_idx(path.read_bytes(), path, expected_shape)


def _parse_idx(raw: bytes, path: Path, expected_shape: tuple[int, ...] | None) -> np.ndarray:
    """:func:`read_idx` on the bytes ``raw`` read from ``path`` (named in the errors)."""
    if raw[:2] != b"\x1f\x8b":
        head = raw[:512].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head:
            raise DataError(
                f"{path} looks like an HTML page, not MNIST data (a download that returned an error or"
                f" login page). Delete it or re-download it."
            )
        raise DataError(f"{path} is not gzip-compressed (it does not start with the gzip magic bytes 1f 8b)")
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path} is a broken gzip stream ({e}); the file is truncated or corrupt. Delete it or re-download it."
        ) from e
    if len(data) < 4:
        raise DataError(f"{path} holds {len(data)} bytes once decompressed: too short for an IDX header")
    zero, dtype_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or dtype_code != _IDX_UBYTE:
        raise DataError(
            f"{path} has IDX magic number 0x{data[:4].hex()}; expected 0x0000 08 NN"
            f" (unsigned bytes, NN dimensions)"
        )
    if expected_shape is not None and ndim != len(expected_shape):
        raise DataError(f"{path} has {ndim} dimensions in its IDX header; expected {len(expected_shape)}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} ends inside its IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if expected_shape is not None and shape != expected_shape:
        raise DataError(f"{path} has shape {shape} in its IDX header; expected {expected_shape}")
    count = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != count:
        raise DataError(
            f"{path} holds {len(data) - header} bytes of data; its header announces {count} ({shape})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _decoded(path: Path, remote: RemoteFile, shape: tuple[int, ...], verify: bool) -> np.ndarray:
    """The decoded array of ``path``, from the ``.npy`` cache when it is current.

    The cache entry's name carries the source's size and modification time, so a changed source
    is decoded again; an entry is written atomically, and only after the source has been fully
    validated (and its SHA-256 checked), so a bad file is never cached as good data.
    """
    stat = path.stat()
    key = f"{remote.name.removesuffix('.gz')}-{stat.st_size}-{stat.st_mtime_ns}{'' if verify else '-unverified'}.npy"
    cached = cache_dir() / "mnist" / key
    if cached.is_file():
        try:
            array = np.load(cached, mmap_mode="r", allow_pickle=False)
            if array.shape == shape and array.dtype == np.uint8:
                return array
        except (OSError, ValueError):
            pass  # a damaged cache entry: decode again and replace it
    raw = path.read_bytes()  # read once: parsed, then hashed
    array = _parse_idx(raw, path, shape)
    if verify:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != remote.sha256:
            raise DataError(
                f"{path} decodes, but its SHA-256 is {digest}, not the MNIST file's {remote.sha256}."
                f" Delete it or re-download it (or pass verify=False to use a file of your own)."
            )
    try:
        for stale in cached.parent.glob(f"{remote.name.removesuffix('.gz')}-*.npy"):
            if stale != cached:  # entries of an older version of the source
                stale.unlink(missing_ok=True)
        write_atomic(cached, lambda f: np.save(f, array, allow_pickle=False))
    except OSError as e:
        log.info("not caching %s: %s", cached, e)  # a read-only cache: decode each time
    return array


def _split_arrays(
    split: str, directory: Path, download: bool, verify: bool, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for kind in ("images", "labels"):
        remote, shape = MNIST_FILES[(split, kind)]
        path = fetch(remote, directory, download=download, progress=progress)
        arrays.append(_decoded(path, remote, shape, verify))
    images, labels = arrays
    return images, labels


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

    Missing files are downloaded into ``<data_dir>/mnist`` (``download=False`` raises
    :class:`DataNotFoundError` instead, naming the files and the directory searched). Files are
    checked against their SHA-256 (``verify=False`` skips that, for files of your own in the
    same format). Decoded arrays are cached as ``.npy`` files, so a second load is fast.

    ``backend``/``device`` place the arrays there: bytes are uploaded, then normalized and
    one-hot encoded on the device.

    >>> (x_train, t_train), (x_test, t_test) = load_mnist()  # doctest: +SKIP
    >>> x_test.shape, x_test.dtype, t_test.shape  # doctest: +SKIP
    ((10000, 784), dtype('float32'), (10000,))
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be 'train', 'test' or None (both); got {split!r}")
    directory = resolve_data_dir(data_dir) / "mnist"
    splits = [split] if split else ["train", "test"]
    missing = [
        MNIST_FILES[(s, k)][0].name
        for s in splits
        for k in ("images", "labels")
        if not (directory / MNIST_FILES[(s, k)][0].name).is_file()
    ]
    if missing and not download:
        raise DataNotFoundError(
            f"MNIST files missing from {directory}: {', '.join(missing)}. Put them there, point"
            f" XPNN_DATA_DIR (or data_dir=) at a directory whose mnist/ folder has them, or allow"
            f" downloading (download=True; on the command line, leave out --no-download)."
            + (" With only the test files, use split='test'." if split is None else "")
        )
    result = []
    for s in splits:
        try:
            images, labels = _split_arrays(s, directory, download, verify, progress)
        except DataNotFoundError as e:
            if split is None and s == "train":
                raise DataNotFoundError(
                    f"{e}\nTo load only the test set, call load_mnist(..., split='test')."
                ) from e
            raise
        result.append(_prepare(images, labels, normalize, flatten, one_hot_label, backend, device))
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
