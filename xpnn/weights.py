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

import ast
import io
import json
import math
import os
import pickle
import pickletools
import re
import reprlib
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._backends import to_numpy
from ._book_dict import layer_arrays
from ._data import DataError, RemoteFile, check_max_bytes, check_pinned, fetch, write_atomic
from ._data import data_dir as resolve_data_dir
from ._status import missing_extra
from .functions import HIDDEN_ACTIVATIONS
from .network import Network, to_backend

__all__ = [
    "SAMPLE_CONVNETS",
    "SAMPLE_WEIGHTS",
    "fetch_sample_convnet",
    "fetch_sample_weights",
    "load_params",
    "load_sample_network",
    "load_weights",
    "save_weights",
]

#: The book's pretrained 784-50-100-10 sigmoid network, from its repository, SHA-256 pinned.
SAMPLE_WEIGHTS = RemoteFile(
    "sample_weight.pkl",
    "b7f55a27988ba34c3777b0f1bbd464817c8a4db855723e6ff26f703501917a13",
    ("https://raw.githubusercontent.com/oreilly-japan/deep-learning-from-scratch/master/ch03/",),
    what="the book's sample_weight.pkl",
    own="load it with xpnn.load_weights(path) (--weights PATH on the command line)",
)

#: Default limit on a weights file's size and on the bytes of the arrays it declares (1 GiB).
MAX_BYTES = 1 << 30

_MAX_DIMS = 32  # a weight is 1-D or 2-D; NumPy itself allows 64
_MAX_PICKLE_OPS = 1_000_000  # the book's file has 178; a dict of arrays needs about 30 per array
_MAX_PICKLE_DEPTH = 32  # nesting of containers; a NumPy array pickle needs about 5
_MAX_ZIP_MEMBERS = 10_000
_MAX_NPY_HEADER = 65_535
_MAX_SAFETENSORS_HEADER = 100 << 20  # the safetensors library's own limit

# The only element types a weight may have. Integer, bool, complex, object, string and
# structured dtypes are refused: the network format (W1..Wn, b1..bn) is floating point.
_FLOAT_CODES = {"f2": np.float16, "f4": np.float32, "f8": np.float64}
_SAFETENSORS_DTYPES = {"F16": "f2", "F32": "f4", "F64": "f8"}

_MAX_NAMES = 5  # names an error quotes before "... and N more"
_KEY = re.compile(r"[Wb][1-9][0-9]{0,8}")  # a name a network may have
_CHUNK = 1 << 20  # bytes inflated at a time, straight into the array

#: The record of the network that save_weights writes, and its format version.
_RECORD = "__xpnn__"  # a .npz member of uint8 (UTF-8 JSON); in .safetensors, __metadata__["xpnn"]
_RECORD_FORMAT = 1
_RECORD_FIELDS = ("format", "layers", "activation")
_MAX_RECORD = 65_536


@dataclass(frozen=True)
class _Declared:
    """One array as a file declares it, checked but not built yet."""

    name: str
    dtype: np.dtype[Any]  # float16/32/64, any byte order
    shape: tuple[int, ...]
    fortran: bool
    data: bytes | bytearray | memoryview

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _float_dtype(code: object, byteorder: str, where: str) -> np.dtype[Any]:
    """The dtype for a code such as ``'f4'``, or a :class:`DataError` naming what was found."""
    if byteorder not in ("<", ">", "=", "|"):
        raise DataError(f"{where} has byte order {_short(byteorder)}; '<', '>', '=' or '|' expected")
    if isinstance(code, str) and code in _FLOAT_CODES:
        dtype = np.dtype(_FLOAT_CODES[code])
        return dtype.newbyteorder("<" if byteorder == "<" else ">") if byteorder in ("<", ">") else dtype
    raise DataError(
        f"{where} has dtype {_describe_dtype(code, byteorder)}; weights must be floating arrays"
        " (float16, float32 or float64)"
    )


def _describe_dtype(code: object, byteorder: str = "") -> str:
    # Only a plain code such as 'i4' or '<u1' is shown through NumPy's name; anything else is
    # shown as the file wrote it (shortened), never given to np.dtype.
    if isinstance(code, str) and re.fullmatch(r"[<>|=]?[biufcmMOSUV]\d{0,2}", code):
        try:
            dtype = np.dtype((byteorder if byteorder in ("<", ">") else "") + code)
        except (TypeError, ValueError):
            pass
        else:
            return "object (it would need pickle to load)" if dtype.kind == "O" else str(dtype)
    return _short(code)


class _ShortRepr(reprlib.Repr):
    """``repr`` of what a file holds, bounded in depth and length: never a 10,000-digit int."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxtuple, self.maxlist, self.maxdict = 3, 6, 6, 4
        self.maxstring = self.maxother = 40

    def repr_int(self, x: int, level: int) -> str:
        return super().repr_int(x, level) if x.bit_length() <= 64 else f"<a {x.bit_length()}-bit int>"

    def repr_instance(self, x: object, level: int) -> str:
        return repr(x) if isinstance(x, (bool, float, type(None))) else _describe(x)


def _short(value: object) -> str:
    return _ShortRepr().repr(value)


def _natural(name: str) -> list[object]:
    """Sort key: ``W2`` before ``W10`` (digit runs compared by length, then text: never int())."""
    return [(len(t), t) if i % 2 else t for i, t in enumerate(re.split(r"(\d+)", name))]


def _names(names: Iterable[str], *, limit: int = _MAX_NAMES) -> str:
    """``['b1', 'b2', ... and 9,998 more]``: a few names (each cut short), then how many more."""
    names = sorted(names, key=_natural)
    shown = [_short(n) for n in names[:limit]]
    if len(names) > limit:
        shown.append(f"... and {len(names) - limit:,} more")
    return "[" + ", ".join(shown) + "]"


def _check_keys(keys: Iterable[str], source: str) -> None:
    """The keys W1..Wn, b1..bn and nothing else, or a :class:`DataError` quoting a few of the others."""
    keys = set(keys)
    n = sum(1 for k in keys if k[:1] == "W" and k[1:].isdigit())
    expected = {f"{p}{i}" for i in range(1, n + 1) for p in "Wb"}
    if n == 0 or keys != expected:
        missing, extra = expected - keys, keys - expected
        raise DataError(
            f"{source}: a network needs the keys W1..Wn and b1..bn and nothing else;"
            + (f" missing {_names(missing)}" if missing else "")
            + (f" unexpected {_names(extra)}" if extra else "")
            + ("" if n else " (no W keys at all)")
        )


def _check_layout(declared: Iterable[tuple[str, np.dtype[Any], tuple[int, ...]]], source: str) -> None:
    """Keys and the chain of shapes of arrays not built yet: checked on stand-ins that allocate nothing."""
    try:
        standins = {name: np.broadcast_to(np.zeros((), dtype), shape) for name, dtype, shape in declared}
    except ValueError as e:  # a shape NumPy cannot even describe
        raise DataError(f"{source}: {_cut(e)}") from None
    _check(standins, source)


def _shape(value: object, where: str, max_bytes: int, kind: type = tuple) -> tuple[int, ...]:
    """A shape from a file: a tuple (a list in JSON) of at most 32 non-negative ints."""
    if (
        not isinstance(value, (tuple, list))
        or type(value) is not kind
        or len(value) > _MAX_DIMS
        or not all(type(d) is int and 0 <= d <= max_bytes for d in value)
    ):
        raise DataError(
            f"{where} has shape {_short(value)}; a shape is a {kind.__name__} of non-negative ints"
        )
    return tuple(value)


def _build(declared: list[_Declared], source: str, max_bytes: int, mlp: bool = True) -> dict[str, np.ndarray]:
    """Check every declared array's size, the keys and shapes (``mlp``: those of the book's W1..Wn,
    b1..bn), then build each array: native byte order, owning its data."""
    total = 0
    for d in declared:
        if len(d.data) != d.nbytes:
            raise DataError(
                f"{source}: {d.name} holds {len(d.data):,} bytes, but shape {d.shape} of"
                f" {d.dtype.name} needs {d.nbytes:,}"
            )
        total += d.nbytes
    if total > max_bytes:
        raise DataError(f"{source} declares {total:,} bytes of arrays, {_over(max_bytes)}")
    if mlp:
        _check_layout(((d.name, d.dtype, d.shape) for d in declared), source)
    arrays = {}
    for d in declared:
        flat = np.frombuffer(d.data, dtype=d.dtype, count=math.prod(d.shape))
        shaped = flat.reshape(d.shape, order="F" if d.fortran else "C")
        arrays[d.name] = shaped.astype(d.dtype.newbyteorder("="), order="K", copy=True)
    return arrays


def _over(max_bytes: int) -> str:
    return f"over the limit of {max_bytes:,}; pass max_bytes= to load_weights if you trust this file"


# --- pickle: the book's format ------------------------------------------------------------------


class _Refused(pickle.UnpicklingError):
    """A pickle asked for something outside the allow-list."""


class _DtypeRecord:
    """What a pickle asked ``numpy.dtype(...)`` and its ``__setstate__`` for, never given to NumPy."""

    __slots__ = ("args", "state")

    def __init__(self, *args: object) -> None:
        self.args = args
        self.state: object = None

    def __setstate__(self, state: object) -> None:
        if self.state is not None:
            raise _Refused("a dtype's state was set twice")
        self.state = state

    def dtype(self, where: str) -> np.dtype[Any]:
        code = self.args[0] if self.args else None
        byteorder = "="
        if self.state is not None:
            state = self.state
            # (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            if not (
                isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and isinstance(state[1], str)
            ):
                raise DataError(f"{where} has a dtype state NumPy never writes for a float")
            if state[2:5] != (None, None, None):
                raise DataError(
                    f"{where} has a structured or subarray dtype; weights must be floating arrays"
                )
            byteorder = state[1]
        return _float_dtype(code, byteorder, where)


class _ArrayRecord:
    """What a pickle asked NumPy to rebuild an array from, checked later and built by xpnn."""

    __slots__ = ("args", "form", "state")

    def __init__(self, form: str, args: tuple[object, ...]) -> None:
        self.form = form  # "reconstruct" (all protocols) or "frombuffer" (protocol 5)
        self.args = args
        self.state: object = None

    def __setstate__(self, state: object) -> None:
        if self.form != "reconstruct" or self.state is not None:
            raise _Refused("an array's state was set twice, or on a protocol-5 array")
        self.state = state

    def declared(self, name: str, where: str, max_bytes: int) -> _Declared:
        if self.form == "frombuffer":
            if len(self.args) != 4:
                raise DataError(f"{where}: _frombuffer takes (buffer, dtype, shape, order)")
            data, dtype, shape, order = self.args
            if order not in ("C", "F"):
                raise DataError(f"{where} has order {_short(order)}; C or F expected")
            fortran: object = order == "F"
        else:
            if not (self.args and isinstance(self.args[0], _StandIn) and self.args[0].kind == "ndarray"):
                raise DataError(f"{where} reconstructs something other than a numpy.ndarray")
            state = self.state
            if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
                state = state[1:]
            if not (isinstance(state, tuple) and len(state) == 4):
                raise DataError(f"{where} is an array without a (shape, dtype, order, data) state")
            shape, dtype, fortran, data = state
        if not isinstance(dtype, _DtypeRecord):
            raise DataError(f"{where} has a dtype of type {_describe(dtype)}")
        if isinstance(data, str):  # Python 2 pickles, read with encoding="latin1", as NumPy does
            try:
                data = data.encode("latin1")
            except UnicodeEncodeError:
                raise DataError(f"{where} has array data that is not a byte string") from None
        if isinstance(data, list):
            raise DataError(
                f"{where} is an object array (its data is a list); weights must be floating arrays"
            )
        if not isinstance(data, (bytes, bytearray)):
            raise DataError(f"{where} has array data of type {_describe(data)}, not bytes")
        if fortran not in (0, 1):  # False/True (and 0/1, which old pickles may hold)
            raise DataError(f"{where} has a Fortran-order flag {_short(fortran)}")
        return _Declared(name, dtype.dtype(where), _shape(shape, where, max_bytes), bool(fortran), data)


class _StandIn:
    """What ``find_class`` returns for an allowed global: it records calls, it never runs NumPy.

    A fresh one per lookup, with slots and no ``__dict__``: a pickle's BUILD cannot change it.
    """

    __slots__ = ("kind", "name")

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name

    def __setstate__(self, state: object) -> None:
        raise _Refused(f"a pickle may not set the state of {self.name}")

    def __call__(self, *args: object) -> object:
        if self.kind == "reconstruct":
            return _ArrayRecord("reconstruct", args)
        if self.kind == "frombuffer":
            return _ArrayRecord("frombuffer", args)
        if self.kind == "dtype":
            return _DtypeRecord(*args)
        if self.kind == "encode":  # protocols 0-2 write bytes as _codecs.encode(str, 'latin1')
            if len(args) == 2 and type(args[0]) is str and args[1] in ("latin1", "latin-1"):
                return args[0].encode("latin1")
            raise _Refused("_codecs.encode is allowed only as encode(str, 'latin1'), as pickle writes bytes")
        if self.kind == "dict" and not args:  # collections.OrderedDict() as an empty dict
            return {}
        raise _Refused(
            f"refused to call {self.name} with arguments from the file: NumPy would build an array"
            " at addresses and strides the file chooses. xpnn builds arrays itself."
        )


def _describe(value: object) -> str:
    if isinstance(value, _StandIn):
        return value.name
    if isinstance(value, _ArrayRecord):
        return "NumPy array"
    if isinstance(value, _DtypeRecord):
        return "numpy.dtype"
    return type(value).__name__


# (module, name) -> kind. NumPy 1 wrote numpy.core, NumPy 2 writes numpy._core.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("_codecs", "encode"): "encode",
    ("collections", "OrderedDict"): "dict",
}


class _RecordingUnpickler(pickle.Unpickler):
    """Unpickles dicts of NumPy arrays into records; every other global is refused, never called."""

    def find_class(self, module: str, name: str) -> Any:
        kind = _ALLOWED_GLOBALS.get((module, name))
        if kind is None:
            raise _Refused(
                f"refused to load the global {_cut(module + '.' + name, 100)}: a weights pickle may only"
                " hold NumPy arrays. This file could run code if loaded with pickle.load; xpnn will not load it."
            )
        return _StandIn(kind, f"{module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("refused a persistent id: a weights pickle may only hold NumPy arrays")


# Opcodes that push one new object made of no others (a number, a string, an empty container).
# fmt: off
_LEAF_OPS = frozenset({
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
    "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "NONE", "NEWTRUE", "NEWFALSE",
    "EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT", "GLOBAL",
})
# fmt: on


def _prescan(data: bytes) -> None:
    """Refuse a pickle before running it: unknown opcodes, too many, or containers nested too deep.

    Models the unpickler's stack with each object's nesting depth. Tuples, the only containers
    that are hashed (as dict keys) and so recursed into by C code, are measured exactly.
    """
    stack: list[int] = []
    marks: list[int] = []
    memo: dict[int, int] = {}

    def pop(n: int) -> list[int]:
        if len(stack) - n < (marks[-1] if marks else 0):
            raise _Refused("the pickle's stack underflows")
        items = stack[len(stack) - n :]
        del stack[len(stack) - n :]
        return items

    def pop_mark() -> list[int]:
        if not marks:
            raise _Refused("the pickle has no MARK where one is needed")
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    for count, (op, arg, _) in enumerate(pickletools.genops(data), start=1):
        if count > _MAX_PICKLE_OPS:
            raise _Refused(f"the pickle has more than {_MAX_PICKLE_OPS:,} opcodes")
        name = op.name
        if name in _LEAF_OPS:
            stack.append(0)
        elif name == "MARK":
            marks.append(len(stack))
        elif name in ("TUPLE", "LIST", "DICT"):
            stack.append(1 + max(pop_mark(), default=0))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            stack.append(1 + max(pop(int(name[-1]))))
        elif name == "STACK_GLOBAL":
            pop(2)
            stack.append(0)
        elif name == "REDUCE":
            stack.append(1 + max(pop(2)))
        elif name in ("BUILD", "APPEND"):
            target, item = pop(2)
            stack.append(max(target, 1 + item))
        elif name == "SETITEM":
            target, key, value = pop(3)
            stack.append(max(target, 1 + key, 1 + value))
        elif name in ("SETITEMS", "APPENDS"):
            items = pop_mark()
            stack.append(max(pop(1)[0], 1 + max(items, default=-1)))
        elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            index = len(memo) if arg is None else int(arg)
            if index > count:  # a pickler numbers its memo in order; a huge index allocates a huge memo
                raise _Refused(f"the pickle stores memo entry {index} after only {count} opcodes")
            memo[index] = pop(1)[0]
            stack.append(memo[index])
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in memo:
                raise _Refused(f"the pickle reads memo entry {arg}, which it never stored")
            stack.append(memo[int(arg)])
        elif name == "POP":
            if marks and marks[-1] == len(stack):
                marks.pop()
            else:
                pop(1)
        elif name == "POP_MARK":
            pop_mark()
        elif name == "DUP":
            stack.append(pop(1)[0])
            stack.append(stack[-1])
        elif name not in ("PROTO", "FRAME", "STOP"):
            raise _Refused(f"refused the pickle opcode {name}: a weights pickle never needs it")
        if stack and stack[-1] > _MAX_PICKLE_DEPTH:
            raise _Refused(f"the pickle nests containers more than {_MAX_PICKLE_DEPTH} deep")


def _read_pickle(
    data: bytes, source: str, max_bytes: int, mlp: bool = True
) -> tuple[dict[str, np.ndarray], _Record | None]:
    try:
        _prescan(data)
        obj = _RecordingUnpickler(io.BytesIO(data), encoding="latin1").load()
    except _Refused as e:
        raise DataError(f"{source}: {e}") from e
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
    ) as e:
        raise DataError(f"{source} is not a readable weights pickle ({type(e).__name__}: {_cut(e)})") from e
    if not isinstance(obj, dict):
        raise DataError(f"{source} holds a {_describe(obj)}, not a dict of W1..Wn, b1..bn arrays")
    declared = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise DataError(f"{source} has a key of type {_describe(key)}; keys are names such as 'W1'")
        if not isinstance(value, _ArrayRecord):
            raise DataError(f"{source}: {_short(key)} is a {_describe(value)}, not an array")
        declared.append(value.declared(key, f"{source}: {_short(key)}", max_bytes))
    return _build(declared, source, max_bytes, mlp), None


def _cut(e: object, limit: int = 200) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- .npz: a zip of .npy files ---------------------------------------------------------------


def _npy_header(
    f: io.BufferedIOBase | Any, where: str, max_bytes: int, *, record: bool = False
) -> tuple[np.dtype[Any], tuple[int, ...], bool, int]:
    """Parse a ``.npy`` header (xpnn's own parser): dtype, shape, Fortran order, header length.

    ``record=True``: the member holding xpnn's record of the network, which is ``uint8`` bytes.
    """
    magic = f.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY":
        raise DataError(f"{where} is not a .npy array")
    major = magic[6]
    if major == 1:
        size_bytes, fmt = f.read(2), "<H"
    elif major in (2, 3):
        size_bytes, fmt = f.read(4), "<I"
    else:
        raise DataError(f"{where} is .npy format version {major}, which xpnn does not read")
    if len(size_bytes) != struct.calcsize(fmt):
        raise DataError(f"{where}: the .npy header is truncated")
    (length,) = struct.unpack(fmt, size_bytes)
    if length > _MAX_NPY_HEADER:
        raise DataError(f"{where} declares a .npy header of {length:,} bytes, over {_MAX_NPY_HEADER:,}")
    text = f.read(length)
    if len(text) != length:
        raise DataError(f"{where}: the .npy header is truncated")
    try:
        header = ast.literal_eval(text.decode("utf8" if major == 3 else "latin1"))
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as e:
        raise DataError(f"{where}: the .npy header is not a Python literal ({type(e).__name__})") from None
    if not (isinstance(header, dict) and set(header) == {"descr", "fortran_order", "shape"}):
        raise DataError(f"{where}: the .npy header is not {{'descr', 'fortran_order', 'shape'}}")
    descr = header["descr"]
    code, byteorder = (
        (descr[1:], descr[0])
        if isinstance(descr, str) and descr[:1] in ("<", ">", "|", "=")
        else (descr, "=")
    )
    if record:
        if descr != "|u1":
            raise DataError(
                f"{where} has dtype {_describe_dtype(code, byteorder)}; the xpnn record of the network"
                " is uint8 bytes (UTF-8 JSON)"
            )
        dtype = np.dtype(np.uint8)
    else:
        dtype = _float_dtype(code, byteorder, where)
    if not isinstance(header["fortran_order"], bool):
        raise DataError(f"{where}: fortran_order is {_short(header['fortran_order'])}, not a bool")
    return (
        dtype,
        _shape(header["shape"], where, max_bytes),
        header["fortran_order"],
        len(magic) + len(size_bytes) + length,
    )


def _read_npz(
    data: bytes, source: str, max_bytes: int, mlp: bool = True
) -> tuple[dict[str, np.ndarray], _Record | None]:
    """A ``.npz``: every member's header is read and checked, then the keys and the chain of
    shapes, and only then is anything inflated, each member straight into its own array."""
    # zipfile reads a central directory entry per signature it finds: count them before it does.
    if data.count(b"PK\x01\x02") > _MAX_ZIP_MEMBERS:
        raise DataError(f"{source} has more than {_MAX_ZIP_MEMBERS:,} zip members")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):
                raise DataError(f"{source} holds two zip members of the same name")
            declared_total = sum(i.file_size for i in infos)
            if declared_total > max_bytes:
                raise DataError(
                    f"{source} declares {declared_total:,} bytes uncompressed, {_over(max_bytes)}"
                )
            for info in infos:
                where = f"{source}: {_short(info.filename)}"
                if not info.filename.endswith(".npy"):
                    raise DataError(f"{where} is not a .npy member")
                if info.flag_bits & 0x1:
                    raise DataError(f"{where} is encrypted")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise DataError(
                        f"{where} uses zip compression {info.compress_type}; xpnn reads stored or deflated"
                    )
            keys = [name[: -len(".npy")] for name in names if name != _RECORD + ".npy"]
            if not all(_KEY.fullmatch(k) for k in keys):  # a name no network has: no header is read
                _check_keys(keys, source)
            members = []
            record: _Record | None = None
            for info in infos:
                where = f"{source}: {_short(info.filename)}"
                is_record = info.filename == _RECORD + ".npy"
                with zf.open(info) as f:
                    dtype, shape, fortran, header_length = _npy_header(f, where, max_bytes, record=is_record)
                    nbytes = math.prod(shape) * dtype.itemsize
                    if header_length + nbytes != info.file_size:
                        raise DataError(
                            f"{where}: shape {shape} of {dtype.name} needs {nbytes:,} bytes after the header,"
                            f" but the zip declares {info.file_size - header_length:,}"
                        )
                    if is_record:
                        if len(shape) != 1:
                            raise DataError(
                                f"{where} has shape {shape}; the xpnn record is one line of bytes"
                            )
                        if nbytes > _MAX_RECORD:
                            raise DataError(
                                f"{source}: the xpnn record of the network ({_RECORD}) is {nbytes:,} bytes,"
                                f" over {_MAX_RECORD:,}; the file is damaged or not one xpnn wrote"
                            )
                        record = (_read_exactly(f, nbytes, where), _RECORD)
                        continue
                members.append((info, where, dtype, shape, fortran, header_length))
            # Keys and shapes from the headers alone: a file that is no network is refused here,
            # before a single member is inflated.
            if mlp:
                _check_layout(
                    ((info.filename[: -len(".npy")], d, shape) for info, _, d, shape, _, _ in members),
                    source,
                )
            arrays = {}
            for info, where, dtype, shape, fortran, header_length in members:
                arrays[info.filename[: -len(".npy")]] = _inflate(
                    zf, info, where, dtype, shape, fortran, header_length
                )
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{source} is not a readable .npz file ({type(e).__name__}: {_cut(e)})") from e
    return arrays, record


def _read_exactly(f: Any, n: int, where: str) -> bytes:
    data = f.read(n)
    if len(data) != n:  # zipfile checks the CRC once it reads the declared size
        raise DataError(f"{where} is truncated")
    return bytes(data)


def _inflate(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    where: str,
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    fortran: bool,
    header_length: int,
) -> np.ndarray:
    """A member's array, inflated a chunk at a time into memory allocated once for it (native
    byte order, owning its data): no copy of the member's bytes is ever whole in memory."""
    array = np.empty(shape, dtype=dtype.newbyteorder("="), order="F" if fortran else "C")
    memory = array.reshape(-1, order="A").view(np.uint8).data  # the array's own bytes, in order
    with zf.open(info) as f:
        _read_exactly(f, header_length, where)
        filled = 0
        while filled < len(memory):
            chunk = f.read(min(_CHUNK, len(memory) - filled))
            if not chunk:
                raise DataError(f"{where} is truncated")
            memory[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    if not dtype.isnative:
        array.byteswap(inplace=True)
    return array


# --- .safetensors ----------------------------------------------------------------------------


def _read_safetensors(
    data: bytes, source: str, max_bytes: int, mlp: bool = True
) -> tuple[dict[str, np.ndarray], _Record | None]:
    """The safetensors format: an 8-byte header length, a JSON header, then the tensors' bytes."""
    if len(data) < 8:
        raise DataError(f"{source} is not a .safetensors file (shorter than its 8-byte header length)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > min(len(data) - 8, _MAX_SAFETENSORS_HEADER):
        raise DataError(f"{source} declares a {length:,}-byte header in a file of {len(data):,} bytes")
    try:
        header = json.loads(data[8 : 8 + length])
    except (ValueError, RecursionError) as e:
        raise DataError(f"{source}: the .safetensors header is not JSON ({type(e).__name__})") from None
    if not isinstance(header, dict):
        raise DataError(f"{source}: the .safetensors header is not a JSON object")
    body = memoryview(data)[8 + length :]
    declared, ranges = [], []
    record: _Record | None = None
    for name, entry in header.items():
        where = f"{source}: {_short(name)}"
        if name == "__metadata__":  # the format's own: a JSON object of strings, xpnn's record among them
            if not isinstance(entry, dict):
                raise DataError(f"{source}: __metadata__ is not a JSON object (of strings)")
            for key, value in entry.items():
                if not isinstance(value, str):
                    raise DataError(f"{source}: __metadata__[{_short(key)}] is {_short(value)}, not a string")
            if "xpnn" in entry:
                record = (entry["xpnn"], "__metadata__['xpnn']")
            continue
        if not (isinstance(entry, dict) and set(entry) == {"dtype", "shape", "data_offsets"}):
            raise DataError(f"{where} is not {{'dtype', 'shape', 'data_offsets'}}")
        code = entry["dtype"]
        if code not in _SAFETENSORS_DTYPES:
            raise DataError(
                f"{where} has dtype {_short(code)}; weights must be floating arrays (F16, F32 or F64)"
            )
        dtype = _float_dtype(_SAFETENSORS_DTYPES[code], "<", where)
        shape = _shape(entry["shape"], where, max_bytes, kind=list)
        offsets = entry["data_offsets"]
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= len(body)
        ):
            raise DataError(
                f"{where} has data_offsets {_short(offsets)} outside the {len(body):,} data bytes"
            )
        ranges.append(tuple(offsets))
        declared.append(_Declared(name, dtype, shape, False, body[offsets[0] : offsets[1]]))
    ends = [0] + [end for _, end in sorted(ranges)]
    if [begin for begin, _ in sorted(ranges)] != ends[:-1] or ends[-1] != len(body):
        raise DataError(f"{source}: the tensors' data_offsets overlap or leave gaps in the data")
    return _build(declared, source, max_bytes, mlp), record


# --- the record of the network: format version, layer sizes, activation ----------------------

#: A record as a file holds it (UTF-8 JSON, bytes or text) and where in the file it is.
_Record = tuple[bytes | str, str]


def _sizes(weights: Mapping[str, Any]) -> list[int]:
    """``[784, 50, 100, 10]``: the layer sizes of a checked network."""
    layers = layer_arrays(weights)
    return [int(layers[0][0].shape[0])] + [int(W.shape[1]) for W, _ in layers]


def _record_text(weights: Mapping[str, Any], activation: str | None) -> str:
    return json.dumps({"format": _RECORD_FORMAT, "layers": _sizes(weights), "activation": activation})


def _parse_record(record: _Record, source: str, weights: Mapping[str, np.ndarray]) -> str | None:
    """The activation a file's record names (None if none), after checking every field of it."""
    raw, entry = record
    where = f"{source}: the xpnn record of the network ({entry})"
    if len(raw) > _MAX_RECORD:
        raise DataError(f"{where} is {len(raw):,} bytes, over {_MAX_RECORD:,}")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise DataError(f"{where} is not UTF-8 text; the file is damaged or not one xpnn wrote") from None
    try:
        fields = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise DataError(f"{where} is not JSON ({type(e).__name__}); the file is damaged") from None
    if not isinstance(fields, dict):
        raise DataError(f"{where} is not a JSON object")
    unknown = set(fields) - set(_RECORD_FIELDS)
    if unknown:
        raise DataError(
            f"{where} has unknown fields {_names(unknown)}; xpnn writes only {list(_RECORD_FIELDS)}"
        )
    if "format" not in fields:
        raise DataError(f"{where} has no format version")
    version = fields["format"]
    if type(version) is not int or version < 1:
        raise DataError(f"{where} has format {_short(version)}; format {_RECORD_FORMAT} expected")
    if version > _RECORD_FORMAT:
        raise DataError(
            f"{where} has format {version}: it was written by a newer xpnn (this one reads format"
            f" {_RECORD_FORMAT}); upgrade xpnn to load it"
        )
    layers, want = fields.get("layers"), _sizes(weights)
    if not (isinstance(layers, list) and all(type(d) is int for d in layers)):
        raise DataError(f"{where} has layers {_short(layers)}; a list of ints such as [784, 50, 100, 10]")
    if layers != want:
        raise DataError(
            f"{where} has layers {_short(layers)}, but the arrays are {'-'.join(map(str, want))}:"
            " the file was changed after it was written"
        )
    activation = fields.get("activation")
    if activation is not None and not (isinstance(activation, str) and activation in HIDDEN_ACTIVATIONS):
        raise DataError(
            f"{where} has activation {_short(activation)}; one of {sorted(HIDDEN_ACTIVATIONS)} or null expected"
        )
    return activation


# --- the public functions ----------------------------------------------------------------------


#: ``reader(data, source, max_bytes, mlp=True)``: the arrays and the record of a file of that suffix.
_READERS: dict[str, Callable[..., tuple[dict[str, np.ndarray], _Record | None]]] = {
    ".pkl": _read_pickle,
    ".pickle": _read_pickle,
    ".npz": _read_npz,
    ".safetensors": _read_safetensors,
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
            raise DataError(f"{path} is {info.st_size:,} bytes, {_over(max_bytes)}")
        with path.open("rb") as f:
            return f.read(info.st_size)  # if it grew meanwhile, what was added is not read
    except FileNotFoundError:
        raise FileNotFoundError(f"no weights file at {path}") from None
    except OSError as e:  # PermissionError, a symlink loop, an I/O error
        raise DataError(f"cannot read the weights file {path}: {e.strerror or e}") from e


def _check(weights: Any, source: str) -> dict[str, np.ndarray]:
    """Book-style dict of floating NumPy arrays, or a :class:`DataError` naming what is wrong."""
    if not isinstance(weights, Mapping):
        raise DataError(f"{source} holds a {type(weights).__name__}, not a dict of W1..Wn, b1..bn arrays")
    not_float = [k for k, v in weights.items() if v.dtype.kind != "f"]
    if not_float:
        shown = [f"{_short(k)}: {_short(str(weights[k].dtype))}" for k in not_float[:_MAX_NAMES]]
        if len(not_float) > _MAX_NAMES:
            shown.append(f"... and {len(not_float) - _MAX_NAMES:,} more")
        raise DataError(f"{source}: weights must be floating arrays; got {{{', '.join(shown)}}}")
    _check_keys((str(k) for k in weights), source)
    try:
        layer_arrays(weights)
    except ValueError as e:
        raise DataError(f"{source}: {e}") from e
    return {str(k): v for k, v in weights.items()}


def _all_finite(array: np.ndarray) -> bool:
    """``np.isfinite(array).all()`` a chunk at a time: no mask the size of the array."""
    flat = array.reshape(-1, order="A")  # a view: the arrays xpnn builds are contiguous
    step = _CHUNK // max(array.itemsize, 1)
    return all(bool(np.isfinite(flat[i : i + step]).all()) for i in range(0, flat.size, step))


def _check_finite(weights: Mapping[str, np.ndarray], source: str) -> None:
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


def load_weights(
    path: str | os.PathLike[str], *, allow_nonfinite: bool = False, max_bytes: int = MAX_BYTES
) -> dict[str, np.ndarray] | Network:
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
    weights, activation = _load(Path(path), allow_nonfinite, max_bytes)
    return weights if activation is None else to_backend(weights, "numpy", activation=activation)


def _reader(path: Path) -> Callable[..., tuple[dict[str, np.ndarray], _Record | None]]:
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"unknown weights format {path.suffix.lower()!r} for {path}; use .pkl, .npz or .safetensors"
        )
    return reader


def _load(
    path: Path, allow_nonfinite: bool, max_bytes: int, pinned: RemoteFile | None = None
) -> tuple[dict[str, np.ndarray], str | None]:
    """The checked arrays of a weights file, and the activation its record names (or None).

    With ``pinned``, the bytes read are checked against its SHA-256 before they are parsed: the
    file is read once, so what is parsed is what was checked.
    """
    reader = _reader(path)
    source = str(path)
    data = _read_file(path, max_bytes)
    if pinned is not None:
        check_pinned(pinned, path, data)
    arrays, record = reader(data, source, max_bytes)
    weights = _check(arrays, source)
    activation = None if record is None else _parse_record(record, source, weights)
    if not allow_nonfinite:
        _check_finite(weights, source)
    return weights, activation


def save_weights(
    net: Mapping[str, Any], path: str | os.PathLike[str], *, activation: str | None = None
) -> Path:
    """Write a network (a book-style dict or a placed ``Network``) as ``.npz`` or ``.safetensors``.

    The file records the network's format version, layer sizes and hidden activation: a
    ``Network``'s own ``.activation``, or ``activation=`` (which wins), so that
    :func:`load_weights` gives back a network that predicts as this one; a dict saved without
    ``activation=`` records none. The file is written to a temporary name and renamed into
    place (through a symbolic link, to the file it points to), so an interrupted save never
    leaves half a file. Returns the path.
    """
    path = Path(path)
    weights = _check({k: to_numpy(v) for k, v in net.items()}, "the network to save")
    if activation is None and isinstance(net, Network):
        activation = net.activation
    if isinstance(activation, str):
        activation = activation.lower()  # names are case-insensitive; files record lower case
    if activation is not None and not (isinstance(activation, str) and activation in HIDDEN_ACTIVATIONS):
        raise ValueError(
            f"unknown activation {activation!r}; save_weights records one of {sorted(HIDDEN_ACTIVATIONS)}"
            " (a function cannot be written into a file)"
        )
    record = _record_text(weights, activation)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        entry = np.frombuffer(record.encode(), dtype=np.uint8)
        write_atomic(path, lambda f: np.savez(f, **weights, **{_RECORD: entry}))  # type: ignore[arg-type]
    elif suffix == ".safetensors":
        tensors = {k: np.ascontiguousarray(v) for k, v in weights.items()}
        data = _safetensors(f"writing {path}").save(tensors, metadata={"xpnn": record})
        write_atomic(path, lambda f: f.write(data))
    else:
        raise ValueError(f"save_weights writes .npz or .safetensors, not {suffix!r} ({path})")
    return path


def _safetensors(what: str) -> Any:
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(
            f"{missing_extra(what, 'safetensors')}; safetensors cannot be imported here ({e});"
            " or name a .npz file, which needs nothing more"
        ) from e
    return safetensors.numpy


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
    return _load(path, False, MAX_BYTES, pinned=SAMPLE_WEIGHTS)[0]  # hashes the bytes it parses


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
    return _load_params(Path(path), allow_nonfinite, max_bytes)


def _load_params(
    path: Path, allow_nonfinite: bool, max_bytes: int, pinned: RemoteFile | None = None
) -> dict[str, np.ndarray]:
    """:func:`load_params`; with ``pinned``, the bytes read are checked against its SHA-256."""
    reader = _reader(path)
    source = str(path)
    data = _read_file(path, max_bytes)
    if pinned is not None:
        check_pinned(pinned, path, data)
    # Any names and shapes (a CNN's W1 is 4-D); a record is for load_weights.
    params, _ = reader(data, source, max_bytes, mlp=False)
    not_float = {k: str(v.dtype) for k, v in params.items() if v.dtype.kind != "f"}
    if not_float:
        raise DataError(f"{source}: weights must be floating arrays; got {not_float}")
    if not allow_nonfinite:
        _check_finite(params, source)
    return params


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
    from the book's repository, checked against the pinned SHA-256.
    """
    remote = _convnet_file(name)
    root = resolve_data_dir(data_dir)
    return fetch(remote, root / "weights", download=download, root=root)


def load_sample_convnet(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Any:
    """The book's trained ``SimpleConvNet`` or ``DeepConvNet`` (``name``), on NumPy in float64."""
    from .nn import DeepConvNet, SimpleConvNet

    remote = _convnet_file(name)  # an unknown name fails before any download
    root = resolve_data_dir(data_dir)
    path = fetch(remote, root / "weights", download=download, root=root, verify=False)
    params = _load_params(path, False, MAX_BYTES, pinned=remote)  # hashes the bytes it parses
    cls = SimpleConvNet if name == "simple_convnet" else DeepConvNet
    try:
        return cls(params=params)
    except ValueError as e:
        raise DataError(f"the {name} file does not fit the book's {cls.__name__}: {e}") from e
