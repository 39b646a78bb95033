"""Loading and saving network weights safely: the book's pickle, ``.npz`` and ``.safetensors``.

The book loads ``sample_weight.pkl`` with ``pickle.load``, which runs any code a file contains.
:func:`load_weights` reads that file with an allow-list unpickler instead: it admits only what
NumPy needs to rebuild arrays, and refuses (never calls) anything else.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ._backends import to_numpy
from ._data import DataError, RemoteFile, fetch, write_atomic
from ._data import data_dir as resolve_data_dir
from .network import layer_arrays

__all__ = ["SAMPLE_WEIGHTS", "fetch_sample_weights", "load_sample_network", "load_weights", "save_weights"]

#: The book's pretrained 784-50-100-10 sigmoid network, from its repository, SHA-256 pinned.
SAMPLE_WEIGHTS = RemoteFile(
    "sample_weight.pkl",
    "b7f55a27988ba34c3777b0f1bbd464817c8a4db855723e6ff26f703501917a13",
    ("https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/ch03/",),
)


def _reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


class _Refused(pickle.UnpicklingError):
    """A pickle asked for something outside the allow-list."""


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays (in dicts, lists, tuples) and nothing else."""

    # Pickles written by NumPy 1 name numpy.core; NumPy 2 moved it to numpy._core.
    ALLOWED: ClassVar[dict[tuple[str, str], Any]] = {
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    }

    def find_class(self, module: str, name: str) -> Any:
        factory = self.ALLOWED.get((module, name))
        if factory is None:
            raise _Refused(
                f"refused to load the global {module}.{name}: a weights pickle may only hold NumPy"
                f" arrays. This file could run code if loaded with pickle.load; xpnn will not load it."
            )
        return factory()

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("refused a persistent id: a weights pickle may only hold NumPy arrays")


def _load_pickle(path: Path) -> Any:
    with path.open("rb") as f:
        try:
            return _ArrayOnlyUnpickler(f).load()
        except _Refused as e:
            raise DataError(f"{path}: {e}") from e
        except (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            KeyError,
        ) as e:
            raise DataError(f"{path} is not a readable weights pickle ({type(e).__name__}: {e})") from e


def _check(weights: Any, source: str) -> dict[str, np.ndarray]:
    """Book-style dict of floating NumPy arrays, or a :class:`DataError` naming what is wrong."""
    if not isinstance(weights, Mapping):
        raise DataError(f"{source} holds a {type(weights).__name__}, not a dict of W1..Wn, b1..bn arrays")
    not_arrays = [k for k, v in weights.items() if not isinstance(v, np.ndarray)]
    if not_arrays:
        raise DataError(f"{source}: {not_arrays} are not arrays")
    not_float = {k: str(v.dtype) for k, v in weights.items() if v.dtype.kind != "f"}
    if not_float:
        raise DataError(f"{source}: weights must be floating arrays; got {not_float}")
    try:
        layer_arrays(weights)
    except ValueError as e:
        raise DataError(f"{source}: {e}") from e
    return {str(k): v for k, v in weights.items()}


def load_weights(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a book-style network ``{'W1', 'b1', ..., 'Wn', 'bn'}`` as NumPy arrays.

    By suffix: ``.pkl`` (the book's ``sample_weight.pkl``, through an allow-list unpickler that
    admits only NumPy array reconstruction), ``.npz`` (``allow_pickle=False``) or
    ``.safetensors``. Keys, the chain of shapes and floating dtypes are checked; anything wrong
    raises :class:`xpnn.DataError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}")
    suffix = path.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        weights = _load_pickle(path)
    elif suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                weights = {k: f[k] for k in f.files}
        except ValueError as e:  # object arrays need pickle, which is off
            raise DataError(f"{path}: {e}") from e
        except (OSError, EOFError) as e:
            raise DataError(f"{path} is not a readable .npz file ({e})") from e
    elif suffix == ".safetensors":
        safetensors_numpy = _safetensors()
        try:
            weights = safetensors_numpy.load_file(str(path))
        except Exception as e:  # safetensors raises its own SafetensorError
            raise DataError(f"{path} is not a readable .safetensors file ({e})") from e
    else:
        raise ValueError(f"unknown weights format {suffix!r} for {path}; use .pkl, .npz or .safetensors")
    return _check(weights, str(path))


def save_weights(net: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a network (a book-style dict or a placed ``Network``) as ``.npz`` or ``.safetensors``.

    The file is written to a temporary name and renamed into place, so an interrupted save
    never leaves half a file. Returns the path.
    """
    path = Path(path)
    weights = _check({k: to_numpy(v) for k, v in net.items()}, "the network to save")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        write_atomic(path, lambda f: np.savez(f, **weights))  # type: ignore[arg-type]
    elif suffix == ".safetensors":
        data = _safetensors().save({k: np.ascontiguousarray(v) for k, v in weights.items()})
        write_atomic(path, lambda f: f.write(data))
    else:
        raise ValueError(f"save_weights writes .npz or .safetensors, not {suffix!r} ({path})")
    return path


def _safetensors() -> Any:
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(
            "reading .safetensors needs the safetensors package: pip install 'xpnn[safetensors]'"
        ) from e
    return safetensors.numpy


def fetch_sample_weights(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True) -> Path:
    """The path of the book's ``sample_weight.pkl`` in ``<data_dir>/weights``, downloaded if missing.

    The download is checked against the file's pinned SHA-256.
    """
    return fetch(SAMPLE_WEIGHTS, resolve_data_dir(data_dir) / "weights", download=download)


def load_sample_network(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> dict[str, np.ndarray]:
    """The book's pretrained MNIST network (784-50-100-10, float32): its ``init_network()`` of ch. 3.6."""
    return load_weights(fetch_sample_weights(data_dir, download=download))
