"""Files in: the data directory, downloads, MNIST and weights, every file read as hostile.

One job per module:

- ``_paths``: the data and cache directories, and checked opening of the files in them;
- ``_download``: fetching missing files (pinned SHA-256, mirrors, one error naming them all);
- ``_atomic``: :func:`write_atomic`, a temporary name renamed into place;
- ``idx``: MNIST's IDX format parsed from gzip, and the checked ``.npy`` cache;
- ``mnist``: :func:`load_mnist`;
- ``_checks``: what every weights reader shares (declared arrays, limits, short error text);
- ``pickle``, ``npz``, ``safetensors``: one safe parser per weights format;
- ``_record``: the record of the network that :func:`save_weights` writes, and its checks;
- ``weights``: :func:`load_weights`, :func:`save_weights`, :func:`load_params`;
- ``samples``: the book's trained files, downloaded and pinned.
"""

from ._atomic import write_atomic
from ._download import RemoteFile, fetch, fetch_all
from ._paths import cache_dir, data_dir
from .mnist import load_mnist
from .samples import (
    fetch_sample_convnet,
    fetch_sample_weights,
    load_sample_convnet,
    load_sample_network,
)
from .weights import MAX_BYTES, load_params, load_weights, save_weights

__all__ = [
    "MAX_BYTES",
    "RemoteFile",
    "cache_dir",
    "data_dir",
    "fetch",
    "fetch_all",
    "fetch_sample_convnet",
    "fetch_sample_weights",
    "load_mnist",
    "load_params",
    "load_sample_convnet",
    "load_sample_network",
    "load_weights",
    "save_weights",
    "write_atomic",
]
