"""The record of a layer network (:class:`xpnn.Sequential`): its layers and input shape, as JSON.

``{"format": 1, "network": "sequential", "input_shape": [1, 28, 28], "layers": [{"type":
"Convolution", "index": 1, "stride": 1, "pad": 0}, ...]}``, written by :func:`record_text` and
read back by :func:`read_layers`. The record is hostile data like the rest of the file: only the
layer types of :data:`xpnn.nn.LAYERS`, only the keys each one has, ints and floats in range, and
the names and shapes of the file's arrays checked against the layers before any array is built.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np

from ..errors import DataError
from ..nn.layers import LAYERS, Layer, layer_from_spec
from ._checks import cut, names_text, short
from ._record import MAX_RECORD, RECORD_FORMAT, Record, read_record

__all__ = ["FIELDS", "check_arrays", "read_layers", "record_text"]

#: The fields of a layer network's record.
FIELDS = ("format", "network", "input_shape", "layers")
_NETWORK = "sequential"
MAX_LAYERS = 1_000
_MAX_INPUT_DIMS = 8
_MAX_DIM = 1 << 24
_MAX_INPUT_VALUES = 1 << 31
#: The range (inclusive) of each configuration value a layer may have; a field not named here is
#: an int in [0, 2**31).
_RANGES: dict[str, tuple[float, float]] = {
    "index": (1, 999_999_999),  # W1 .. W999999999, as the names of a weights file
    "stride": (1, 1 << 16),
    "pad": (0, 1 << 16),
    "pool_h": (1, 1 << 16),
    "pool_w": (1, 1 << 16),
    "momentum": (0.0, 1.0),
    "ratio": (0.0, 1.0),
}
_DEFAULT_RANGE = (0, (1 << 31) - 1)

Declared = list[tuple[str, np.dtype[Any], tuple[int, ...]]]


def _value(value: object, field: dataclasses.Field[Any], at: str) -> int | float:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    lo, hi = _RANGES.get(field.name, _DEFAULT_RANGE)
    if kind == "int" and type(value) is int and lo <= value <= hi:
        return value
    if kind == "float" and isinstance(value, (int, float)) and type(value) is not bool:
        number = float(value)
        if math.isfinite(number) and lo <= number <= hi:
            return number
    if kind not in ("int", "float"):
        raise DataError(f"{at}: {field.name} is a {kind}, which a record of the network cannot hold")
    want = f"an int from {lo:,} to {hi:,}" if kind == "int" else f"a number from {lo} to {hi}"
    raise DataError(f"{at} has {field.name} {short(value)}; {want} expected")


def _layer(entry: object, at: str) -> Layer:
    if not isinstance(entry, dict):
        raise DataError(f"{at} is {short(entry)}; a layer is a JSON object such as {{'type': 'Relu'}}")
    kind = entry.get("type")
    cls = LAYERS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise DataError(f"{at} has type {short(kind)}; xpnn knows the layer types {sorted(LAYERS)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(entry) - {"type"} - set(fields)
    if unknown:
        raise DataError(
            f"{at} ({kind}) has unknown keys {names_text(unknown)}; a {kind} has {sorted(fields)}"
        )
    missing = [
        name
        for name, f in fields.items()
        if name not in entry and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise DataError(f"{at} ({kind}) has no {', '.join(missing)}")
    config = {name: _value(entry[name], fields[name], f"{at} ({kind})") for name in fields if name in entry}
    try:
        return layer_from_spec({"type": kind, **config})
    except ValueError as e:
        raise DataError(f"{at}: {cut(e)}") from None


def _input_shape(value: object, where: str) -> tuple[int, ...]:
    if not (
        isinstance(value, list)
        and 1 <= len(value) <= _MAX_INPUT_DIMS
        and all(type(d) is int and 1 <= d <= _MAX_DIM for d in value)
        and math.prod(value) <= _MAX_INPUT_VALUES
    ):
        raise DataError(
            f"{where} has input_shape {short(value)}; a list of 1 to {_MAX_INPUT_DIMS} positive ints"
            f" (at most {_MAX_INPUT_VALUES:,} values) such as [1, 28, 28]"
        )
    return tuple(value)


def read_layers(record: Record, source: str) -> tuple[tuple[Layer, ...], tuple[int, ...]]:
    """The layers and the input shape a layer network's record gives, every field checked."""
    fields, where = read_record(record, source, FIELDS)
    if fields.get("network") != _NETWORK:
        raise DataError(f"{where} has network {short(fields.get('network'))}; {_NETWORK!r} expected")
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        raise DataError(f"{where} has no {', '.join(missing)}")
    raw = fields["layers"]
    if not (isinstance(raw, list) and 1 <= len(raw) <= MAX_LAYERS):
        raise DataError(f"{where} has layers {short(raw)}; a list of 1 to {MAX_LAYERS:,} layer objects")
    layers = tuple(_layer(entry, f"{where}, layer {i + 1}") for i, entry in enumerate(raw))
    return layers, _input_shape(fields["input_shape"], where)


def check_arrays(
    layers: tuple[Layer, ...], input_shape: tuple[int, ...], declared: Declared, source: str
) -> None:
    """The file's arrays are exactly those the layers read, in shapes that fit them; checked on
    stand-ins that allocate nothing, before any array is built."""
    names = [n for layer in layers for n in (*layer.param_names(), *layer.state_names())]
    twice = {n for n in names if names.count(n) > 1}
    if twice:
        raise DataError(f"{source}: the recorded layers read {names_text(twice)} twice; the file is damaged")
    held = {name for name, _, _ in declared}
    missing, extra = set(names) - held, held - set(names)
    if missing or extra:
        raise DataError(
            f"{source}: the arrays do not match the recorded layers (the file was changed after it was"
            " written):"
            + (f" missing {names_text(missing)}" if missing else "")
            + (f" unexpected {names_text(extra)}" if extra else "")
        )
    try:
        standins = {name: np.broadcast_to(np.zeros((), dtype), shape) for name, dtype, shape in declared}
        shape = input_shape
        for layer in layers:
            shape = layer.output_shape(shape, standins)
    except (ValueError, TypeError, ArithmeticError) as e:
        raise DataError(f"{source}: the arrays do not fit the recorded layers: {cut(e)}") from None
    if len(shape) != 1 or shape[0] < 1:
        raise DataError(
            f"{source}: the recorded layers give outputs of shape {shape}; a classifier ends in (n,)"
        )


def record_text(layers: tuple[Layer, ...], input_shape: tuple[int, ...]) -> str:
    """The record of a layer network, checked as :func:`read_layers` will check it (so that
    :func:`xpnn.save_weights` never writes a file :func:`xpnn.load_weights` refuses)."""
    fields = {
        "format": RECORD_FORMAT,
        "network": _NETWORK,
        "input_shape": [int(d) for d in input_shape],
        "layers": [layer.spec() for layer in layers],
    }
    try:
        text = json.dumps(fields, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"this network's layers cannot be written into a file: {e}") from None
    if len(text.encode()) > MAX_RECORD:
        raise ValueError(f"this network's record is {len(text.encode()):,} bytes, over {MAX_RECORD:,}")
    try:
        read_layers((text, "the network to save"), "save_weights")
    except DataError as e:
        raise ValueError(f"this network cannot be saved: {e}") from None
    return text
