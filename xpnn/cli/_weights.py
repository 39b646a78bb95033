"""Which network ``xpnn mnist`` and ``xpnn export`` run, and with which hidden activation."""

from __future__ import annotations

import argparse
import hashlib
import os
from typing import Any

from ..io import load_sample_network, load_weights


def network_and_activation(args: argparse.Namespace) -> tuple[Any, str | None, str | None]:
    """The weights ``--weights`` names (else the book's), the hidden activation to run them with,
    and the warning to print, if any.

    A file that records its activation (``xpnn train --out``) runs with it, and an ``--activation``
    that contradicts it is an error; a file that records none runs with ``--activation``, else
    the book's sigmoid, with a warning unless it is the book's own ``sample_weight.pkl``. A layer
    network (``xpnn train --network simple_convnet --out``) has its activations in its layers:
    its activation is None, and an ``--activation`` is an error.
    """
    from ..nn.sequential import is_layer_network

    if args.weights:
        weights = load_weights(args.weights)
    else:
        weights = load_sample_network(args.data_dir, download=not args.no_download)
    if is_layer_network(weights):  # not the book's Network, which is a Sequential too
        if args.activation is not None:
            raise ValueError(
                f"--activation {args.activation} does not apply to {args.weights}: it is a layer network,"
                " whose activations are its layers: leave out --activation"
            )
        return weights, None, None
    recorded = getattr(weights, "activation", None)
    recorded = recorded.lower() if isinstance(recorded, str) else None
    if args.activation is not None:
        if recorded is not None and args.activation != recorded:
            raise ValueError(
                f"--activation {args.activation} contradicts {args.weights}, which records activation"
                f" {recorded}: leave out --activation"
            )
        return weights, args.activation, None
    if recorded is not None:
        return weights, recorded, None
    warning = None
    if args.weights and not _is_the_books_sample(args.weights):
        warning = (
            f"xpnn: warning: {args.weights} records no activation: running it with sigmoid (the book's);"
            " if it was trained with relu, pass --activation relu"
        )
    return weights, "sigmoid", warning


def _is_the_books_sample(path: str) -> bool:
    """Whether ``path`` is the book's ``sample_weight.pkl`` (its pinned SHA-256): a sigmoid network."""
    from ..io import samples

    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size > 1 << 20:  # the book's file is 178 KiB
            return False
        return hashlib.sha256(f.read()).hexdigest() == samples.SAMPLE_WEIGHTS.sha256
