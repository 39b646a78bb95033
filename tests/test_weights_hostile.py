"""Hostile and broken weights files: each one is refused with a DataError that says what it found.

Every file is generated here (no hostile binaries in the repository). Inputs that crashed the
interpreter before are loaded in a child process, so a regression fails a test instead of
killing the test run.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import hashlib
import io
import json
import math
import os
import pickle
import pickletools
import re
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import reference

import xpnn
import xpnn.io.npz
import xpnn.io.pickle
import xpnn.io.samples

try:  # the functions NumPy's own array pickles call
    from numpy._core.multiarray import _reconstruct
    from numpy._core.numeric import _frombuffer
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct
    from numpy.core.numeric import _frombuffer


class Reduces:
    """An object that pickles as ``func(*args)`` (then ``__setstate__(state)``): a pickle written
    by hand, the way an attacker writes one."""

    def __init__(self, func: Callable, args: tuple, state: object = None) -> None:
        self.rv = (func, args) if state is None else (func, args, state)

    def __reduce__(self):
        return self.rv


def array_state(shape, dtype, data, fortran=False) -> Reduces:
    """A NumPy-style array pickle (protocols 0-5) whose state says what the test wants."""
    return Reduces(_reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype, fortran, data))


def weights_with(**values) -> dict:
    return {**reference.random_network((2, 2), np.float32), **values}


def write_pickle(tmp_path: Path, obj: object, protocol: int = 4) -> Path:
    path = tmp_path / "w.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


# --- inputs that crashed the interpreter: loaded in a child that must survive --------------------


class PointerArray:
    """The issue's segfault: an object array whose pointers are bytes from the file."""

    def __reduce__(self):
        return (np.ndarray, ((1,), np.dtype("O"), b"A" * 8))


class ViewOfPointerArray:
    def __reduce__(self):
        return (np.ndarray, (PointerArray(), np.dtype("f4")))


def deep(opcode: bytes, depth: int, leaf: bytes = b")", after: bytes = b"") -> bytes:
    return leaf + opcode * depth + after


CRASHERS: dict[str, tuple[Callable[[], bytes], str]] = {
    "issue-segfault": (
        lambda: pickle.dumps({"W1": ViewOfPointerArray()}, protocol=4),
        "refused to call numpy.ndarray",
    ),
    "object-array-from-bytes": (
        lambda: pickle.dumps({"W1": Reduces(_frombuffer, (b"A" * 8, np.dtype("O"), (1,), "C"))}, protocol=5),
        "dtype object",
    ),
    "200000-deep-tuple-key": (
        lambda: b"\x80\x04}" + deep(b"\x85", 200_000) + b"Ns.",  # {((((...),),),): None}
        "nests containers more than 32 deep",
    ),
    "200000-deep-tuple-value": (
        lambda: b"\x80\x04}\x8c\x02W1" + deep(b"\x85", 200_000) + b"s.",
        "nests containers more than 32 deep",
    ),
    "200000-deep-list": (
        lambda: b"\x80\x02" + b"(" * 200_000 + b"l" * 200_000 + b".",
        "nests containers more than 32 deep",
    ),
}


def test_inputs_that_crashed_the_interpreter_are_data_errors_in_a_child_that_survives(tmp_path: Path) -> None:
    paths = []
    for name, (make, _) in CRASHERS.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(make())
        paths.append(str(path))
    child = """
        import sys, xpnn
        for path in sys.argv[1:]:
            try:
                xpnn.load_weights(path)
            except xpnn.DataError as e:
                print("DataError:", " ".join(str(e).split()), flush=True)
            else:
                print("loaded", flush=True)
    """
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(child), *paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"the child died ({result.returncode}): {result.stdout}{result.stderr}"
    lines = result.stdout.splitlines()
    assert len(lines) == len(CRASHERS), result.stdout + result.stderr
    for (name, (_, message)), line in zip(CRASHERS.items(), lines):
        assert line.startswith("DataError:") and message in line, f"{name}: {line}"


# --- pickles: what NumPy would have built from the file's own numbers ----------------------------


def test_the_zero_stride_view_is_refused(tmp_path: Path) -> None:
    # 784 x 400,000 float32 from 4 bytes: 1.25 GB when used, from a file of about 200 bytes.
    zero_stride = Reduces(np.ndarray, ((784, 400_000), np.dtype("f4"), b"\0" * 4, 0, (0, 0)))
    path = write_pickle(tmp_path, weights_with(W1=zero_stride), protocol=2)
    assert path.stat().st_size < 1000
    says = (
        "refused to call numpy.ndarray with arguments from the file: NumPy would build an array"
        " at addresses and strides the file chooses. xpnn builds arrays itself."
    )
    with pytest.raises(xpnn.DataError, match=re.escape(says)):
        xpnn.load_weights(path)


@pytest.mark.parametrize(
    "value, message",
    [
        (array_state((784, 400_000), np.dtype("f4"), b"\0" * 4), r"holds 4 bytes, but shape \(784, 400000\)"),
        (Reduces(_frombuffer, (bytes(4), np.dtype("f4"), (784, 400_000), "C")), "holds 4 bytes"),
        (
            array_state((2,), np.dtype("f4"), b"\0" * 12),
            r"holds 12 bytes, but shape \(2,\) of float32 needs 8",
        ),
        (array_state((2,), np.dtype("O"), [1, 2]), "an object array"),
        (array_state((1,), np.dtype([("a", "f4")]), b"\0" * 4), "structured or subarray"),
        (array_state((1,), np.dtype(("f4", (2,))), b"\0" * 8), "structured or subarray"),
        (array_state((2,), np.dtype("i4"), b"\0" * 8), "dtype int32; weights must be floating"),
        (
            array_state(
                (2,), np.dtype("f16") if np.dtype("g").itemsize == 16 else np.dtype("c8"), b"\0" * 32
            ),
            "dtype",
        ),
        (array_state((-1,), np.dtype("f4"), b""), r"has shape \(-1,\)"),
        (array_state((True,), np.dtype("f4"), b"\0" * 4), r"has shape \(True,\)"),
        (array_state(((2,),), np.dtype("f4"), b"\0" * 8), r"has shape \(\(2,\),\)"),
        (array_state((2**40,), np.dtype("f4"), b""), r"has shape \(1099511627776,\)"),
        (array_state((10**400,), np.dtype("f4"), b""), r"has shape \(<a 1329-bit int>,\)"),
        (array_state([2], np.dtype("f4"), b"\0" * 8), r"has shape \[2\]; a shape is a tuple"),
        (array_state((2,), np.dtype("f4"), "\u20ac" * 8), "not a byte string"),
        (
            Reduces(_reconstruct, (np.dtype, (0,), b"b"), (1, (2,), np.dtype("f4"), False, b"\0" * 8)),
            "other than",
        ),
        (Reduces(collections.OrderedDict, ([("a", 1)],)), "refused to call collections.OrderedDict"),
        (Reduces(_frombuffer, (b"\0" * 8, np.dtype("f4"), (2,))), r"takes \(buffer, dtype, shape, order\)"),
        (array_state((1,) * 33, np.dtype("f4"), b"\0" * 4), "has shape"),
        (array_state((2,), np.dtype("f4"), b"\0" * 8, fortran=2), "Fortran-order flag 2"),
        (
            array_state((2,), Reduces(np.dtype, ("f4",), (3, "x", None, None, None, -1, -1, 0)), b"\0" * 8),
            "byte order 'x'",
        ),
        (
            array_state((2,), Reduces(np.dtype, ("f4",), (3, "", None, None, None, -1, -1, 0)), b"\0" * 8),
            "byte order ''",
        ),
        (
            array_state((2,), Reduces(np.dtype, ("f4",), (4, "<", None, None, None, -1, -1, 0, {})), b""),
            "never writes",
        ),
        (
            array_state((2,), Reduces(np.dtype, ("f4",), (4, "<", None, None, None, -1, -1, 0)), b"\0" * 8),
            "a dtype state NumPy never writes for a float",
        ),
        (array_state((2,), Reduces(np.dtype, ()), b"\0" * 8), "has dtype None; weights must be floating"),
        (array_state((2,), np.dtype("f4"), 12345), "array data of type int"),
        (array_state((2,), "f4", b"\0" * 8), "a dtype of type str"),
        (Reduces(_reconstruct, (np.ndarray, (0,), b"b")), "without a"),
        (Reduces(_frombuffer, (b"\0" * 8, np.dtype("f4"), (2,), "K")), "order 'K'"),
        (Reduces(np.dtype, ("f4", False, True)), "numpy.dtype, not an array"),
        ((np.zeros(2, np.float32),), "tuple, not an array"),
        (np.float32(1.0), "refused to load the global numpy"),  # a scalar, not an array
    ],
)
def test_what_numpy_would_have_built_is_checked_first(tmp_path: Path, value: object, message: str) -> None:
    path = write_pickle(tmp_path, weights_with(W1=value))
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)


def test_keys_are_names_and_the_top_is_a_dict(tmp_path: Path) -> None:
    with pytest.raises(xpnn.DataError, match="a key of type int"):
        xpnn.load_weights(write_pickle(tmp_path, {1: np.zeros(2, np.float32)}))
    with pytest.raises(xpnn.DataError, match="a key of type tuple"):
        xpnn.load_weights(write_pickle(tmp_path, {("W", 1): np.zeros(2, np.float32)}))
    with pytest.raises(xpnn.DataError, match="holds a NumPy array, not a dict"):
        xpnn.load_weights(write_pickle(tmp_path, np.zeros(2, np.float32)))


def test_one_block_of_bytes_shared_by_many_arrays_counts_for_each(tmp_path: Path) -> None:
    block = b"\0" * 40_000  # pickled once, then referenced from the memo by every array
    net = {f"W{i}": array_state((100, 100), np.dtype("f4"), block) for i in range(1, 51)}
    path = write_pickle(tmp_path, net)
    assert path.stat().st_size < 50_000
    with pytest.raises(
        xpnn.DataError, match=r"declares 2,000,000 bytes of arrays, over the limit of 1,000,000"
    ):
        xpnn.load_weights(path, max_bytes=1_000_000)


SIDE_EFFECTS = {
    "numpy.save": lambda target: (np.save, (target, [1.0])),
    "numpy.savetxt": lambda target: (np.savetxt, (target, [1.0])),
    "numpy.memmap": lambda target: (np.memmap, (target, np.float32, "w+", 0, (4,))),
    "open_memmap": lambda target: (np.lib.format.open_memmap, (target, "w+", np.float32, (4,))),
}


@pytest.mark.parametrize("name", SIDE_EFFECTS)
def test_numpy_globals_with_side_effects_are_never_called(tmp_path: Path, name: str) -> None:
    def payload(directory: Path) -> Reduces:
        func, args = SIDE_EFFECTS[name](str(directory / "side-effect.npy"))
        return Reduces(func, args)

    # The payload is real: plain pickle.loads writes the file.
    proof = tmp_path / "proof"
    proof.mkdir()
    obj = pickle.loads(pickle.dumps(payload(proof), protocol=4))
    del obj  # a memmap holds its file open
    assert (proof / "side-effect.npy").exists()

    victim = tmp_path / "victim"
    victim.mkdir()
    path = write_pickle(victim, weights_with(W1=payload(victim)))
    with pytest.raises(xpnn.DataError, match="refused to load the global numpy"):
        xpnn.load_weights(path)
    assert sorted(p.name for p in victim.iterdir()) == ["w.pkl"], "the pickle wrote a file"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x80\x02cnumpy\ndtype\n)\x81.", "opcode NEWOBJ"),
        (b"(inumpy\ndtype\n.", "opcode INST"),
        (b"\x80\x02(cnumpy\ndtype\no.", "opcode OBJ"),
        (b"\x80\x02\x82\x01.", "opcode EXT1"),
        (b"Pfoo\n.", "opcode PERSID"),
        (b"\x80\x05\x97.", "opcode NEXT_BUFFER"),
        (b"\x80\x04\x8f\x94.", "opcode EMPTY_SET"),
        (b"\x80\x02Nr" + struct.pack("<I", 2**31) + b".", "memo entry 2147483648"),
        (b"\x80\x02h\x05.", "memo entry 5, which it never stored"),
        (
            b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc.",
            "not a readable weights pickle",
        ),  # 4 EiB string
        (b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc.", "not a readable weights pickle"),
        (b"\x80\x02N\x86.", "underflows"),
        (b"\x80\x02Nu.", "no MARK"),
        (b"\x80\x02cnumpy\ndtype\n}b.", "may not set the state of numpy.dtype"),
        (
            b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x06\x00\x00\x00utf-16\x86R.",
            r"encode\(str, 'latin1'\)",
        ),
    ],
)
def test_opcodes_a_weights_pickle_never_needs_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "w.pkl"
    path.write_bytes(data)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)


@pytest.mark.parametrize(
    "data, message",
    [
        # DUP copies the top, depth and all: a copy of a 32-deep tuple wrapped once more is 33 deep
        (b"\x80\x02K\x00K\x00" + deep(b"\x85", 32) + b"2\x85.", "nests containers more than 32 deep"),
        # TUPLE1 took its item off the stack: a TUPLE2 then finds one item, not two
        (b"\x80\x02K\x00\x85\x86.", "underflows"),
        # an empty APPENDS adds no depth: a list wrapped in 31 tuples is 32 deep, allowed
        (b"\x80\x02](e" + b"\x85" * 31 + b".", "holds a tuple, not a dict"),
        # LONG_BINPUT and LONG_BINGET are what a pickler writes past memo entry 255
        (b"\x80\x02K\x01r\x00\x00\x00\x00j\x00\x00\x00\x00\x86.", "holds a tuple, not a dict"),
    ],
    ids=["dup-keeps-depth", "pops-take-items-off", "empty-appends", "long-memo"],
)
def test_the_prescan_follows_the_unpicklers_stack(tmp_path: Path, data: bytes, message: str) -> None:
    """The depth and stack the prescan models are the unpickler's: what it lets through loads
    (here to a tuple, which is then refused for what it is), what it refuses says why."""
    path = tmp_path / "w.pkl"
    path.write_bytes(data)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)


_DTYPE_F4 = b"cnumpy\ndtype\nX\x02\x00\x00\x00f4\x85R"
_DTYPE_STATE = b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"
_ARRAY = b"cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
_ARRAY_STATE = b"(K\x01K\x02\x85" + _DTYPE_F4 + b"\x89C\x08" + bytes(8) + b"t"


@pytest.mark.parametrize(
    "value, message, once",
    [
        (_DTYPE_F4 + _DTYPE_STATE, "a dtype's state was set twice", "is a numpy.dtype, not an array"),
        (_ARRAY + _ARRAY_STATE, "an array's state was set twice", r"missing \['b1'\]"),
    ],
)
def test_state_set_twice(tmp_path: Path, value: bytes, message: str, once: str) -> None:
    # pickle.dumps never writes this: BUILD on the same object twice, the second state from the memo
    path = tmp_path / "w.pkl"
    path.write_bytes(b"\x80\x02}X\x02\x00\x00\x00W1" + value + b"q\x00bh\x00bs.")
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)
    path.write_bytes(b"\x80\x02}X\x02\x00\x00\x00W1" + value + b"q\x00bs.")  # once: read as far as the keys
    with pytest.raises(xpnn.DataError, match=once):
        xpnn.load_weights(path)


def test_a_protocol_5_array_has_no_state(tmp_path: Path) -> None:
    value = Reduces(_frombuffer, (b"\0" * 8, np.dtype("f4"), (2,), "C"), {"x": 1})
    with pytest.raises(xpnn.DataError, match="on a protocol-5 array"):
        xpnn.load_weights(write_pickle(tmp_path, weights_with(W1=value)))


def test_calls_nested_in_calls_count_towards_the_nesting_limit(tmp_path: Path) -> None:
    value: object = b"\0" * 8
    for _ in range(17):  # each call adds its argument tuple and itself: 34 levels
        value = Reduces(_frombuffer, (value,))
    with pytest.raises(xpnn.DataError, match="more than 32 deep"):
        xpnn.load_weights(write_pickle(tmp_path, weights_with(W1=value)))


def test_codecs_encode_other_than_latin1_is_refused(tmp_path: Path) -> None:
    path = write_pickle(tmp_path, weights_with(W1=Reduces(codecs.encode, ("x", "rot13"))))
    with pytest.raises(xpnn.DataError, match=r"encode\(str, 'latin1'\)"):
        xpnn.load_weights(path)


NESTS = {
    "tuple": lambda inner: (inner,),
    "list": lambda inner: [inner],
    "dict": lambda inner: {"W": inner},
}


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("kind", NESTS)
@pytest.mark.parametrize("depth, message", [(32, "not an array"), (33, "more than 32 deep")])
def test_the_nesting_limit(tmp_path: Path, kind: str, protocol: int, depth: int, message: str) -> None:
    value: object = None
    for _ in range(depth - 1):  # the weights dict is one more level
        value = NESTS[kind](value)
    path = write_pickle(tmp_path, weights_with(W1=value), protocol=protocol)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)


def self_referencing() -> list:
    loop: list = []
    loop.append(loop)
    return loop


def tuple_in_its_own_list() -> tuple:
    inner: list = []
    outer = (inner, inner)
    inner.append(outer)
    return outer


@pytest.mark.parametrize("protocol", [0, 1, 2, 4])
@pytest.mark.parametrize("make", [self_referencing, tuple_in_its_own_list])
def test_self_referencing_values_are_not_arrays(tmp_path: Path, make: Callable, protocol: int) -> None:
    path = write_pickle(tmp_path, weights_with(W1=make()), protocol=protocol)
    with pytest.raises(xpnn.DataError, match=r"'W1' is a (list|tuple), not an array"):
        xpnn.load_weights(path)


def test_the_opcode_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_pickle(tmp_path, reference.random_network((2, 2), np.float32), protocol=0)
    monkeypatch.setattr(xpnn.io.pickle, "_MAX_PICKLE_OPS", 20)
    with pytest.raises(xpnn.DataError, match="more than 20 opcodes"):
        xpnn.load_weights(path)


def test_a_pickle_of_exactly_the_opcode_limit_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_pickle(tmp_path, reference.random_network((2, 2), np.float32), protocol=0)
    count = sum(1 for _ in pickletools.genops(path.read_bytes()))
    monkeypatch.setattr(xpnn.io.pickle, "_MAX_PICKLE_OPS", count)
    assert sorted(xpnn.load_weights(path)) == ["W1", "b1"]
    monkeypatch.setattr(xpnn.io.pickle, "_MAX_PICKLE_OPS", count - 1)
    with pytest.raises(xpnn.DataError, match=f"more than {count - 1:,} opcodes"):
        xpnn.load_weights(path)


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("depth, message", [(30, "'W1' is a dict, not an array"), (31, "more than 32 deep")])
def test_a_nested_tuple_key_counts_towards_the_nesting_limit(
    tmp_path: Path, protocol: int, depth: int, message: str
) -> None:
    """{((...(None,)...),): None} as W1: the key's depth, plus the dict and the weights dict."""
    key: object = None
    for _ in range(depth):
        key = (key,)
    path = write_pickle(tmp_path, weights_with(W1={key: None}), protocol=protocol)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)


# --- limits and file system faults, every format ---------------------------------------------------


@pytest.mark.parametrize("suffix", [".pkl", ".npz", ".safetensors"])
def test_a_file_over_the_limit_is_not_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"w{suffix}"
    net = reference.random_network((20, 10), np.float32)
    if suffix == ".pkl":
        path.write_bytes(pickle.dumps(net))
    else:
        xpnn.save_weights(net, path)
    with pytest.raises(xpnn.DataError, match=r"is \d[\d,]* bytes, over the limit of 100; pass max_bytes="):
        xpnn.load_weights(path, max_bytes=100)
    assert sorted(xpnn.load_weights(path)) == sorted(net)


def test_a_directory_a_pipe_a_symlink_loop_and_an_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "dir.pkl").mkdir()
    with pytest.raises(xpnn.DataError, match=r"dir\.pkl is not a regular file"):
        xpnn.load_weights(tmp_path / "dir.pkl")
    os.mkfifo(tmp_path / "pipe.npz")  # opening it would wait for a writer forever
    with pytest.raises(xpnn.DataError, match=r"pipe\.npz is not a regular file"):
        xpnn.load_weights(tmp_path / "pipe.npz")
    (tmp_path / "a.pkl").symlink_to(tmp_path / "b.pkl")
    (tmp_path / "b.pkl").symlink_to(tmp_path / "a.pkl")
    with pytest.raises(
        xpnn.DataError, match=r"cannot read the weights file .*a\.pkl: Too many levels of symbolic"
    ):
        xpnn.load_weights(tmp_path / "a.pkl")
    with pytest.raises(FileNotFoundError, match="no weights file"):
        xpnn.load_weights(tmp_path / "missing.pkl")

    path = write_pickle(tmp_path, reference.random_network((2, 2), np.float32))

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)  # chmod 000 does not stop root
    with pytest.raises(xpnn.DataError, match=r"cannot read the weights file .*w\.pkl: Permission denied"):
        xpnn.load_weights(path)


# --- .npz ------------------------------------------------------------------------------------------


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def npy_member(header: dict | str, data: bytes, version: int = 1) -> bytes:
    text = (header if isinstance(header, str) else repr(header)).encode("latin1") + b"\n"
    size = struct.pack("<H" if version == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + size + text + data


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(buffer, "w", compression) as zf:
            for name, data in members.items():
                zf.writestr(name.split("#")[0], data)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


GOOD_HEADER = {"descr": "<f4", "fortran_order": False, "shape": (2,)}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not a readable .npz"),
        (b"PK\x03\x04 and then nothing", "not a readable .npz"),
        (npy_member(GOOD_HEADER, b"\0" * 8), "not a readable .npz"),  # a .npy named .npz
        (zip_of({"W1.txt": b"hello"}), "not a .npy member"),
        (
            zip_of({"W1.npy": npy_member(GOOD_HEADER, b"\0" * 8), "W1.npy#2": b""}),
            "two zip members of the same",
        ),
        (zip_of({"W1.npy": b"\x93NUMPX\x01\x00"}), "not a .npy array"),
        (zip_of({"W1.npy": npy_member(GOOD_HEADER, b"", version=9)}), "version 9"),
        (zip_of({"W1.npy": b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{"}), "header of 2,147,483,647 bytes"),
        (zip_of({"W1.npy": b"\x93NUMPY\x01\x00\x40\x00{'descr'"}), "header is truncated"),
        (
            zip_of({"W1.npy": npy_member("__import__('os').system('touch pwned')", b"")}),
            "not a Python literal",
        ),
        (zip_of({"W1.npy": npy_member("{'descr': '<f4'}", b"")}), "not {'descr', 'fortran_order', 'shape'}"),
        (
            zip_of({"W1.npy": npy_member({**GOOD_HEADER, "descr": "<i4"}, b"\0" * 8)}),
            "int32; weights must be",
        ),
        (zip_of({"W1.npy": npy_member({**GOOD_HEADER, "descr": "|O"}, b"")}), "object"),
        (zip_of({"W1.npy": npy_member({**GOOD_HEADER, "descr": [("a", "<f4")]}, b"")}), r"dtype \[\('a'"),
        (zip_of({"W1.npy": npy_member({**GOOD_HEADER, "fortran_order": 1}, b"\0" * 8)}), "not a bool"),
        (zip_of({"W1.npy": npy_member({**GOOD_HEADER, "shape": (-2,)}, b"")}), r"shape \(-2,\)"),
        (
            zip_of({"W1.npy": npy_member({**GOOD_HEADER, "shape": (1000,)}, b"\0" * 8)}),
            "needs 4,000 bytes after the header, but the zip declares 8",
        ),
        (zip_of({"W1.npy": npy_member(GOOD_HEADER, b"\0" * 8)}, zipfile.ZIP_BZIP2), "zip compression 12"),
    ],
)
def test_broken_npz_files(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path, "w.npz", data)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_a_truncated_npz(tmp_path: Path, keep: float) -> None:
    data = npz_bytes(**reference.random_network((5, 4), np.float32))
    path = write(tmp_path, "w.npz", data[: int(len(data) * keep)])
    with pytest.raises(xpnn.DataError, match="not a readable .npz file"):
        xpnn.load_weights(path)


def test_a_flipped_byte_in_an_npz_is_a_crc_error(tmp_path: Path) -> None:
    net = reference.random_network((5, 4), np.float32)
    data = bytearray(npz_bytes(**net))
    data[data.find(net["W1"].tobytes()) + 3] ^= 0x40
    with pytest.raises(xpnn.DataError, match="Bad CRC-32"):
        xpnn.load_weights(write(tmp_path, "w.npz", bytes(data)))


def test_a_short_member_with_a_matching_crc_is_truncated(tmp_path: Path) -> None:
    # A whole network (W1 1x2, b1), so the check of keys and shapes, made before anything is
    # inflated, passes and the short member is found as it is read.
    member = npy_member({**GOOD_HEADER, "shape": (1, 2)}, b"\0" * 8)
    data = bytearray(zip_of({"W1.npy": member, "b1.npy": npy_member(GOOD_HEADER, b"\0" * 8)}))
    central = data.find(b"PK\x01\x02")  # CRC-32 at +16, compressed size at +20, as zipfile reads them
    struct.pack_into("<II", data, central + 16, zlib.crc32(member[:-4]), len(member) - 4)
    with pytest.raises(xpnn.DataError, match="W1.npy' is truncated"):
        xpnn.load_weights(write(tmp_path, "w.npz", bytes(data)))


def test_an_encrypted_member_is_refused(tmp_path: Path) -> None:
    data = bytearray(zip_of({"W1.npy": npy_member(GOOD_HEADER, b"\0" * 8)}))
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the "encrypted" flag, in the central directory entry
    with pytest.raises(xpnn.DataError, match="is encrypted"):
        xpnn.load_weights(write(tmp_path, "w.npz", bytes(data)))


def test_a_zip_bomb_is_refused_before_anything_is_inflated(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez_compressed(path, W1=np.zeros((512, 512)), b1=np.zeros(512))  # 2 MiB in a few KiB
    assert path.stat().st_size < 20_000
    tracemalloc.start()
    try:
        with pytest.raises(
            xpnn.DataError, match=r"declares 2,\d{3},\d{3} bytes uncompressed, over the limit"
        ):
            xpnn.load_weights(path, max_bytes=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200_000, f"{peak:,} bytes were allocated to refuse it"


def test_too_many_zip_members(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xpnn.io.npz, "_MAX_ZIP_MEMBERS", 3)
    members = {f"W{i}.npy": npy_member(GOOD_HEADER, b"\0" * 8) for i in range(4)}
    with pytest.raises(xpnn.DataError, match="more than 3 zip members"):
        xpnn.load_weights(write(tmp_path, "w.npz", zip_of(members)))


# --- .safetensors ----------------------------------------------------------------------------------


def safetensors_bytes(header: object, data: bytes = b"", length: int | None = None) -> bytes:
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(text) if length is None else length) + text + data


ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x05\0\0", "shorter than its 8-byte header length"),
        (
            safetensors_bytes({"W1": ENTRY}, b"\0" * 8, length=2**63),
            "declares a 9,223,372,036,854,775,808-byte",
        ),
        (safetensors_bytes(b"{not json"), "not JSON"),
        (safetensors_bytes(b"[" * 100_000), "not JSON"),
        (safetensors_bytes([1, 2]), "not a JSON object"),
        (safetensors_bytes({"W1": {"dtype": "F32"}}), "not {'dtype', 'shape', 'data_offsets'}"),
        (
            safetensors_bytes({"W1": {**ENTRY, "dtype": "I32"}}, b"\0" * 8),
            "dtype 'I32'; weights must be floating",
        ),
        (safetensors_bytes({"W1": {**ENTRY, "dtype": "BF16"}}, b"\0" * 8), "dtype 'BF16'"),
        (safetensors_bytes({"W1": {**ENTRY, "shape": [-2]}}, b"\0" * 8), r"shape \[-2\]"),
        (
            safetensors_bytes({"W1": {**ENTRY, "shape": {"2": 2}}}, b"\0" * 8),
            r"shape \{'2': 2\}; a shape is a list",
        ),
        (
            safetensors_bytes({"W1": {**ENTRY, "data_offsets": [0, 16]}}, b"\0" * 8),
            "outside the 8 data bytes",
        ),
        (safetensors_bytes({"W1": {**ENTRY, "data_offsets": [True, 8]}}, b"\0" * 8), "data_offsets"),
        (safetensors_bytes({"W1": {**ENTRY, "data_offsets": [0, 8]}}, b"\0" * 12), "leave gaps"),
        (
            safetensors_bytes({"W1": ENTRY, "b1": {**ENTRY, "data_offsets": [4, 12]}}, b"\0" * 12),
            "overlap",
        ),
        (safetensors_bytes({"W1": {**ENTRY, "shape": [3]}}, b"\0" * 8), r"holds 8 bytes, but shape \(3,\)"),
    ],
)
def test_broken_safetensors_files(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(write(tmp_path, "w.safetensors", data))


def test_a_truncated_safetensors_file(tmp_path: Path) -> None:
    path = xpnn.save_weights(reference.random_network((5, 4), np.float32), tmp_path / "w.safetensors")
    data = path.read_bytes()
    for keep in (4, 20, len(data) - 1):
        path.write_bytes(data[:keep])
        with pytest.raises(xpnn.DataError):
            xpnn.load_weights(path)


# --- issue 25: hostile .npz members bounded before decompression, long errors cut short -----------


def deflated_npz(members: dict[str, tuple[str, tuple[int, ...]]]) -> bytes:
    """A deflated .npz of zero-filled members ``name: (descr, shape)``: a few KiB on disk."""
    return zip_of(
        {
            f"{name}.npy": npy_member(
                {"descr": descr, "fortran_order": False, "shape": shape},
                bytes(math.prod(shape) * int(descr[-1])),
            )
            for name, (descr, shape) in members.items()
        },
        zipfile.ZIP_DEFLATED,
    )


def peak_bytes(load: Callable[[], object]) -> int:
    """What ``load()`` allocates at most (NumPy reports its arrays to tracemalloc too)."""
    tracemalloc.start()
    try:
        with contextlib.suppress(xpnn.DataError):
            load()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_huge_but_declared_npz_loads_in_what_it_declares(tmp_path: Path) -> None:
    """32 MiB of zeros in a 33 KB file, inside the limit: loaded into the arrays themselves,
    with no second copy (the tester's 1.0 MB file took 2,005 MB, twice what it declared)."""
    shapes = {"W1": ("<f4", (1024, 8192)), "b1": ("<f4", (8192,))}
    path = write(tmp_path, "w.npz", deflated_npz(shapes))
    declared = sum(math.prod(shape) * 4 for _, shape in shapes.values())
    assert path.stat().st_size < declared / 500
    peak = peak_bytes(lambda: xpnn.load_weights(path))
    assert peak < declared + (4 << 20), f"{peak:,} bytes allocated to load {declared:,} declared bytes"
    assert xpnn.load_weights(path)["W1"].shape == (1024, 8192)


@pytest.mark.parametrize(
    "members, message",
    [
        ({"W1": ("<f4", (1024, 8192)), "b1": ("<f4", (3,))}, r"b1 must have shape \(8192,\).*got \(3,\)"),
        (
            {"W1": ("<f4", (8, 2)), "b1": ("<f4", (2,)), "extra": ("<f4", (1 << 23,))},
            r"unexpected \['extra'\]",
        ),
        ({"W1": ("<f4", (1 << 23,)), "b1": ("<f4", (2,))}, r"W1.*\(8388608,\)"),
        ({f"x{i}": ("<f4", (8192,)) for i in range(10_000)}, r"unexpected \['x0', 'x1', .* and 9,995 more\]"),
    ],
    ids=["shapes-do-not-chain", "an-extra-member", "a-1-d-weight", "10000-members"],
)
def test_an_npz_that_is_no_network_is_refused_before_anything_is_inflated(
    tmp_path: Path, members: dict, message: str
) -> None:
    """The members declare 32 to 328 MB in all (inside the limit) in files of 30 KB to 2 MB: what
    is allocated to refuse them is a small part of it (the tester's file took 2,005 MB and 25 s)."""
    path = write(tmp_path, "w.npz", deflated_npz(members))
    declared = sum(math.prod(shape) * 4 for _, shape in members.values())
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)
    peak = peak_bytes(lambda: xpnn.load_weights(path))
    assert peak < declared / 8, f"{peak:,} bytes allocated to refuse {declared:,} declared bytes"


def many_keys(n: int) -> dict[str, np.ndarray]:
    return {f"W{i}": np.zeros((1, 1), np.float32) for i in range(1, n + 1)}


@pytest.mark.parametrize(
    "net, shown",
    [
        (many_keys(10_000), r"missing \['b1', 'b2', 'b3', 'b4', 'b5', \.\.\. and 9,995 more\]"),
        ({f"key{i}": np.zeros(1, np.float32) for i in range(10_000)}, r"\.\.\. and 9,995 more\]"),
        (
            {k: np.zeros(v.shape, np.int32) for k, v in reference.random_network((2,) * 5_001).items()},
            r"got \{'W1': 'int32', .*\.\.\. and 9,995 more\}",
        ),
        (  # as many as are shown: no "... and 0 more"; digit runs by value, the text after them as text
            {
                **reference.random_network((2, 2)),
                **{k: np.zeros(1) for k in ("d", "c10", "c2", "c1b", "c1ab")},
            },
            r"unexpected \['c1ab', 'c1b', 'c2', 'c10', 'd'\]$",
        ),
    ],
    ids=["10000-missing", "10000-unexpected", "10000-not-floating", "5-unexpected"],
)
def test_an_error_about_10000_keys_names_a_few(tmp_path: Path, net: dict, shown: str) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, **net)
    for action in (lambda: xpnn.save_weights(net, tmp_path / "out.npz"), lambda: xpnn.load_weights(path)):
        with pytest.raises(xpnn.DataError) as caught:
            action()
        assert len(str(caught.value)) < 500, f"{len(str(caught.value)):,} characters"
    with pytest.raises(xpnn.DataError, match=shown):  # loading refuses the first int member alone
        xpnn.save_weights(net, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


# --- issue 19: the record of the network (activation, layers) is read as data, and checked -------


def npz_with_record(record: bytes | np.ndarray) -> bytes:
    entry = np.frombuffer(record, np.uint8) if isinstance(record, bytes) else record
    return npz_bytes(**reference.random_network((3, 2), np.float32), __xpnn__=entry)


def record(**fields) -> bytes:
    return json.dumps({"format": 1, "layers": [3, 2], "activation": "relu", **fields}).encode()


HOSTILE_RECORDS = [
    (record(activation="swish"), "activation 'swish'"),
    (record(activation="__import__('os').system('touch pwned')"), r"activation \"__import__"),
    (record(activation=["relu"]), r"activation \['relu'\]"),
    (record(format=2), "format 2.*newer xpnn"),
    (record(format="1"), "format '1'"),
    (record(format=True), "format True"),
    (record(layers=[3, 4]), r"layers \[3, 4\].*the arrays are 3-2"),
    (record(layers=[3, True]), r"layers \[3, True\]"),
    (record(layers="3-2"), "layers '3-2'"),
    (record(code="print(1)"), r"unknown field.*'code'"),
    (json.dumps({"layers": [3, 2]}).encode(), "no format"),
    (b"[1, 2]", "not a JSON object"),
    (b"{not json", "not JSON"),
    (b"[" * 60_000, "not JSON"),  # nested deeper than the parser recurses
    (b'{"format": 1, "layers": [1' + b"0" * 5000 + b"]}", "not JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    (bytes(70_000), "70,000 bytes, over"),
]


@pytest.mark.parametrize("data, message", HOSTILE_RECORDS)
def test_a_hostile_record_in_an_npz_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path, "w.npz", npz_with_record(data))
    with pytest.raises(
        xpnn.DataError, match=f"^{re.escape(str(path))}: the xpnn record of the network.*{message}"
    ):
        xpnn.load_weights(path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "entry, message",
    [
        (np.zeros(4, np.float32), "float32"),
        (np.zeros((2, 2), np.uint8), r"shape \(2, 2\)"),
    ],
)
def test_the_npz_record_is_one_line_of_bytes(tmp_path: Path, entry: np.ndarray, message: str) -> None:
    with pytest.raises(xpnn.DataError, match="__xpnn__.*" + message):
        xpnn.load_weights(write(tmp_path, "w.npz", npz_with_record(entry)))


def safetensors_with(metadata: object) -> bytes:
    net = reference.random_network((3, 2), np.float32)
    header: dict = {"__metadata__": metadata}
    offset = 0
    for name, array in net.items():
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    return safetensors_bytes(header, b"".join(a.astype("<f4").tobytes() for a in net.values()))


def is_text(data: bytes) -> bool:
    try:
        return len(data.decode()) < 65_536
    except UnicodeDecodeError:
        return False


@pytest.mark.parametrize("data, message", [(d, m) for d, m in HOSTILE_RECORDS if is_text(d)])
def test_a_hostile_record_in_safetensors_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    """The same records as text in the metadata (a JSON header holds text only)."""
    with pytest.raises(xpnn.DataError, match="xpnn record of the network.*" + message):
        xpnn.load_weights(write(tmp_path, "w.safetensors", safetensors_with({"xpnn": data.decode()})))


@pytest.mark.parametrize(
    "metadata, message",
    [
        ([1], "__metadata__ is not a JSON object"),
        ({"format": 1}, r"__metadata__\['format'\] is 1, not a string"),
    ],
)
def test_safetensors_metadata_holds_strings(tmp_path: Path, metadata: object, message: str) -> None:
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(write(tmp_path, "w.safetensors", safetensors_with(metadata)))


def test_other_safetensors_metadata_is_left_alone(tmp_path: Path) -> None:
    loaded = xpnn.load_weights(write(tmp_path, "w.safetensors", safetensors_with({"format": "pt"})))
    assert type(loaded) is dict and sorted(loaded) == ["W1", "b1"]


# --- the attack report: a swap between the check and the read; the limit's own type ----------


class RewrittenOnceRead:
    """An open file that, once read to its end, has its file rewritten in place with ``new``
    (another writer, right after xpnn read it): a deterministic stand-in for the race."""

    def __init__(self, f, path: Path, new: bytes) -> None:
        self.f, self.path, self.new, self.rewritten = f, path, new, False

    def read(self, *args) -> bytes:
        data = self.f.read(*args)
        if not self.rewritten and self.f.tell() >= os.fstat(self.f.fileno()).st_size:
            self.rewritten = True
            with real_open(self.path, "r+b") as w:
                w.write(self.new)
                w.truncate()
        return data

    def readinto(self, buffer) -> int:
        raise AssertionError("read() only, in this stand-in")

    def __getattr__(self, name: str):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


real_open = open


#: The book's files a load checks against a pinned SHA-256: name= of load_sample_network, the
#: pin's table and key in xpnn.io.samples, and the shapes of a network that the load accepts.
PINNED_FILES = {
    None: ("SAMPLE_WEIGHTS", None, {"W1": (3, 2), "b1": (2,)}),
    "simple_convnet": (
        "SAMPLE_CONVNETS",
        "simple_convnet",
        {"W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,), "W3": (100, 10), "b3": (10,)},
    ),
}


@pytest.mark.parametrize("name", list(PINNED_FILES), ids=["sample_weight", "simple_convnet"])
def test_the_pinned_file_is_parsed_from_the_bytes_that_were_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str | None
) -> None:
    """Attack 5: sample_weight.pkl (and the book's ch. 7 file) was hashed in one read and parsed
    from a second: a file swapped in between loaded as verified."""
    import builtins

    table, key, shapes = PINNED_FILES[name]
    genuine_net = {k: np.full(shape, 0.5, np.float32) for k, shape in shapes.items()}
    evil_net = {k: np.full(shape, -0.5, np.float32) for k, shape in shapes.items()}
    remote = getattr(xpnn.io.samples, table) if key is None else getattr(xpnn.io.samples, table)[key]
    path = tmp_path / "weights" / remote.name
    path.parent.mkdir()
    genuine = pickle.dumps(genuine_net, protocol=4)
    path.write_bytes(genuine)
    pinned = xpnn.io.RemoteFile(remote.name, hashlib.sha256(genuine).hexdigest(), (), remote.what, remote.own)
    monkeypatch.setattr(xpnn.io.samples, table, pinned if key is None else {key: pinned})
    opened: list[RewrittenOnceRead] = []

    def racing_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if os.fspath(file) == os.fspath(path) and "r" in mode and not opened:
            opened.append(RewrittenOnceRead(f, path, pickle.dumps(evil_net, protocol=4)))
            return opened[-1]
        return f

    with monkeypatch.context() as racing:
        racing.setattr(builtins, "open", racing_open)
        racing.setattr(io, "open", racing_open)  # pathlib opens files with io.open
        net = xpnn.load_sample_network(tmp_path, download=False, name=name)
    assert opened and opened[0].rewritten, "the file was swapped right after its first read"
    for k in shapes:  # what was hashed is what was parsed
        np.testing.assert_array_equal(xpnn.to_numpy(net)[k], genuine_net[k])
    with pytest.raises(xpnn.DataError, match="SHA-256"):  # the swapped file is refused on its own
        xpnn.load_sample_network(tmp_path, download=False, name=name)


@pytest.mark.parametrize("max_bytes", [math.nan, None, "1000", True, False, 0, -1, 1.5, 1e9])
@pytest.mark.parametrize("load", ["load_weights", "load_params"])
def test_max_bytes_must_be_a_positive_integer(tmp_path: Path, load: str, max_bytes: object) -> None:
    """Attack 10: max_bytes=nan, None, "1000" or True bent or switched off the limit."""
    path = xpnn.save_weights(reference.random_network((3, 2), np.float32), tmp_path / "w.npz")
    with pytest.raises(
        ValueError, match=rf"^{load}: max_bytes must be a positive integer \(a number of bytes\)"
    ):
        getattr(xpnn, load)(path, max_bytes=max_bytes)
    assert sorted(getattr(xpnn, load)(path, max_bytes=np.int64(1 << 20))) == ["W1", "b1"]
    with pytest.raises(xpnn.DataError, match="over the limit of 10;"):
        getattr(xpnn, load)(path, max_bytes=10)


def test_a_pickle_error_is_quoted_in_full_up_to_200_characters(tmp_path: Path) -> None:
    """The reader's own error is kept whole up to 200 characters; a longer one is cut to 200."""

    def parse_error(n: int) -> str:
        try:
            int(b"x" * n)
        except ValueError as e:
            return str(e)
        raise AssertionError("int() parsed it")

    fits = next(n for n in range(300) if len(parse_error(n)) == 200)
    for n, quoted in ((fits, parse_error(fits)), (fits + 1, parse_error(fits + 1)[:197] + "...")):
        path = write(tmp_path, "w.pkl", b"\x80\x02I" + b"x" * n + b"\n.")  # INT of no digits
        with pytest.raises(xpnn.DataError) as e:
            xpnn.load_weights(path)
        assert str(e.value) == f"{path} is not a readable weights pickle (ValueError: {quoted})"
