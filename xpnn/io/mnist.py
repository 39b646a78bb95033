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

import os
from typing import Any, Literal

import numpy as np

from ..backends import get_backend
from ..functions import one_hot
from ._download import RemoteFile, fetch_all
from ._paths import data_dir as resolve_data_dir
from ._paths import is_present
from .idx import decoded

__all__ = ["MNIST_FILES", "MNIST_MIRRORS", "load_mnist"]

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
        verify=False,  # decoded checks each file's SHA-256 while it decodes it (unless verify=False)
    )
    arrays = {key: decoded(path, *MNIST_FILES[key], verify) for key, path in zip(keys, paths)}
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
