"""Small IDX files for parser and downloader tests, written the way MNIST's are."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray, *, magic: bytes | None = None, dims: tuple[int, ...] | None = None) -> bytes:
    """The uncompressed IDX encoding of a uint8 array (header fields overridable, to break them)."""
    dims = array.shape if dims is None else dims
    header = (magic if magic is not None else bytes([0, 0, 0x08, len(dims)])) + b"".join(
        int(d).to_bytes(4, "big") for d in dims
    )
    return header + array.astype(np.uint8).tobytes()


def write_idx_gz(path: Path, array: np.ndarray, *, compresslevel: int = 9, **kwargs) -> Path:
    """``array`` as a gzip-compressed IDX file (``compresslevel=0``: the size depends only on the shape)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(idx_bytes(array, **kwargs), compresslevel=compresslevel, mtime=0))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tiny_mnist(directory: Path, n: int = 12, seed: int = 0) -> dict[str, np.ndarray]:
    """Four MNIST-named files of ``n`` random 28x28 images and labels, per split."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx_gz(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
        arrays[f"{prefix}-images"], arrays[f"{prefix}-labels"] = images, labels
    return arrays


def tiny_mnist_files(mnist_dir: Path, n: int, mirrors: tuple[str, ...] = ()) -> dict:
    """A stand-in for ``xpnn.io.mnist.MNIST_FILES`` describing the tiny files in ``mnist_dir``."""
    from xpnn.io import RemoteFile, mnist

    return {
        key: (RemoteFile(remote.name, sha256(mnist_dir / remote.name), mirrors), (n, *shape[1:]))
        for key, (remote, shape) in mnist.MNIST_FILES.items()
    }
