"""The book's pickle, read safely: opcodes scanned, globals allow-listed, arrays built by xpnn."""

from __future__ import annotations

import io
import pickle
import pickletools
from typing import Any

import numpy as np

from ..errors import DataError
from ._checks import Declared, Described, LayoutCheck, build, checked_shape, cut, describe, float_dtype, short
from ._record import Record

__all__ = ["read_pickle"]

_MAX_PICKLE_OPS = 1_000_000  # the book's file has 178; a dict of arrays needs about 30 per array
_MAX_PICKLE_DEPTH = 32  # nesting of containers; a NumPy array pickle needs about 5


class _Refused(pickle.UnpicklingError):
    """A pickle asked for something outside the allow-list."""


class _DtypeRecord(Described):
    """What a pickle asked ``numpy.dtype(...)`` and its ``__setstate__`` for, never given to NumPy."""

    __slots__ = ("args", "state")

    def __init__(self, *args: object) -> None:
        self.args = args
        self.state: object = None

    def described(self) -> str:
        return "numpy.dtype"

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
        return float_dtype(code, byteorder, where)


class _ArrayRecord(Described):
    """What a pickle asked NumPy to rebuild an array from, checked later and built by xpnn."""

    __slots__ = ("args", "form", "state")

    def __init__(self, form: str, args: tuple[object, ...]) -> None:
        self.form = form  # "reconstruct" (all protocols) or "frombuffer" (protocol 5)
        self.args = args
        self.state: object = None

    def described(self) -> str:
        return "NumPy array"

    def __setstate__(self, state: object) -> None:
        if self.form != "reconstruct" or self.state is not None:
            raise _Refused("an array's state was set twice, or on a protocol-5 array")
        self.state = state

    def declared(self, name: str, where: str, max_bytes: int) -> Declared:
        if self.form == "frombuffer":
            if len(self.args) != 4:
                raise DataError(f"{where}: _frombuffer takes (buffer, dtype, shape, order)")
            data, dtype, shape, order = self.args
            if order not in ("C", "F"):
                raise DataError(f"{where} has order {short(order)}; C or F expected")
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
            raise DataError(f"{where} has a dtype of type {describe(dtype)}")
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
            raise DataError(f"{where} has array data of type {describe(data)}, not bytes")
        if fortran not in (0, 1):  # False/True (and 0/1, which old pickles may hold)
            raise DataError(f"{where} has a Fortran-order flag {short(fortran)}")
        return Declared(name, dtype.dtype(where), checked_shape(shape, where, max_bytes), bool(fortran), data)


class _StandIn(Described):
    """What ``find_class`` returns for an allowed global: it records calls, it never runs NumPy.

    A fresh one per lookup, with slots and no ``__dict__``: a pickle's BUILD cannot change it.
    """

    __slots__ = ("kind", "name")

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name

    def described(self) -> str:
        return self.name

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
                f"refused to load the global {cut(module + '.' + name, 100)}: a weights pickle may only"
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


def read_pickle(
    data: bytes, source: str, max_bytes: int, check: LayoutCheck | None
) -> tuple[dict[str, np.ndarray], Record | None]:
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
        raise DataError(f"{source} is not a readable weights pickle ({type(e).__name__}: {cut(e)})") from e
    if not isinstance(obj, dict):
        raise DataError(f"{source} holds a {describe(obj)}, not a dict of W1..Wn, b1..bn arrays")
    declared = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise DataError(f"{source} has a key of type {describe(key)}; keys are names such as 'W1'")
        if not isinstance(value, _ArrayRecord):
            raise DataError(f"{source}: {short(key)} is a {describe(value)}, not an array")
        declared.append(value.declared(key, f"{source}: {short(key)}", max_bytes))
    return build(declared, source, max_bytes, check), None
