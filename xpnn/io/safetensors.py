"""``.safetensors`` files: an 8-byte header length, a JSON header, then the tensors' bytes."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from ..backends import missing_extra
from ..errors import DataError
from ._checks import Declared, LayoutCheck, build, checked_shape, float_dtype, short
from ._record import Record

__all__ = ["read_safetensors", "safetensors_module"]

_MAX_SAFETENSORS_HEADER = 100 << 20  # the safetensors library's own limit
_SAFETENSORS_DTYPES = {"F16": "f2", "F32": "f4", "F64": "f8"}


def read_safetensors(
    data: bytes, source: str, max_bytes: int, check: LayoutCheck | None
) -> tuple[dict[str, np.ndarray], Record | None]:
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
    record: Record | None = None
    for name, entry in header.items():
        where = f"{source}: {short(name)}"
        if name == "__metadata__":  # the format's own: a JSON object of strings, xpnn's record among them
            if not isinstance(entry, dict):
                raise DataError(f"{source}: __metadata__ is not a JSON object (of strings)")
            for key, value in entry.items():
                if not isinstance(value, str):
                    raise DataError(f"{source}: __metadata__[{short(key)}] is {short(value)}, not a string")
            if "xpnn" in entry:
                record = (entry["xpnn"], "__metadata__['xpnn']")
            continue
        if not (isinstance(entry, dict) and set(entry) == {"dtype", "shape", "data_offsets"}):
            raise DataError(f"{where} is not {{'dtype', 'shape', 'data_offsets'}}")
        code = entry["dtype"]
        if code not in _SAFETENSORS_DTYPES:
            raise DataError(
                f"{where} has dtype {short(code)}; weights must be floating arrays (F16, F32 or F64)"
            )
        dtype = float_dtype(_SAFETENSORS_DTYPES[code], "<", where)
        shape = checked_shape(entry["shape"], where, max_bytes, kind=list)
        offsets = entry["data_offsets"]
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(type(o) is int for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= len(body)
        ):
            raise DataError(f"{where} has data_offsets {short(offsets)} outside the {len(body):,} data bytes")
        ranges.append(tuple(offsets))
        declared.append(Declared(name, dtype, shape, False, body[offsets[0] : offsets[1]]))
    ends = [0] + [end for _, end in sorted(ranges)]
    if [begin for begin, _ in sorted(ranges)] != ends[:-1] or ends[-1] != len(body):
        raise DataError(f"{source}: the tensors' data_offsets overlap or leave gaps in the data")
    return build(declared, source, max_bytes, check, record), record


def safetensors_module(what: str) -> Any:
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(
            f"{missing_extra(what, 'safetensors')}; safetensors cannot be imported here ({e});"
            " or name a .npz file, which needs nothing more"
        ) from e
    return safetensors.numpy
