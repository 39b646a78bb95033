"""``xpnn export``: a network (a weights file, else the book's) written as an ONNX model."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._common import add_options, check_out, require_extra
from ._weights import network_and_activation


def add_parser(sub: Any) -> None:
    e = sub.add_parser(
        "export", help="write a network as an ONNX model (needs the `onnx` extra: pip install 'xpnn[onnx]')"
    )
    e.add_argument("--out", required=True, help="the .onnx file to write")
    add_options(e, "--weights", "--activation")
    e.add_argument(
        "--output",
        default="softmax",
        type=str.lower,
        choices=["softmax", "identity", "argmax"],
        help="probabilities (default), logits, or class indices",
    )
    e.add_argument(
        "--input-dtype",
        default="float32",
        type=str.lower,
        choices=["float32", "float64", "float16", "uint8"],
        help="the model's input dtype (default: float32)",
    )
    e.add_argument(
        "--normalize", action="store_true", help="divide the input by 255 in the model (raw bytes in)"
    )
    add_options(e, "--data-dir", "--no-download")
    e.set_defaults(run=run, parser=e)


def run(args: argparse.Namespace) -> int:
    check_out(args.out, (".onnx",), ".onnx")
    require_extra("xpnn export", "onnx", "ndonnx", "onnx", "onnxscript")
    from ..export import export_onnx  # ONNX export is a lazy part of xpnn: only this command imports it

    weights, activation, warning = network_and_activation(args)
    if warning:
        print(warning, file=sys.stderr)
    model = export_onnx(
        weights,
        args.out,
        activation=activation,
        output=args.output,
        input_dtype=args.input_dtype,
        normalize=args.normalize,
    )
    meta = {p.key: p.value for p in model.metadata_props}
    (inp,), (out,) = model.graph.input, model.graph.output
    print(
        f"wrote {args.out}: {_network_words(meta)} network, input"
        f" {inp.name!r} ({args.input_dtype}{', divided by 255' if args.normalize else ''}),"
        f" output {out.name!r}, opset {model.opset_import[0].version}"
    )
    return 0


def _network_words(meta: dict[str, str]) -> str:
    """The exported network in a few words, from the model's metadata: ``784-50-100-10 sigmoid``
    (the book's dict), or ``1x28x28 Convolution-Relu-...-Affine`` (a layer network)."""
    if "xpnn.sizes" in meta:
        return f"{meta['xpnn.sizes'].replace(',', '-')} {meta['xpnn.activation']}"
    layers = "-".join(layer["type"] for layer in json.loads(meta["xpnn.layers"]))
    return f"{meta['xpnn.input_shape'].replace(',', 'x')} {layers}"
