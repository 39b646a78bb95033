"""The book's trained files: downloaded from its repository, checked against pinned SHA-256."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import DataError
from ._checks import MAX_BYTES
from ._download import RemoteFile, fetch
from ._paths import data_dir as resolve_data_dir
from .weights import load_checked, load_checked_params

__all__ = [
    "SAMPLE_CONVNETS",
    "SAMPLE_WEIGHTS",
    "fetch_sample_convnet",
    "fetch_sample_weights",
    "load_sample_convnet",
    "load_sample_network",
]

#: The book's pretrained 784-50-100-10 sigmoid network, from its repository, SHA-256 pinned.
SAMPLE_WEIGHTS = RemoteFile(
    "sample_weight.pkl",
    "b7f55a27988ba34c3777b0f1bbd464817c8a4db855723e6ff26f703501917a13",
    ("https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/ch03/",),
    what="the book's sample_weight.pkl",
    own="load it with xpnn.load_weights(path) (--weights PATH on the command line)",
)


def fetch_sample_weights(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True) -> Path:
    """The path of the book's ``sample_weight.pkl`` in ``<data_dir>/weights``, downloaded if missing.

    The file is checked against its pinned SHA-256 on every call, downloaded or not: one that
    differs (changed, or another file of that name) is a :class:`xpnn.DataError` saying what to do.
    """
    root = resolve_data_dir(data_dir)
    return fetch(SAMPLE_WEIGHTS, root / "weights", download=download, root=root)


def load_sample_network(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True, name: str | None = None
) -> Any:
    """The book's pretrained MNIST network (784-50-100-10, float32): its ``init_network()`` of ch. 3.6.

    ``name="simple_convnet"`` (ch. 7, ``params.pkl``) or ``"deep_convnet"`` (ch. 8,
    ``deep_convnet_params.pkl``) gives instead the book's trained convolutional network, as an
    :class:`xpnn.SimpleConvNet` or :class:`xpnn.DeepConvNet` on NumPy (float64); see
    :func:`fetch_sample_convnet`.
    """
    if name is not None:
        return load_sample_convnet(name, data_dir, download=download)
    root = resolve_data_dir(data_dir)
    path = fetch(SAMPLE_WEIGHTS, root / "weights", download=download, root=root, verify=False)
    return load_checked(path, False, MAX_BYTES, pinned=SAMPLE_WEIGHTS)[0]  # hashes the bytes it parses


# --- the book's convolutional networks (ch. 7-8) ---------------------------------------------------

_BOOK_RAW = "https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/"

#: The book's trained ch. 7 ``SimpleConvNet`` and ch. 8 ``DeepConvNet``, SHA-256 pinned.
SAMPLE_CONVNETS = {
    "simple_convnet": RemoteFile(
        "params.pkl",
        "a5da99cffddafcfe5e686e79dc0ec3a7cc993b58e64f483b50960511e5e85344",
        (_BOOK_RAW + "ch07/",),
        what="the book's ch07/params.pkl",
        own="load it with xpnn.load_params(path)",
    ),
    "deep_convnet": RemoteFile(
        "deep_convnet_params.pkl",
        "4b7a27baee2037605afa94d3f514ca9fa9cc96623739328609765073cfd5f802",
        (_BOOK_RAW + "ch08/",),
        what="the book's ch08/deep_convnet_params.pkl",
        own="load it with xpnn.load_params(path)",
    ),
}


def _convnet_file(name: str) -> RemoteFile:
    remote = SAMPLE_CONVNETS.get(name) if isinstance(name, str) else None
    if remote is None:
        raise ValueError(f"unknown sample network {name!r}; choose one of {sorted(SAMPLE_CONVNETS)}")
    return remote


def fetch_sample_convnet(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Path:
    """The path of the book's trained CNN file ``name`` in ``<data_dir>/weights``, downloaded if missing.

    ``"simple_convnet"``: ``ch07/params.pkl``; ``"deep_convnet"``: ``ch08/deep_convnet_params.pkl``,
    from the book's repository, checked against the pinned SHA-256 (on every call, downloaded or
    not). ``download=False`` only looks in ``<data_dir>/weights``. Load the file with
    :func:`xpnn.load_params`, or ask :func:`xpnn.load_sample_network` for the network itself.

    >>> import xpnn
    >>> path = xpnn.fetch_sample_convnet("simple_convnet")  # doctest: +SKIP
    >>> path.name, sorted(xpnn.load_params(path))[:3]  # doctest: +SKIP
    ('params.pkl', ['W1', 'W2', 'W3'])
    >>> net = xpnn.load_sample_network(name="deep_convnet")  # doctest: +SKIP
    >>> type(net).__name__, net.n_in  # doctest: +SKIP
    ('DeepConvNet', (1, 28, 28))
    """
    remote = _convnet_file(name)
    root = resolve_data_dir(data_dir)
    return fetch(remote, root / "weights", download=download, root=root)


def load_sample_convnet(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Any:
    """The book's trained ``SimpleConvNet`` or ``DeepConvNet`` (``name``), on NumPy in float64."""
    from ..nn import DeepConvNet, SimpleConvNet

    remote = _convnet_file(name)  # an unknown name fails before any download
    root = resolve_data_dir(data_dir)
    path = fetch(remote, root / "weights", download=download, root=root, verify=False)
    params = load_checked_params(path, False, MAX_BYTES, pinned=remote)  # hashes the bytes it parses
    cls = SimpleConvNet if name == "simple_convnet" else DeepConvNet
    try:
        return cls(params=params)
    except ValueError as e:
        raise DataError(f"the {name} file does not fit the book's {cls.__name__}: {e}") from e
