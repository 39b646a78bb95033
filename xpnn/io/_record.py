"""The record of the network that save_weights writes (JSON: format, layers, activation), and its checks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._book_dict import layer_arrays
from ..errors import DataError
from ..functions import HIDDEN_ACTIVATIONS
from ._checks import names_text, short

#: The record of the network that save_weights writes, and its format version.
RECORD = "__xpnn__"  # a .npz member of uint8 (UTF-8 JSON); in .safetensors, __metadata__["xpnn"]
RECORD_FORMAT = 1
MLP_FIELDS = ("format", "layers", "activation")
MAX_RECORD = 65_536

#: A record as a file holds it (UTF-8 JSON, bytes or text) and where in the file it is.
Record = tuple[bytes | str, str]


def _sizes(weights: Mapping[str, Any]) -> list[int]:
    """``[784, 50, 100, 10]``: the layer sizes of a checked network."""
    layers = layer_arrays(weights)
    return [int(layers[0][0].shape[0])] + [int(W.shape[1]) for W, _ in layers]


def record_text(weights: Mapping[str, Any], activation: str | None) -> str:
    return json.dumps({"format": RECORD_FORMAT, "layers": _sizes(weights), "activation": activation})


def read_record(record: Record, source: str, allowed: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """A file's record as a JSON object of known fields (``allowed``) and format version, and the
    words that name it in errors; a :class:`DataError` for anything else."""
    raw, entry = record
    where = f"{source}: the xpnn record of the network ({entry})"
    if len(raw) > MAX_RECORD:
        raise DataError(f"{where} is {len(raw):,} bytes, over {MAX_RECORD:,}")
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
    unknown = set(fields) - set(allowed)
    if unknown:
        raise DataError(f"{where} has unknown fields {names_text(unknown)}; xpnn writes only {list(allowed)}")
    if "format" not in fields:
        raise DataError(f"{where} has no format version")
    version = fields["format"]
    if type(version) is not int or version < 1:
        raise DataError(f"{where} has format {short(version)}; format {RECORD_FORMAT} expected")
    if version > RECORD_FORMAT:
        raise DataError(
            f"{where} has format {version}: it was written by a newer xpnn (this one reads format"
            f" {RECORD_FORMAT}); upgrade xpnn to load it"
        )
    return fields, where


def parse_record(record: Record, source: str, weights: Mapping[str, np.ndarray]) -> str | None:
    """The activation a file's record names (None if none), after checking every field of it."""
    fields, where = read_record(record, source, MLP_FIELDS)
    layers, want = fields.get("layers"), _sizes(weights)
    if not (isinstance(layers, list) and all(type(d) is int for d in layers)):
        raise DataError(f"{where} has layers {short(layers)}; a list of ints such as [784, 50, 100, 10]")
    if layers != want:
        raise DataError(
            f"{where} has layers {short(layers)}, but the arrays are {'-'.join(map(str, want))}:"
            " the file was changed after it was written"
        )
    activation = fields.get("activation")
    if activation is not None and not (isinstance(activation, str) and activation in HIDDEN_ACTIVATIONS):
        raise DataError(
            f"{where} has activation {short(activation)}; one of {sorted(HIDDEN_ACTIVATIONS)} or null expected"
        )
    return activation


def is_layer_record(record: Record | None) -> bool:
    """Whether ``record`` is (at first sight) that of a layer network: a JSON object with ``network``.

    Only a peek to choose the checks; :func:`read_record` then checks every field of either kind.
    """
    if record is None or len(record[0]) > MAX_RECORD:
        return False
    try:
        fields = json.loads(record[0])
    except (ValueError, RecursionError, TypeError):
        return False
    return isinstance(fields, dict) and "network" in fields
