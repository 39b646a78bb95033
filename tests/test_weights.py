"""Weights: the book's pickle without running pickle code, .npz, .safetensors, validation."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import math
import os
import pickle
import pickletools
import re
import signal
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import reference

import xpnn
import xpnn.io.npz
import xpnn.io.samples

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct


def test_the_books_pickle(real_data_dir: Path) -> None:
    net = xpnn.load_weights(real_data_dir / "weights" / "sample_weight.pkl")
    assert {k: v.shape for k, v in net.items()} == {
        "W1": (784, 50),
        "b1": (50,),
        "W2": (50, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert all(v.dtype == np.float32 for v in net.values())
    np.testing.assert_array_equal(xpnn.load_sample_network(real_data_dir, download=False)["W2"], net["W2"])


def test_a_pickle_of_arrays_written_here_loads(tmp_path: Path) -> None:
    net = reference.random_network((4, 3, 2), np.float32)
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps(net, protocol=3))
    loaded = xpnn.load_weights(path)
    for k in net:
        np.testing.assert_array_equal(loaded[k], net[k])


class WritesAFile:
    """Unpickling this object would write a file: the classic pickle attack, made observable."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.write_text, (Path(self.target), "pwned"))


class RunsAShellCommand:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.parametrize("payload", [WritesAFile, RunsAShellCommand])
@pytest.mark.parametrize("where", ["top", "inside_the_dict"])
def test_a_malicious_pickle_never_runs(tmp_path: Path, payload, where: str) -> None:
    target = tmp_path / "side-effect"
    evil = payload(str(target))
    obj = evil if where == "top" else {**reference.random_network((2, 2), np.float32), "W1": evil}
    path = tmp_path / "sample_weight.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=3))
    assert any(op.name in ("GLOBAL", "STACK_GLOBAL") for op, _, _ in pickletools.genops(path.read_bytes()))
    with pytest.raises(xpnn.DataError, match="refused to load the global"):
        xpnn.load_weights(path)
    assert not target.exists(), "the pickle's code ran"


def test_a_truncated_pickle(tmp_path: Path) -> None:
    path = tmp_path / "w.pkl"
    path.write_bytes(pickle.dumps(reference.random_network((3, 2)), protocol=3)[:50])
    with pytest.raises(xpnn.DataError, match="not a readable weights pickle"):
        xpnn.load_weights(path)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_save_and_load_round_trip(tmp_path: Path, suffix: str, backend) -> None:
    net = reference.random_network((5, 4, 3), np.float32)
    placed = xpnn.to_backend(net, backend.name, backend.device)
    path = xpnn.save_weights(placed, tmp_path / f"net{suffix}")
    loaded = xpnn.load_weights(path)
    assert sorted(loaded) == sorted(net)
    for k in net:
        np.testing.assert_array_equal(loaded[k], net[k])
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary files are left"


def test_npz_with_object_arrays_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, W1=np.array([object()], dtype=object), b1=np.zeros(1))
    with pytest.raises(xpnn.DataError, match="pickle"):
        xpnn.load_weights(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda n: n.pop("b2"), r"missing \['b2'\]"),
        (lambda n: n.update(W2=np.ones((4, 2), np.float32)), r"W2.*\(4, 2\)"),
        (lambda n: n.update(W1=np.ones((5, 4), np.int32)), "int32.*floating arrays|floating arrays.*int32"),
        (lambda n: n.update(extra=np.ones(1, np.float32)), "unexpected"),
    ],
)
def test_validation_names_what_is_wrong(tmp_path: Path, change, message: str) -> None:
    net = reference.random_network((5, 4, 3), np.float32)
    change(net)
    path = tmp_path / "w.npz"
    np.savez(path, **net)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.save_weights(net, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_unknown_formats_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no weights file"):
        xpnn.load_weights(tmp_path / "nope.npz")
    (tmp_path / "w.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="unknown weights format '.h5'"):
        xpnn.load_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match=r"writes .npz or .safetensors, not '.pkl'"):
        xpnn.save_weights(reference.random_network((2, 2)), tmp_path / "w.pkl")


def test_not_a_dict(tmp_path: Path) -> None:
    path = tmp_path / "w.pkl"
    path.write_bytes(pickle.dumps([np.zeros(2)], protocol=3))
    with pytest.raises(xpnn.DataError, match="holds a list, not a dict"):
        xpnn.load_weights(path)


# --- genuine files load bit-identically ------------------------------------------------------


def awkward_network() -> dict[str, np.ndarray]:
    """Every layout a genuine file may hold: float16/32/64, C and Fortran order, big-endian, a
    strided view, and the bit patterns that must survive (-0.0, a NaN payload, infinities)."""
    net = reference.random_network((5, 4, 3, 2), np.float64)
    net["W1"] = net["W1"].astype(np.float16)
    net["b1"] = net["b1"].astype(np.float32)
    net["W2"] = np.asfortranarray(net["W2"])
    net["b2"] = net["b2"].astype(">f4")
    net["W3"] = np.repeat(net["W3"], 2, axis=1).astype(np.float32)[:, ::2]  # not contiguous
    assert not net["W3"].flags.c_contiguous and not net["W3"].flags.f_contiguous
    net["b3"] = np.array([-0.0, np.float64(np.nan)], dtype=np.float64)
    net["b3"].view(np.uint64)[1] |= 0x5  # a NaN with a payload
    net["W2"][1, 2] = -np.inf
    return net


def assert_bit_identical(loaded: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    """Same keys, shapes, element types and bits (in native byte order), same memory order."""
    assert sorted(loaded) == sorted(expected)
    for k, want in expected.items():
        got, native = loaded[k], want.dtype.newbyteorder("=")
        assert got.dtype.newbyteorder("=") == native and got.shape == want.shape, k
        assert got.astype(native).tobytes() == want.astype(native).tobytes(), f"{k} differs in its bits"
        assert got.flags.f_contiguous == want.flags.f_contiguous or got.ndim < 2, k


def assert_loaded_bit_identical(path: Path, expected: dict[str, np.ndarray]) -> None:
    loaded = xpnn.load_weights(path, allow_nonfinite=True)
    assert_bit_identical(loaded, expected)
    for k, got in loaded.items():
        assert got.dtype.isnative, f"{k} is {got.dtype}, not in native byte order"
        assert got.flags.owndata and got.flags.writeable, f"{k} is a view on the file's bytes"


def numpy1_names(data: bytes) -> bytes:
    """The same pickle as NumPy 1 writes it: ``numpy.core`` where NumPy 2 writes ``numpy._core``."""
    if data[:2] not in (b"\x80\x04", b"\x80\x05"):  # protocols 0-3 name globals in text lines
        return data.replace(b"numpy._core.", b"numpy.core.")
    # protocols 4-5: length-prefixed names, inside one length-prefixed frame (the pickle is small)
    out = data
    for module in (b"numpy._core.multiarray", b"numpy._core.numeric"):
        new = module.replace(b"._core", b".core")
        out = out.replace(b"\x8c" + bytes([len(module)]) + module, b"\x8c" + bytes([len(new)]) + new)
    frames = [(pos, arg) for op, arg, pos in pickletools.genops(data) if op.name == "FRAME"]
    assert [pos for pos, _ in frames] == [2]
    return out[:3] + struct.pack("<Q", frames[0][1] - (len(data) - len(out))) + out[11:]


@pytest.mark.parametrize("numpy1", [False, True], ids=["numpy2-names", "numpy1-names"])
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_genuine_numpy_pickles_load_bit_identically(tmp_path: Path, protocol: int, numpy1: bool) -> None:
    net = awkward_network()
    data = pickle.dumps(net, protocol=protocol)
    if numpy1:
        data = numpy1_names(data)
        assert b"numpy._core" not in data and b"numpy.core" in data
    with warnings.catch_warnings():  # pickle.load on NumPy 1 names warns that numpy.core moved
        warnings.simplefilter("ignore", DeprecationWarning)
        assert_bit_identical(pickle.loads(data), net)  # the reference: the file is genuine
    path = tmp_path / "net.pkl"
    path.write_bytes(data)
    assert_loaded_bit_identical(path, net)


def test_the_books_pickle_gives_what_pickle_load_gives(real_data_dir: Path) -> None:
    path = real_data_dir / "weights" / "sample_weight.pkl"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        expected = pickle.loads(path.read_bytes())
    assert b"numpy.core.multiarray" in path.read_bytes()  # written by NumPy 1
    assert_loaded_bit_identical(path, expected)


def test_an_ordered_dict_pickle_loads(tmp_path: Path) -> None:
    net = reference.random_network((3, 2), np.float32)
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps(collections.OrderedDict(net), protocol=4))
    assert_loaded_bit_identical(path, net)


@pytest.mark.parametrize("compressed", [False, True])
def test_genuine_npz_loads_bit_identically(tmp_path: Path, compressed: bool) -> None:
    net = awkward_network()
    path = tmp_path / "net.npz"
    (np.savez_compressed if compressed else np.savez)(path, **net)
    assert_loaded_bit_identical(path, net)


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_every_npy_version_in_an_npz_loads(tmp_path: Path, version: tuple[int, int]) -> None:
    net = reference.random_network((3, 2), np.float32)
    net["W1"] = np.asfortranarray(net["W1"])
    path = tmp_path / "net.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in net.items():
            with zf.open(f"{k}.npy", "w") as f:
                np.lib.format.write_array(f, v, version=version)
    assert_loaded_bit_identical(path, net)


def test_python2_style_array_data_loads(tmp_path: Path) -> None:
    # Python 2 wrote array data as a str; read with encoding="latin1" it is a str here.
    class Py2Array:
        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def __reduce__(self):
            state = (1, self.a.shape, self.a.dtype, False, self.a.tobytes().decode("latin1"))
            return (_reconstruct, (np.ndarray, (0,), b"b"), state)

    net = reference.random_network((3, 2), np.float32)
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps({k: Py2Array(v) for k, v in net.items()}, protocol=2))
    assert_loaded_bit_identical(path, net)


def test_genuine_safetensors_loads_bit_identically(tmp_path: Path) -> None:
    import safetensors.numpy

    net = {k: np.ascontiguousarray(v.astype(v.dtype.newbyteorder("="))) for k, v in awkward_network().items()}
    path = tmp_path / "net.safetensors"
    path.write_bytes(safetensors.numpy.save(net, metadata={"by": "safetensors"}))
    assert_loaded_bit_identical(path, net)


# --- NaN and infinity ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pkl", ".npz", ".safetensors"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused_unless_asked_for(tmp_path: Path, suffix: str, value: float) -> None:
    net = reference.random_network((4, 3, 2), np.float32)
    net["W2"][1, 0] = value
    net["W2"][2, 1] = np.nan  # a later one: the message names the first
    path = tmp_path / f"net{suffix}"
    if suffix == ".pkl":
        path.write_bytes(pickle.dumps(net, protocol=4))
    else:
        xpnn.save_weights(net, path)
    with pytest.raises(xpnn.DataError, match=rf"W2\[1, 0\] is {value}.*2 non-finite.*allow_nonfinite=True"):
        xpnn.load_weights(path)
    loaded = xpnn.load_weights(path, allow_nonfinite=True)
    np.testing.assert_array_equal(loaded["W2"], net["W2"])


# --- issue 14: what the tests did not guard ---------------------------------------------------


def test_an_interrupted_npz_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "net.npz"
    xpnn.save_weights(reference.random_network((3, 2), np.float32), path)
    old = path.read_bytes()

    def half_then_fail(file, **arrays) -> None:
        # Writes wherever it is told to, path or open file, then fails like a full disk.
        with contextlib.ExitStack() as stack:
            f = stack.enter_context(open(file, "wb")) if isinstance(file, (str, os.PathLike)) else file
            f.write(old[: len(old) // 2])
            f.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        xpnn.save_weights(reference.random_network((3, 2), np.float32, seed=1), path)
    assert path.read_bytes() == old, "the good file was damaged"
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"], "a temporary file was left behind"


def test_a_list_value_is_a_data_error(tmp_path: Path) -> None:
    net: dict = reference.random_network((3, 2), np.float32)
    net["b1"] = [0.0, 1.0]
    path = tmp_path / "w.pkl"
    path.write_bytes(pickle.dumps(net, protocol=4))
    with pytest.raises(xpnn.DataError, match="'b1' is a list, not an array"):
        xpnn.load_weights(path)


# --- mutation testing (nox -s mutation): what the surviving mutants showed untested ------------


@pytest.mark.parametrize("suffix", [".npz", ".pkl"])
@pytest.mark.parametrize(
    "dtype, shown",
    [
        (">i4", "has dtype >i4;"),  # the byte order is part of what the file wrote
        ("<i4", "has dtype int32;"),
        (">u2", "has dtype >u2;"),
    ],
)
def test_a_non_float_dtype_is_named_with_its_byte_order(
    tmp_path: Path, suffix: str, dtype: str, shown: str
) -> None:
    net = {"W1": np.zeros((2, 2), dtype=dtype), "b1": np.zeros(2)}
    path = tmp_path / f"w{suffix}"
    if suffix == ".npz":
        np.savez(path, **net)
    else:
        path.write_bytes(pickle.dumps(net, protocol=4))
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path)
    assert str(e.value).endswith(f"{shown} weights must be floating arrays (float16, float32 or float64)")


def test_an_object_dtype_says_it_would_need_pickle(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, W1=np.zeros((2, 2), dtype=object), b1=np.zeros(2))
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path)
    assert "has dtype object (it would need pickle to load); weights must be" in str(e.value)


def test_a_message_names_an_objects_type_never_its_repr() -> None:
    """What a file holds is shown bounded: an instance by its type, never by its own repr."""
    from xpnn.io._checks import short as _short

    class Huge:
        def __repr__(self) -> str:
            return "x" * 10_000

    assert _short([Huge(), 1.5, None, True]) == "[Huge, 1.5, None, True]"


@pytest.mark.parametrize(
    "descr, shown",
    [("=<i4", "has dtype int32;"), ("<<i4", "has dtype '<i4';"), ("|>i4", "has dtype >i4;")],
)
def test_a_hand_made_npy_descr_is_named_as_numpy_reads_it_or_as_written(
    tmp_path: Path, descr: str, shown: str
) -> None:
    """A descr with two byte-order marks: NumPy's name where NumPy would read it, else the text."""
    header = repr({"descr": descr, "fortran_order": False, "shape": (1,)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W1.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(4))
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path)
    assert shown in str(e.value), str(e.value)


def test_an_error_text_from_a_file_is_folded_and_cut_to_its_limit(tmp_path: Path) -> None:
    """Text a file chose (here a refused global's name) is shown on one line, cut with "...":
    the global is cut to 100 characters."""
    module = ("a  b\nc" + "y" * 200).encode()  # STACK_GLOBAL: the name may hold any character
    path = tmp_path / "w.pkl"
    path.write_bytes(b"\x80\x04\x8c" + bytes([len(module)]) + module + b"\x8c\x01z\x93.")
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path)
    shown = "a b c" + "y" * 92 + "..."  # 100 characters of "a b cyyy...y.z"
    assert str(e.value).endswith(
        f"{path}: refused to load the global {shown}: a weights pickle may only hold NumPy arrays."
        " This file could run code if loaded with pickle.load; xpnn will not load it."
    )


@pytest.mark.parametrize(
    "data, message",
    [
        (bytes(8), "the .safetensors header is not JSON"),  # exactly the 8-byte length: a 0-byte header
        (struct.pack("<Q", 10) + b"{}   ", "declares a 10-byte header in a file of 13 bytes"),
    ],
)
def test_safetensors_header_lengths_at_the_edges(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(data)
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(path)


def test_saving_safetensors_without_the_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError) as e:
        xpnn.save_weights(reference.random_network((3, 2), np.float32), tmp_path / "w.safetensors")
    assert str(e.value) == (  # the one wording of xpnn.backends.missing_extra
        f"writing {tmp_path / 'w.safetensors'} needs the `safetensors` extra: pip install 'xpnn[safetensors]'"
        " (in a clone: pip install -e '.[safetensors]'); safetensors cannot be imported here"
        " (import of safetensors.numpy halted; None in sys.modules); or name a .npz file, which needs nothing more"
    )
    assert not (tmp_path / "w.safetensors").exists()


def _npy(header: bytes, version: int = 1, data: bytes = b"", length: int | None = None) -> bytes:
    """A .npy member as bytes: magic, version, header length (as declared, or the true one), header, data."""
    size = struct.pack("<H" if version == 1 else "<I", len(header) if length is None else length)
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + data


def _npz_with(tmp_path: Path, member: bytes) -> Path:
    path = tmp_path / "w.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("W1.npy", member)
        z.writestr(
            "b1.npy", _npy(b"{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n", data=bytes(16))
        )
    return path


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("length", [100, 65_535])
def test_npy_headers_up_to_the_limit_load(tmp_path: Path, version: int, length: int) -> None:
    """Header lengths up to 65,535 bytes (the largest a version-1 file can declare) are read whole."""
    text = b"{'descr': '|f8', 'fortran_order': False, 'shape': (1, 2)}"
    header = text + b" " * (length - len(text) - 1) + b"\n"
    path = _npz_with(tmp_path, _npy(header, version, data=np.array([1.0, 2.0]).tobytes()))
    w = xpnn.load_weights(path)
    assert w["W1"].dtype == np.float64
    np.testing.assert_array_equal(w["W1"], [[1.0, 2.0]])


@pytest.mark.parametrize(
    "member, message",
    [
        (_npy(b"", 2, length=0xFFFF_FFFF), "declares a .npy header of 4,294,967,295 bytes, over 65,535"),
        (_npy(b"", 2, length=65_536), "declares a .npy header of 65,536 bytes, over 65,535"),
        (_npy(b"{", 4), "is .npy format version 4, which xpnn does not read"),
        (b"\x93NUMPY\x02\x00\x10", "the .npy header is truncated"),
        (_npy(b"{{{\n"), r"the .npy header is not a Python literal \(SyntaxError\)"),
        (_npy(b"{'descr': 5, 'fortran_order': False, 'shape': (2,)}\n"), "has dtype 5;"),
        # Version 3 headers are UTF-8, versions 1 and 2 Latin-1: the same letter, either way.
        (_npy("{'descr': 'é', 'fortran_order': False, 'shape': (2,)}\n".encode(), 3), "has dtype 'é';"),
        (
            _npy("{'descr': 'é', 'fortran_order': False, 'shape': (2,)}\n".encode("latin1"), 2),
            "has dtype 'é';",
        ),
    ],
)
def test_npy_headers_xpnn_refuses_say_why(tmp_path: Path, member: bytes, message: str) -> None:
    with pytest.raises(xpnn.DataError, match=message):
        xpnn.load_weights(_npz_with(tmp_path, member))


@pytest.mark.parametrize(
    "shape, shown",
    [
        ((-1, *range(1, 10)), "(-1, 1, 2, 3, 4, 5, ...)"),
        (list(range(10)), "[0, 1, 2, 3, 4, 5, ...]"),
        ({i: i for i in range(1, 7)}, "{1: 1, 2: 2, 3: 3, 4: 4, ...}"),
        ("x" * 100, "'" + "x" * 17 + "..." + "x" * 18 + "'"),
        ((((((1,),),),),), "((((...),),),)"),
    ],
    ids=["tuple", "list", "dict", "str", "nested"],
)
def test_a_hostile_shape_is_shown_cut_short(tmp_path: Path, shape: object, shown: str) -> None:
    """What a file holds is shown to at most 6 items, 4 keys, 3 levels and 40 characters."""
    path = _npz_with(
        tmp_path, _npy(f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape!r}}}\n".encode())
    )
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path)
    assert str(e.value) == f"{path}: 'W1.npy' has shape {shown}; a shape is a tuple of non-negative ints"


@pytest.mark.parametrize(
    "shape, refused",
    [((1,) * 32, False), ((1,) * 33, True), ((0, 10_000), False), ((0, 10_001), True)],
    ids=["32-dims", "33-dims", "dim-at-max_bytes", "dim-past-max_bytes"],
)
def test_shape_limits_are_inclusive(tmp_path: Path, shape: tuple[int, ...], refused: bool) -> None:
    """At most 32 dimensions, each at most max_bytes: at a limit the shape is read (and the network
    check that follows speaks), one past it the shape itself is refused."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}}}\n".encode()
    path = _npz_with(tmp_path, _npy(header, data=bytes(8 * math.prod(shape))))
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path, max_bytes=10_000)
    assert ("a shape is a tuple of non-negative ints" in str(e.value)) == refused, str(e.value)


def test_npz_limits_are_inclusive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly at a limit loads: as many members as allowed, as many declared bytes as max_bytes."""
    import xpnn.io.npz

    path = tmp_path / "w.npz"
    np.savez_compressed(path, W1=np.ones((20, 30)), b1=np.zeros(30))  # the file: smaller than declared
    with zipfile.ZipFile(path) as z:
        declared = sum(i.file_size for i in z.infolist())
    monkeypatch.setattr(xpnn.io.npz, "_MAX_ZIP_MEMBERS", 2)
    w = xpnn.load_weights(path, max_bytes=declared)
    np.testing.assert_array_equal(w["W1"], np.ones((20, 30)))
    with pytest.raises(xpnn.DataError, match=f"declares {declared:,} bytes uncompressed, over the limit"):
        xpnn.load_weights(path, max_bytes=declared - 1)
    monkeypatch.setattr(xpnn.io.npz, "_MAX_ZIP_MEMBERS", 1)
    with pytest.raises(xpnn.DataError, match="has more than 1 zip members"):
        xpnn.load_weights(path)


def test_an_unreadable_npz_names_the_error_type(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 10)
    with pytest.raises(xpnn.DataError, match=r"is not a readable .npz file \(BadZipFile: "):
        xpnn.load_weights(path)


def _safetensors_file(path: Path, header: dict, body: bytes) -> Path:
    import json

    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)
    return path


@pytest.mark.parametrize(
    "header, body, message",
    [
        ({"W1": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4), "'W1' has dtype 'I32'"),
        ({"W1": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4), "'W1' has shape [-1]"),
        (
            {"W1": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}},
            bytes(8),
            "'W1' has data_offsets [4, 0] outside the 8 data bytes",
        ),
        ({"W1": {"dtype": "F32", "shape": [1]}}, bytes(4), "'W1' is not {'dtype', 'shape', 'data_offsets'}"),
        ({"W1": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4), "W1 holds 4 bytes"),
    ],
)
def test_safetensors_errors_name_the_file_and_the_tensor(
    tmp_path: Path, header: dict, body: bytes, message: str
) -> None:
    path = _safetensors_file(tmp_path / "w.safetensors", header, body)
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path)
    assert str(e.value).startswith(f"{path}: {message}"), str(e.value)


def test_safetensors_edge_cases(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", 3) + b"{x}")
    with pytest.raises(xpnn.DataError, match=r"the .safetensors header is not JSON \(JSONDecodeError\)"):
        xpnn.load_weights(path)
    empty = {"dtype": "F32", "shape": [0, 1], "data_offsets": [0, 0]}  # a zero-size tensor: no bytes
    header = {"W1": empty, "b1": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    w = xpnn.load_weights(_safetensors_file(path, header, bytes(4)))
    assert w["W1"].shape == (0, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        (b"{'descr': '<i4', 'fortran_order': False, 'shape': (1,)}", "'W1.npy' has dtype int32"),
        (b"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", "'W1.npy' has shape"),
        (b"{'descr': '<f8', 'fortran_order': 1, 'shape': (1,)}", "'W1.npy': fortran_order is 1, not a bool"),
    ],
)
def test_npz_errors_name_the_file_and_the_member(tmp_path: Path, text: bytes, message: str) -> None:
    path = _npz_with(tmp_path, _npy(text + b"\n", data=bytes(8)))
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path)
    assert str(e.value).startswith(f"{path}: {message}"), str(e.value)


@pytest.mark.parametrize(
    "dim, shown", [(-(2**63), str(-(2**63))), (-(2**64), "<a 65-bit int>"), (2**64, "<a 65-bit int>")]
)
def test_ints_up_to_64_bits_are_shown_in_full(tmp_path: Path, dim: int, shown: str) -> None:
    """A file's int is quoted whole up to 64 bits; a longer one by its size (never 10,000 digits)."""
    header = {"W1": {"dtype": "F32", "shape": [dim], "data_offsets": [0, 4]}}
    path = _safetensors_file(tmp_path / "w.safetensors", header, bytes(4))
    with pytest.raises(xpnn.DataError) as e:
        xpnn.load_weights(path)
    assert str(e.value) == f"{path}: 'W1' has shape [{shown}]; a shape is a list of non-negative ints"


def test_a_file_that_grows_after_its_size_was_checked_is_read_to_that_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is appended between the size check and the read is not read (nor counted)."""
    header = {
        "W1": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b1": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]},
    }
    path = _safetensors_file(tmp_path / "w.safetensors", header, np.arange(6, dtype="<f4").tobytes())
    real_open = Path.open

    def growing(self: Path, *args, **kwargs):
        if self == path:
            with real_open(self, "ab") as f:
                f.write(bytes(1000))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", growing)
    w = xpnn.load_weights(path)
    np.testing.assert_array_equal(w["W1"], np.arange(4, dtype=np.float32).reshape(2, 2))
    np.testing.assert_array_equal(w["b1"], np.array([4, 5], dtype=np.float32))


# --- issues 24, 25 and 19: the pin on every load, temporary files, links, the architecture --------


def test_a_changed_sample_weights_file_is_refused_on_every_load(real_data_dir: Path, tmp_path: Path) -> None:
    """One flipped value in W2 of the book's own file: the pin is checked on load, not only on download."""
    raw = bytearray((real_data_dir / "weights" / "sample_weight.pkl").read_bytes())
    w2 = xpnn.load_weights(real_data_dir / "weights" / "sample_weight.pkl")["W2"]
    data = w2.astype("<f4").tobytes(order="A")  # the file holds it in Fortran order
    at = bytes(raw).find(data)
    assert at > 0 and bytes(raw).count(data) == 1
    raw[at + 4 * 17] ^= 0x01  # the lowest mantissa bit of one value
    path = tmp_path / "weights" / "sample_weight.pkl"
    path.parent.mkdir()
    path.write_bytes(bytes(raw))
    changed = xpnn.load_weights(path)["W2"]  # still a readable network, one value off
    assert np.count_nonzero(changed != w2) == 1
    with pytest.raises(xpnn.DataError) as caught:
        xpnn.load_sample_network(tmp_path, download=False)
    message = str(caught.value)
    assert str(path) in message and xpnn.io.samples.SAMPLE_WEIGHTS.sha256 in message
    assert hashlib.sha256(bytes(raw)).hexdigest() in message
    assert "Delete it" in message and "load_weights" in message
    assert path.read_bytes() == bytes(raw), "the file is left as it was"


def test_a_replaced_sample_weights_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights" / "sample_weight.pkl"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps(reference.random_network((784, 50, 100, 10), np.float32), protocol=2))
    for load in (xpnn.load_sample_network, xpnn.fetch_sample_weights):
        with pytest.raises(xpnn.DataError, match=r"differs from the book's sample_weight\.pkl"):
            load(tmp_path, download=False)
    assert xpnn.load_weights(path)["W1"].shape == (784, 50), "load_weights(path) still loads it"


def test_every_pinned_file_is_checked_when_it_is_fetched(tmp_path: Path) -> None:
    """The check lives in the fetch layer: any pinned file, present or not, downloads or not."""
    from xpnn.io import RemoteFile, fetch

    good = b"the pinned content"
    remote = RemoteFile("data.bin", hashlib.sha256(good).hexdigest(), ["https://example.invalid/"])
    (tmp_path / "data.bin").write_bytes(good)
    assert fetch(remote, tmp_path, download=False) == tmp_path / "data.bin"
    (tmp_path / "data.bin").write_bytes(b"the pinned content, changed")
    for download in (False, True):  # never downloaded over: the file is the user's to decide on
        with pytest.raises(xpnn.DataError, match=r"data\.bin.* SHA-256 is [0-9a-f]{64}.*not the pinned"):
            fetch(remote, tmp_path, download=download)
    assert (tmp_path / "data.bin").read_bytes() == b"the pinned content, changed"


SLOW_WRITER = """
import sys, time
from pathlib import Path
from xpnn.io import write_atomic

def write(f):
    f.write(b"x" * 100_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(600)

write_atomic(Path(sys.argv[1]), write)
"""


def start_writer(path: Path):
    """A process in the middle of ``write_atomic(path, ...)``: its temporary file exists."""
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout is not None and child.stdout.readline() == "writing\n"
    child.stdout.close()
    return child


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and pids as POSIX has them")
def test_a_killed_writers_temporary_file_is_swept_by_the_next_save(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    child = start_writer(path)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = temporaries(tmp_path)
    assert len(left) == 1 and left[0].startswith(".net.npz.") and str(child.pid) in left[0]
    other = tmp_path / ".other.npz.1.tmp"  # not a temporary of net.npz, not one of xpnn's names
    other.write_bytes(b"")
    xpnn.save_weights(reference.random_network((3, 2), np.float32), path)
    assert temporaries(tmp_path) == [other.name]
    assert sorted(xpnn.load_weights(path)) == ["W1", "b1"]


@pytest.mark.skipif(os.name != "posix", reason="pids as POSIX has them")
def test_a_live_writers_temporary_file_is_never_swept(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    child = start_writer(path)
    try:
        left = temporaries(tmp_path)
        xpnn.save_weights(reference.random_network((3, 2), np.float32), path)
        assert temporaries(tmp_path) == left and len(left) == 1
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(os.name != "posix", reason="pids as POSIX has them")
def test_a_dead_writers_temporary_name_is_recognised(tmp_path: Path) -> None:
    """A temporary name of a process that has ended (its pid from a child that was waited for)."""
    path = tmp_path / "w.safetensors"
    child = start_writer(path)
    name = temporaries(tmp_path)[0]
    child.kill()
    child.wait()
    (tmp_path / name).unlink()
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / name.replace(f"-{child.pid}.", f"-{int(ended.stdout)}.")
    stale.write_bytes(b"half a file")
    xpnn.save_weights(reference.random_network((3, 2), np.float32), path)
    assert temporaries(tmp_path) == []


def test_saving_onto_a_symbolic_link_writes_through_it(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "net-v1.npz"
    link = tmp_path / "current.npz"
    old, new = (
        reference.random_network((3, 2), np.float32),
        reference.random_network((3, 2), np.float32, seed=1),
    )
    xpnn.save_weights(old, target)
    link.symlink_to(Path("models") / "net-v1.npz")  # relative, as `ln -s` makes it
    assert xpnn.save_weights(new, link) == link
    assert link.is_symlink() and os.readlink(link) == str(Path("models") / "net-v1.npz")
    np.testing.assert_array_equal(xpnn.load_weights(target)["W1"], new["W1"])
    assert temporaries(tmp_path) == temporaries(tmp_path / "models") == []


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("placed", [True, False], ids=["network", "dict"])
def test_the_activation_travels_with_the_weights(
    tmp_path: Path, suffix: str, activation: str, placed: bool
) -> None:
    net = reference.random_network((6, 5, 4, 3), np.float32)
    x = np.random.default_rng(1).standard_normal((50, 6)).astype(np.float32)
    if placed:
        source = xpnn.to_backend(net, "numpy", activation=activation)
        path = xpnn.save_weights(source, tmp_path / f"net{suffix}")
        want = xpnn.predict_proba(source, x)
    else:
        path = xpnn.save_weights(net, tmp_path / f"net{suffix}", activation=activation)
        want = xpnn.predict_proba(net, x, activation=activation)
    loaded = xpnn.load_weights(path)
    assert isinstance(loaded, xpnn.Network) and loaded.activation == activation and loaded.backend == "numpy"
    np.testing.assert_array_equal(xpnn.predict_proba(loaded, x), want)
    np.testing.assert_array_equal(xpnn.predict(loaded, x), np.argmax(want, axis=1))
    for k in net:
        np.testing.assert_array_equal(loaded[k], net[k])


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_a_file_that_records_no_activation_loads_as_a_dict(tmp_path: Path, suffix: str) -> None:
    net = reference.random_network((4, 3, 2), np.float32)
    for source in (net, xpnn.to_backend(net, "numpy")):
        loaded = xpnn.load_weights(xpnn.save_weights(source, tmp_path / f"net{suffix}"))
        assert type(loaded) is dict and sorted(loaded) == sorted(net)


def test_an_activation_to_save_is_read_as_forward_reads_it(tmp_path: Path) -> None:
    """``activation="ReLU"`` is recorded as ``relu`` (names are case-insensitive); files hold lower case."""
    path = xpnn.save_weights(reference.random_network((3, 2)), tmp_path / "w.npz", activation="ReLU")
    assert xpnn.load_weights(path).activation == "relu"


def test_an_activation_to_save_must_be_known(tmp_path: Path) -> None:
    says = re.escape(
        "unknown activation 'swish'; save_weights records one of ['identity', 'relu', 'sigmoid', 'tanh']"
        " (a function cannot be written into a file)"
    )
    with pytest.raises(ValueError, match=f"^{says}$"):
        xpnn.save_weights(reference.random_network((3, 2)), tmp_path / "w.npz", activation="swish")
    assert not (tmp_path / "w.npz").exists()


def test_saving_onto_a_link_to_a_file_still_to_be_made_makes_it_there(tmp_path: Path) -> None:
    link = tmp_path / "current.safetensors"
    link.symlink_to(tmp_path / "v2.safetensors")
    net = reference.random_network((3, 2), np.float32)
    xpnn.save_weights(net, link)
    assert link.is_symlink() and (tmp_path / "v2.safetensors").is_file()
    np.testing.assert_array_equal(xpnn.load_weights(tmp_path / "v2.safetensors")["W1"], net["W1"])


def test_saving_through_a_link_to_a_directory_says_so(tmp_path: Path) -> None:
    """Attack 12: a raw IsADirectoryError that named the temporary file, not the path given."""
    (tmp_path / "models").mkdir()
    link = tmp_path / "net.npz"
    link.symlink_to(tmp_path / "models")
    with pytest.raises(xpnn.DataError) as e:
        xpnn.save_weights(reference.random_network((3, 2), np.float32), link)
    assert str(e.value).startswith(
        f"{link} (a link to {tmp_path / 'models'}) is a directory, not a regular file"
    )
    assert list((tmp_path / "models").iterdir()) == [] and link.is_symlink()
