"""Loading and saving network weights safely: the book's pickle, ``.npz`` and ``.safetensors``.

A weights file is treated as hostile. :func:`load_weights` never hands the file's bytes to
anything that trusts them: not to ``pickle.load`` (which runs any code a file contains), and not
to NumPy's own array reconstruction (which takes shapes, strides and pointers on trust). Each
format is read by a small parser of its own that *records* what the file declares (names,
dtypes, shapes, byte ranges), checks it, and only then builds each array itself with
``np.frombuffer(...).reshape(...)``, copied:

- dtypes are float16, float32 or float64 (either byte order; the result is native);
- a shape is a tuple of non-negative ints and the data is exactly ``prod(shape) * itemsize``
  bytes: no strides, offsets or views from the file;
- the file, and the arrays it declares, are at most ``max_bytes`` before anything is read or
  decompressed; a pickle's opcodes are scanned for nesting depth and count before it is run;
- the keys and the chain of shapes are checked from what the file declares, before any array
  is built or any ``.npz`` member is inflated; a member is inflated straight into its array, so
  loading takes about what the file declares and no more;
- NaN or infinity in a weight is refused unless ``allow_nonfinite=True``;
- the record of the network that :func:`save_weights` writes (format version, layer sizes,
  activation: JSON, in ``__xpnn__`` of a ``.npz`` or the ``.safetensors`` metadata) is parsed as
  JSON and every field is checked; it is data, never code.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..backends import to_numpy
from ..errors import DataError
from ..functions import HIDDEN_ACTIVATIONS
from ..network import Network, to_backend
from ..nn.layers import Layer
from ..nn.sequential import Sequential
from ._atomic import write_atomic
from ._checks import MAX_BYTES, check_finite, check_layout, check_network, over_limit
from ._download import RemoteFile, check_max_bytes, check_pinned
from ._record import MLP_FIELDS, RECORD, Record, is_layer_record, parse_record, read_record, record_text
from ._sequence import FIELDS, check_arrays, read_layers
from ._sequence import record_text as layer_record_text
from .npz import read_npz
from .pickle import read_pickle
from .safetensors import read_safetensors, safetensors_module

__all__ = ["MAX_BYTES", "load_params", "load_weights", "save_weights"]


#: ``reader(data, source, max_bytes, check)``: the arrays and the record of a file of that suffix
#: (``check``: a :data:`LayoutCheck` run before any array is built, or None for any arrays).
_READERS: dict[str, Callable[..., tuple[dict[str, np.ndarray], Record | None]]] = {
    ".pkl": read_pickle,
    ".pickle": read_pickle,
    ".npz": read_npz,
    ".safetensors": read_safetensors,
}


def _read_file(path: Path, max_bytes: int) -> bytes:
    """The whole file, once its size is known to be under the limit (so no declared size can
    make a reader allocate more than the file holds)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise DataError(
                f"{path} is not a regular file (a directory, device or pipe); give a weights file"
            )
        if info.st_size > max_bytes:
            raise DataError(f"{path} is {info.st_size:,} bytes, {over_limit(max_bytes)}")
        with path.open("rb") as f:
            return f.read(info.st_size)  # if it grew meanwhile, what was added is not read
    except FileNotFoundError:
        raise FileNotFoundError(f"no weights file at {path}") from None
    except OSError as e:  # PermissionError, a symlink loop, an I/O error
        raise DataError(f"cannot read the weights file {path}: {e.strerror or e}") from e


def load_weights(
    path: str | os.PathLike[str], *, allow_nonfinite: bool = False, max_bytes: int = MAX_BYTES
) -> dict[str, np.ndarray] | Network | Sequential:
    """Read a book-style network ``{'W1', 'b1', ..., 'Wn', 'bn'}`` as NumPy arrays, safely.

    By suffix: ``.pkl`` (the book's ``sample_weight.pkl``), ``.npz`` or ``.safetensors``, each
    read by xpnn's own parser: a pickle never runs code and never reaches NumPy's array
    reconstruction; sizes, keys and shapes are checked before anything is built or inflated.
    The arrays are float16, float32 or float64 in native byte order, keys ``W1..Wn``,
    ``b1..bn`` with shapes that chain. Anything else, a file over ``max_bytes`` (default 1 GiB),
    or a NaN or infinite weight (unless ``allow_nonfinite=True``) raises
    :class:`xpnn.DataError` naming it.

    A file :func:`save_weights` wrote with an activation (a ``Network``'s own, or
    ``activation=``) loads as an :class:`xpnn.Network` on NumPy that runs with it, so
    ``predict(load_weights(path), x)`` predicts as the network did before it was saved; any
    other file (the book's pickle, files of older versions) loads as a plain dict.

    >>> import pathlib, tempfile, xpnn
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     net = xpnn.load_weights(xpnn.save_weights(xpnn.init_network(), pathlib.Path(tmp) / "net.npz"))
    >>> sorted(net), net["W1"].shape
    (['W1', 'W2', 'W3', 'b1', 'b2', 'b3'], (2, 3))
    """
    max_bytes = check_max_bytes(max_bytes, "load_weights")
    weights, activation, network = load_checked(Path(path), allow_nonfinite, max_bytes)
    if network is not None:
        layers, input_shape = network
        try:
            return Sequential(layers, weights, input_shape=input_shape)
        except ValueError as e:  # checked before the arrays were built; this is the last word
            raise DataError(f"{path}: the arrays do not fit the recorded layers: {e}") from e
    return weights if activation is None else to_backend(weights, "numpy", activation=activation)


def _reader(path: Path) -> Callable[..., tuple[dict[str, np.ndarray], Record | None]]:
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"unknown weights format {path.suffix.lower()!r} for {path}; use .pkl, .npz or .safetensors"
        )
    return reader


def load_checked(
    path: Path, allow_nonfinite: bool, max_bytes: int, pinned: RemoteFile | None = None
) -> tuple[dict[str, np.ndarray], str | None, tuple[tuple[Layer, ...], tuple[int, ...]] | None]:
    """The checked arrays of a weights file, the activation its record names (or None), and the
    layers and input shape of a layer network's record (or None: the book's W1..Wn, b1..bn).

    With ``pinned``, the bytes read are checked against its SHA-256 before they are parsed: the
    file is read once, so what is parsed is what was checked.
    """
    reader = _reader(path)
    source = str(path)
    data = _read_file(path, max_bytes)
    if pinned is not None:
        check_pinned(pinned, path, data)
    network: list[tuple[tuple[Layer, ...], tuple[int, ...]]] = []

    def layout(declared: list[tuple[str, np.dtype[Any], tuple[int, ...]]], record: Record | None) -> None:
        if record is not None and is_layer_record(record):
            layers, input_shape = read_layers(record, source)
            check_arrays(layers, input_shape, declared, source)
            network.append((layers, input_shape))
        else:
            try:
                check_layout(declared, source)
            except DataError:
                if record is not None:  # a damaged record (not JSON, say) is what to report first
                    read_record(record, source, (*MLP_FIELDS, *FIELDS))
                raise

    arrays, record = reader(data, source, max_bytes, layout)
    if network:
        weights, activation = arrays, None
    else:
        weights = check_network(arrays, source)
        activation = None if record is None else parse_record(record, source, weights)
    if not allow_nonfinite:
        check_finite(weights, source)
    return weights, activation, (network[0] if network else None)


def save_weights(
    net: Mapping[str, Any] | Sequential, path: str | os.PathLike[str], *, activation: str | None = None
) -> Path:
    """Write a network (a book-style dict, a placed ``Network``, or a layer network such as
    :class:`xpnn.SimpleConvNet`) as ``.npz`` or ``.safetensors``.

    The file records the network's format version, layer sizes and hidden activation: a
    ``Network``'s own ``.activation``, or ``activation=`` (which wins), so that
    :func:`load_weights` gives back a network that predicts as this one; a dict saved without
    ``activation=`` records none. The file is written to a temporary name and renamed into
    place (through a symbolic link, to the file it points to), so an interrupted save never
    leaves half a file. Returns the path.

    A layer network (any :class:`xpnn.Sequential`: ``SimpleConvNet``, ``DeepConvNet``,
    ``MultiLayerNet``, ``MultiLayerNetExtend``) is written with its layers (``net.spec()``),
    its input shape and every array, batch normalization's running statistics included;
    :func:`load_weights` gives it back as an :class:`xpnn.Sequential` that predicts as it did.

    >>> import pathlib, tempfile, numpy as np, xpnn
    >>> conv = {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}
    >>> net = xpnn.SimpleConvNet(input_dim=(1, 8, 8), conv_param=conv, hidden_size=4, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     loaded = xpnn.load_weights(xpnn.save_weights(net, pathlib.Path(tmp) / "cnn.npz"))
    >>> x = np.random.default_rng(0).random((3, 1, 8, 8))
    >>> type(loaded).__name__, bool((xpnn.predict(loaded, x) == xpnn.predict(net, x)).all())
    ('Sequential', True)
    """
    path = Path(path)
    if isinstance(net, Sequential) and not isinstance(net, Mapping):
        if activation is not None:
            raise ValueError(
                f"activation={activation!r} does not apply to a layer network: its activations are its layers"
            )
        weights = net.to_numpy()
        _write(path, weights, layer_record_text(net.layers, net.n_in))
        return path
    weights = check_network({k: to_numpy(v) for k, v in net.items()}, "the network to save")
    if activation is None and isinstance(net, Network):
        activation = net.activation
    if isinstance(activation, str):
        activation = activation.lower()  # names are case-insensitive; files record lower case
    if activation is not None and not (isinstance(activation, str) and activation in HIDDEN_ACTIVATIONS):
        raise ValueError(
            f"unknown activation {activation!r}; save_weights records one of {sorted(HIDDEN_ACTIVATIONS)}"
            " (a function cannot be written into a file)"
        )
    _write(path, weights, record_text(weights, activation))
    return path


def _write(path: Path, weights: Mapping[str, np.ndarray], record: str) -> None:
    """``weights`` and the ``record`` of the network as ``.npz`` or ``.safetensors``, atomically."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        entry = np.frombuffer(record.encode(), dtype=np.uint8)
        write_atomic(path, lambda f: np.savez(f, **weights, **{RECORD: entry}))  # type: ignore[arg-type]
    elif suffix == ".safetensors":
        tensors = {k: np.ascontiguousarray(v) for k, v in weights.items()}
        data = safetensors_module(f"writing {path}").save(tensors, metadata={"xpnn": record})
        write_atomic(path, lambda f: f.write(data))
    else:
        raise ValueError(f"save_weights writes .npz or .safetensors, not {suffix!r} ({path})")


def load_params(
    path: str | os.PathLike[str], *, allow_nonfinite: bool = False, max_bytes: int = MAX_BYTES
) -> dict[str, np.ndarray]:
    """Read a dict of named floating arrays of any shapes (a CNN's ``W1`` is ``(FN, C, FH, FW)``).

    The same safe parsers and limits as :func:`load_weights`; only the check that the keys are
    ``W1..Wn, b1..bn`` of chaining matrices is left to the network that takes them.

    >>> import pathlib, tempfile, numpy as np, xpnn
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "conv.npz"
    ...     np.savez(path, W1=np.zeros((30, 1, 5, 5)), b1=np.zeros(30))
    ...     params = xpnn.load_params(path)
    >>> params["W1"].shape
    (30, 1, 5, 5)
    """
    max_bytes = check_max_bytes(max_bytes, "load_params")
    return load_checked_params(Path(path), allow_nonfinite, max_bytes)


def load_checked_params(
    path: Path, allow_nonfinite: bool, max_bytes: int, pinned: RemoteFile | None = None
) -> dict[str, np.ndarray]:
    """:func:`load_params`; with ``pinned``, the bytes read are checked against its SHA-256."""
    reader = _reader(path)
    source = str(path)
    data = _read_file(path, max_bytes)
    if pinned is not None:
        check_pinned(pinned, path, data)
    # Any names and shapes (a CNN's W1 is 4-D); a record is for load_weights.
    params, _ = reader(data, source, max_bytes, None)
    not_float = {k: str(v.dtype) for k, v in params.items() if v.dtype.kind != "f"}
    if not_float:
        raise DataError(f"{source}: weights must be floating arrays; got {not_float}")
    if not allow_nonfinite:
        check_finite(params, source)
    return params
