""".npz files (a zip of .npy members), read by xpnn's own parser: headers first, then inflated."""

from __future__ import annotations

import ast
import io
import math
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from ..errors import DataError
from ._checks import (
    CHUNK,
    KEY,
    LayoutCheck,
    check_keys,
    checked_shape,
    cut,
    describe_dtype,
    float_dtype,
    over_limit,
    short,
)
from ._record import MAX_RECORD, RECORD, Record

__all__ = ["read_npz"]

_MAX_ZIP_MEMBERS = 10_000
_MAX_NPY_HEADER = 65_535


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
                f"{where} has dtype {describe_dtype(code, byteorder)}; the xpnn record of the network"
                " is uint8 bytes (UTF-8 JSON)"
            )
        dtype = np.dtype(np.uint8)
    else:
        dtype = float_dtype(code, byteorder, where)
    if not isinstance(header["fortran_order"], bool):
        raise DataError(f"{where}: fortran_order is {short(header['fortran_order'])}, not a bool")
    return (
        dtype,
        checked_shape(header["shape"], where, max_bytes),
        header["fortran_order"],
        len(magic) + len(size_bytes) + length,
    )


def read_npz(
    data: bytes, source: str, max_bytes: int, check: LayoutCheck | None
) -> tuple[dict[str, np.ndarray], Record | None]:
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
                    f"{source} declares {declared_total:,} bytes uncompressed, {over_limit(max_bytes)}"
                )
            for info in infos:
                where = f"{source}: {short(info.filename)}"
                if not info.filename.endswith(".npy"):
                    raise DataError(f"{where} is not a .npy member")
                if info.flag_bits & 0x1:
                    raise DataError(f"{where} is encrypted")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise DataError(
                        f"{where} uses zip compression {info.compress_type}; xpnn reads stored or deflated"
                    )
            keys = [name[: -len(".npy")] for name in names if name != RECORD + ".npy"]
            # Without a record the file can only be the book's W1..Wn, b1..bn: a name no such network
            # has is refused before any header is read.
            if check is not None and len(keys) == len(names) and not all(KEY.fullmatch(k) for k in keys):
                check_keys(keys, source)
            members = []
            record: Record | None = None
            for info in infos:
                where = f"{source}: {short(info.filename)}"
                is_record = info.filename == RECORD + ".npy"
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
                        if nbytes > MAX_RECORD:
                            raise DataError(
                                f"{source}: the xpnn record of the network ({RECORD}) is {nbytes:,} bytes,"
                                f" over {MAX_RECORD:,}; the file is damaged or not one xpnn wrote"
                            )
                        record = (_read_exactly(f, nbytes, where), RECORD)
                        continue
                members.append((info, where, dtype, shape, fortran, header_length))
            # Keys and shapes from the headers alone: a file that is no network is refused here,
            # before a single member is inflated.
            if check is not None:
                check(
                    [(info.filename[: -len(".npy")], d, shape) for info, _, d, shape, _, _ in members], record
                )
            arrays = {}
            for info, where, dtype, shape, fortran, header_length in members:
                arrays[info.filename[: -len(".npy")]] = _inflate(
                    zf, info, where, dtype, shape, fortran, header_length
                )
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{source} is not a readable .npz file ({type(e).__name__}: {cut(e)})") from e
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
            chunk = f.read(min(CHUNK, len(memory) - filled))
            if not chunk:
                raise DataError(f"{where} is truncated")
            memory[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
    if not dtype.isnative:
        array.byteswap(inplace=True)
    return array
