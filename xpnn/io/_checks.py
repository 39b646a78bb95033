"""What every weights reader shares: the declared arrays, their checks, and short error text."""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._book_dict import layer_arrays
from ..errors import DataError

#: Default limit on a weights file's size and on the bytes of the arrays it declares (1 GiB).
MAX_BYTES = 1 << 30

_MAX_DIMS = 32  # a weight is 1-D or 2-D; NumPy itself allows 64

# The only element types a weight may have. Integer, bool, complex, object, string and
# structured dtypes are refused: the network format (W1..Wn, b1..bn) is floating point.
_FLOAT_CODES = {"f2": np.float16, "f4": np.float32, "f8": np.float64}

_MAX_NAMES = 5  # names an error quotes before "... and N more"
KEY = re.compile(r"[Wb][1-9][0-9]{0,8}")  # a name a network may have
CHUNK = 1 << 20  # bytes inflated at a time, straight into the array


@dataclass(frozen=True)
class Declared:
    """One array as a file declares it, checked but not built yet."""

    name: str
    dtype: np.dtype[Any]  # float16/32/64, any byte order
    shape: tuple[int, ...]
    fortran: bool
    data: bytes | bytearray | memoryview

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def float_dtype(code: object, byteorder: str, where: str) -> np.dtype[Any]:
    """The dtype for a code such as ``'f4'``, or a :class:`DataError` naming what was found."""
    if byteorder not in ("<", ">", "=", "|"):
        raise DataError(f"{where} has byte order {short(byteorder)}; '<', '>', '=' or '|' expected")
    if isinstance(code, str) and code in _FLOAT_CODES:
        dtype = np.dtype(_FLOAT_CODES[code])
        return dtype.newbyteorder("<" if byteorder == "<" else ">") if byteorder in ("<", ">") else dtype
    raise DataError(
        f"{where} has dtype {describe_dtype(code, byteorder)}; weights must be floating arrays"
        " (float16, float32 or float64)"
    )


def describe_dtype(code: object, byteorder: str = "") -> str:
    # Only a plain code such as 'i4' or '<u1' is shown through NumPy's name; anything else is
    # shown as the file wrote it (shortened), never given to np.dtype.
    if isinstance(code, str) and re.fullmatch(r"[<>|=]?[biufcmMOSUV]\d{0,2}", code):
        try:
            dtype = np.dtype((byteorder if byteorder in ("<", ">") else "") + code)
        except (TypeError, ValueError):
            pass
        else:
            return "object (it would need pickle to load)" if dtype.kind == "O" else str(dtype)
    return short(code)


class Described:
    """A reader's stand-in for something a file declares: :func:`describe` names it in errors."""

    __slots__ = ()

    def described(self) -> str:
        return type(self).__name__


def describe(value: object) -> str:
    """What a value from a file is, in a word or two (a type name; a stand-in says what it stands for)."""
    return value.described() if isinstance(value, Described) else type(value).__name__


class _ShortRepr(reprlib.Repr):
    """``repr`` of what a file holds, bounded in depth and length: never a 10,000-digit int."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxtuple, self.maxlist, self.maxdict = 3, 6, 6, 4
        self.maxstring = self.maxother = 40

    def repr_int(self, x: int, level: int) -> str:
        return super().repr_int(x, level) if x.bit_length() <= 64 else f"<a {x.bit_length()}-bit int>"

    def repr_instance(self, x: object, level: int) -> str:
        return repr(x) if isinstance(x, (bool, float, type(None))) else describe(x)


def short(value: object) -> str:
    return _ShortRepr().repr(value)


def _natural(name: str) -> list[object]:
    """Sort key: ``W2`` before ``W10`` (digit runs compared by length, then text: never int())."""
    return [(len(t), t) if i % 2 else t for i, t in enumerate(re.split(r"(\d+)", name))]


def names_text(names: Iterable[str], *, limit: int = _MAX_NAMES) -> str:
    """``['b1', 'b2', ... and 9,998 more]``: a few names (each cut short), then how many more."""
    names = sorted(names, key=_natural)
    shown = [short(n) for n in names[:limit]]
    if len(names) > limit:
        shown.append(f"... and {len(names) - limit:,} more")
    return "[" + ", ".join(shown) + "]"


def check_keys(keys: Iterable[str], source: str) -> None:
    """The keys W1..Wn, b1..bn and nothing else, or a :class:`DataError` quoting a few of the others."""
    keys = set(keys)
    n = sum(1 for k in keys if k[:1] == "W" and k[1:].isdigit())
    expected = {f"{p}{i}" for i in range(1, n + 1) for p in "Wb"}
    if n == 0 or keys != expected:
        missing, extra = expected - keys, keys - expected
        raise DataError(
            f"{source}: a network needs the keys W1..Wn and b1..bn and nothing else;"
            + (f" missing {names_text(missing)}" if missing else "")
            + (f" unexpected {names_text(extra)}" if extra else "")
            + ("" if n else " (no W keys at all)")
        )


def check_layout(declared: Iterable[tuple[str, np.dtype[Any], tuple[int, ...]]], source: str) -> None:
    """Keys and the chain of shapes of arrays not built yet: checked on stand-ins that allocate nothing."""
    try:
        standins = {name: np.broadcast_to(np.zeros((), dtype), shape) for name, dtype, shape in declared}
    except ValueError as e:  # a shape NumPy cannot even describe
        raise DataError(f"{source}: {cut(e)}") from None
    check_network(standins, source)


def checked_shape(value: object, where: str, max_bytes: int, kind: type = tuple) -> tuple[int, ...]:
    """A shape from a file: a tuple (a list in JSON) of at most 32 non-negative ints."""
    if (
        not isinstance(value, (tuple, list))
        or type(value) is not kind
        or len(value) > _MAX_DIMS
        or not all(type(d) is int and 0 <= d <= max_bytes for d in value)
    ):
        raise DataError(
            f"{where} has shape {short(value)}; a shape is a {kind.__name__} of non-negative ints"
        )
    return tuple(value)


#: ``check(declared, record)``: the names, dtypes and shapes a file declares (and its record of the
#: network, or None), checked before any array is built; raises :class:`DataError`.
LayoutCheck = Callable[[list[tuple[str, np.dtype[Any], tuple[int, ...]]], Any], None]


def build(
    declared: list[Declared], source: str, max_bytes: int, check: LayoutCheck | None, record: Any = None
) -> dict[str, np.ndarray]:
    """Check every declared array's size, then ``check`` the keys and shapes (with the file's
    ``record``), then build each array: native byte order, owning its data."""
    total = 0
    for d in declared:
        if len(d.data) != d.nbytes:
            raise DataError(
                f"{source}: {d.name} holds {len(d.data):,} bytes, but shape {d.shape} of"
                f" {d.dtype.name} needs {d.nbytes:,}"
            )
        total += d.nbytes
    if total > max_bytes:
        raise DataError(f"{source} declares {total:,} bytes of arrays, {over_limit(max_bytes)}")
    if check is not None:
        check([(d.name, d.dtype, d.shape) for d in declared], record)
    arrays = {}
    for d in declared:
        flat = np.frombuffer(d.data, dtype=d.dtype, count=math.prod(d.shape))
        shaped = flat.reshape(d.shape, order="F" if d.fortran else "C")
        arrays[d.name] = shaped.astype(d.dtype.newbyteorder("="), order="K", copy=True)
    return arrays


def over_limit(max_bytes: int) -> str:
    return f"over the limit of {max_bytes:,}; pass max_bytes= to load_weights if you trust this file"


def cut(e: object, limit: int = 200) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_network(weights: Any, source: str) -> dict[str, np.ndarray]:
    """Book-style dict of floating NumPy arrays, or a :class:`DataError` naming what is wrong."""
    if not isinstance(weights, Mapping):
        raise DataError(f"{source} holds a {type(weights).__name__}, not a dict of W1..Wn, b1..bn arrays")
    not_float = [k for k, v in weights.items() if v.dtype.kind != "f"]
    if not_float:
        shown = [f"{short(k)}: {short(str(weights[k].dtype))}" for k in not_float[:_MAX_NAMES]]
        if len(not_float) > _MAX_NAMES:
            shown.append(f"... and {len(not_float) - _MAX_NAMES:,} more")
        raise DataError(f"{source}: weights must be floating arrays; got {{{', '.join(shown)}}}")
    check_keys((str(k) for k in weights), source)
    try:
        layer_arrays(weights)
    except ValueError as e:
        raise DataError(f"{source}: {e}") from e
    return {str(k): v for k, v in weights.items()}


def _all_finite(array: np.ndarray) -> bool:
    """``np.isfinite(array).all()`` a chunk at a time: no mask the size of the array."""
    flat = array.reshape(-1, order="A")  # a view: the arrays xpnn builds are contiguous
    step = CHUNK // max(array.itemsize, 1)
    return all(bool(np.isfinite(flat[i : i + step]).all()) for i in range(0, flat.size, step))


def check_finite(weights: Mapping[str, np.ndarray], source: str) -> None:
    for name, array in weights.items():
        if _all_finite(array):
            continue
        bad = ~np.isfinite(array)
        if bad.any():
            index = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), array.shape))
            raise DataError(
                f"{source}: {name}[{', '.join(map(str, index))}] is {array[index]} (the first of"
                f" {int(np.count_nonzero(bad)):,} non-finite values); a network with NaN or infinite weights"
                " gives meaningless answers. Pass allow_nonfinite=True to load it anyway."
            )
