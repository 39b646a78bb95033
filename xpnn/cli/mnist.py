"""``xpnn mnist``: the accuracy and speed of the book's network (or a weights file, or the book's
trained CNNs) on the MNIST test set, on a backend or compiled."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._timing import describe_device
from ..backends import get_backend
from ..errors import BackendUnavailableError
from ..inference import accuracy
from ..io import load_mnist
from ..network import to_backend
from ._common import add_backend, add_options, require_extra, timed
from ._weights import network_and_activation

#: What ``--compile TARGET`` needs: the extra that installs it, and the modules it imports.
COMPILE_NEEDS = {
    "onnxruntime": ("onnx", "ndonnx", "onnx", "onnxruntime", "onnxscript"),
    "jax": ("jax", "jax"),
}


def add_parser(sub: Any) -> None:
    m = sub.add_parser("mnist", help="accuracy and time of the book's network on the MNIST test set")
    add_backend(m, default=None)
    add_options(m, "--device")
    m.add_argument("--batch-size", type=int, default=100, help="images per batch (default: 100, as the book)")
    add_options(m, "--data-dir", "--weights", "--no-download", "--activation")
    m.add_argument(
        "--compile",
        default=None,
        type=str.lower,
        choices=["onnxruntime", "jax"],
        help="run the network compiled (xpnn.compile) for onnxruntime (--device cuda: its CUDA provider)"
        " or jax; takes no --backend",
    )
    m.add_argument(
        "--network",
        default=None,
        choices=["simple_convnet", "deep_convnet"],
        help="the book's trained ch. 7 SimpleConvNet or ch. 8 DeepConvNet instead of the ch. 3 network",
    )
    m.set_defaults(run=run, parser=m)


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer; got {args.batch_size}")
    if args.network:
        return _convnet(args)
    if args.compile:
        if args.backend is not None:
            raise ValueError(
                f"--compile {args.compile} runs on its own runtime, not on --backend {args.backend}:"
                " leave out --backend (--device picks the device)"
            )
        require_extra(f"--compile {args.compile}", *COMPILE_NEEDS[args.compile])
    else:  # an unusable backend is reported before any download
        impl, dev = get_backend(args.backend or "numpy", args.device)
    local = network_and_activation(args) if args.weights else None  # a bad file: refused before downloads
    if local:
        _check_fits_mnist(local[0], args.weights)
    _fetch_first(args)
    weights, activation, warning = local or network_and_activation(args)
    x, t = load_mnist(
        normalize=False,
        flatten=len(_input_shape(weights)) == 1,  # a CNN takes (N, 1, 28, 28) images
        split="test",
        data_dir=args.data_dir,
        download=not args.no_download,
    )
    if warning:  # once nothing else can fail on the way: an error stays one line
        print(warning, file=sys.stderr)
    if args.compile:
        network, where = _compiled(weights, args, activation)
    else:
        network = to_backend(weights, impl.name, dev, activation=activation)
        where = f"{impl.name} {describe_device(impl.name, dev)}"
    return _report(network, x, t, args, where, activation=activation)


def _input_shape(weights: Any) -> tuple[int, ...]:
    """The shape of one input of ``weights`` (a layer network's ``n_in``; a dict's ``W1`` rows)."""
    n_in = weights.n_in if hasattr(weights, "n_in") else weights["W1"].shape[0]
    return tuple(n_in) if isinstance(n_in, tuple) else (int(n_in),)


def _check_fits_mnist(weights: Any, path: str) -> None:
    """Refuse, before any download, a network that cannot read MNIST images or name 10 classes."""
    n_in = _input_shape(weights)
    if hasattr(weights, "n_out"):
        n_out = int(weights.n_out)
    else:  # the book's dict: W1..Wn, b1..bn, as load_weights checked
        n_out = int(weights[f"W{sum(key.startswith('W') for key in weights)}"].shape[1])
    if n_in not in ((784,), (1, 28, 28)) or n_out != 10:
        shape = "x".join(map(str, n_in))
        raise ValueError(
            f"{path} is a network of {shape} inputs and {n_out} outputs; MNIST needs 784 (or 1x28x28) inputs"
            " and 10 outputs: name weights trained on MNIST (xpnn train --out FILE writes them)"
        )


def _test_set(root: Path) -> list[tuple[Any, Path]]:
    """The MNIST test files, each with the folder of the data directory ``root`` it goes into."""
    from ..io.mnist import MNIST_FILES

    return [(MNIST_FILES[("test", kind)][0], root / "mnist") for kind in ("images", "labels")]


def _fetch_first(args: argparse.Namespace) -> None:
    """Every file ``xpnn mnist`` needs, fetched before anything else: offline, one error names them all."""
    from ..io import data_dir, fetch_all
    from ..io.samples import SAMPLE_WEIGHTS

    root = data_dir(args.data_dir)
    wanted = _test_set(root)
    if not args.weights:
        wanted.append((SAMPLE_WEIGHTS, root / "weights"))
    fetch_all(wanted, root, download=not args.no_download, verify=False)  # each is checked as it loads


def _convnet(args: argparse.Namespace) -> int:
    """``mnist --network simple_convnet|deep_convnet``: the book's trained ch. 7-8 CNN on the test set."""
    from ..io import data_dir, fetch_all, load_sample_convnet
    from ..io.samples import SAMPLE_CONVNETS

    if args.compile or args.weights or args.activation is not None:
        raise ValueError(
            f"--network {args.network} runs the book's trained file: leave out --weights, --compile and --activation"
        )
    impl, dev = get_backend(args.backend or "numpy", args.device)  # reported before any download
    root = data_dir(args.data_dir)
    fetch_all(
        [*_test_set(root), (SAMPLE_CONVNETS[args.network], root / "weights")],
        root,
        download=not args.no_download,
    )
    x, t = load_mnist(normalize=False, flatten=False, split="test", data_dir=root, download=False)
    network = to_backend(load_sample_convnet(args.network, root, download=False), impl.name, dev)
    return _report(network, x, t, args, f"{impl.name} {describe_device(impl.name, dev)}, {args.network}")


def _report(network: Any, x: Any, t: Any, args: argparse.Namespace, where: str, **kw: Any) -> int:
    """Print the accuracy of ``network`` on the test set ``x, t`` and the time it took, ``where`` it ran."""
    accuracy(network, x[:1], t[:1], normalize=True, **kw)  # warm-up: kernels, JIT, first allocation
    result, seconds = timed(lambda: accuracy(network, x, t, batch_size=args.batch_size, normalize=True, **kw))
    print(f"Accuracy:{result}")
    print(
        f"{len(x)} images in {seconds * 1e3:.1f} ms ({len(x) / seconds:,.0f} images/s) on"
        f" {where}, batch size {args.batch_size or len(x)}"
    )
    return 0


def _compiled(weights: Any, args: argparse.Namespace, activation: str | None) -> tuple[Any, str]:
    """``mnist --compile TARGET``: the network compiled for onnxruntime or jax, and where it runs."""
    from ..export import compile

    if args.compile == "onnxruntime":
        try:
            network = compile(weights, "onnxruntime", device=args.device, activation=activation)
        except (BackendUnavailableError, ValueError) as e:  # say it in the command's words, not the API's
            words = str(e).replace("use provider='cpu'", "leave out --device (onnxruntime on the CPU)")
            raise type(e)(words.replace("; got device=", "; got --device ")) from None
        return network, f"onnxruntime ({network.session.get_providers()[0]})"
    network = compile(weights, "jax", device=args.device, activation=activation)
    return network, f"jax.jit on {network.device}"
