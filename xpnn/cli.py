"""The ``xpnn`` command.

    xpnn backends                                  which backends are usable here, and why not
    xpnn mnist [--backend NAME] [--batch-size N]   the book's network on the MNIST test set
               [--data-dir DIR] [--weights PATH] [--activation relu] [--no-download]
               [--compile onnxruntime|jax]
    xpnn mnist --network deep_convnet              the book's trained ch. 7-8 CNNs instead
    xpnn export --out model.onnx [--weights PATH]  a network as an ONNX model (xpnn[onnx])
               [--activation relu] [--output argmax] [--input-dtype uint8 --normalize]
    xpnn train [--backend NAME] [--sizes 784,50,10] [--optimizer sgd] [--lr 0.1] [--iters N |
               --epochs N] [--out FILE] ...       train on MNIST (default: the book's ch. 5 run)

User errors print one line and exit with status 2, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from . import __version__
from ._backend_names import BACKENDS
from ._backends import BackendUnavailableError, get_backend
from ._data import DataError, DataNotFoundError
from ._status import backend_status
from ._timing import describe_device
from .inference import accuracy
from .mnist import load_mnist
from .network import to_backend
from .weights import load_sample_network, load_weights

#: Errors a user can cause with arguments, files or the machine: one line, exit status 2.
#: ``OSError`` covers a data or weights path that cannot be read (permissions, a directory, ...).
USER_ERRORS = (
    BackendUnavailableError,
    DataError,
    DataNotFoundError,
    ImportError,
    OSError,
    ValueError,
)


def _backends(args: argparse.Namespace) -> int:
    for name, status in backend_status().items():
        mark = "yes" if status.available else "no "
        version = f" {status.version}" if status.version else ""
        print(f"{name:17} {mark} {status.reason}{version}")
    return 0


def _fetch_first(args: argparse.Namespace) -> None:
    """Every file ``xpnn mnist`` needs, fetched before anything else: offline, one error names them all."""
    from ._data import data_dir, fetch_all
    from .mnist import MNIST_FILES
    from .weights import SAMPLE_WEIGHTS

    root = data_dir(args.data_dir)
    wanted = [(MNIST_FILES[("test", kind)][0], root / "mnist") for kind in ("images", "labels")]
    if not args.weights:
        wanted.append((SAMPLE_WEIGHTS, root / "weights"))
    fetch_all(wanted, root, download=not args.no_download)


def _mnist_convnet(args: argparse.Namespace) -> int:
    """``mnist --network simple_convnet|deep_convnet``: the book's trained ch. 7-8 CNN on the test set."""
    from ._data import data_dir, fetch_all
    from .mnist import MNIST_FILES
    from .weights import SAMPLE_CONVNETS, load_sample_convnet

    if args.compile or args.weights or args.activation != "sigmoid":
        raise ValueError(
            f"--network {args.network} runs the book's trained file: leave out --weights, --compile and --activation"
        )
    impl, dev = get_backend(args.backend, args.device)  # an unusable backend is reported before any download
    root = data_dir(args.data_dir)
    wanted = [(MNIST_FILES[("test", kind)][0], root / "mnist") for kind in ("images", "labels")]
    fetch_all(
        [*wanted, (SAMPLE_CONVNETS[args.network], root / "weights")], root, download=not args.no_download
    )
    x, t = load_mnist(normalize=False, flatten=False, split="test", data_dir=root, download=False)
    network = to_backend(load_sample_convnet(args.network, root, download=False), impl.name, dev)
    accuracy(network, x[:1], t[:1], normalize=True)  # warm-up
    start = time.perf_counter()
    result = accuracy(network, x, t, batch_size=args.batch_size, normalize=True)
    seconds = time.perf_counter() - start
    print(f"Accuracy:{result}")
    print(
        f"{len(x)} images in {seconds * 1e3:.1f} ms ({len(x) / seconds:,.0f} images/s) on"
        f" {impl.name} {describe_device(impl.name, dev)}, {args.network}, batch size {args.batch_size or len(x)}"
    )
    return 0


def _mnist(args: argparse.Namespace) -> int:
    if args.network:
        return _mnist_convnet(args)
    if args.compile and args.backend != "numpy":
        raise ValueError(
            f"--compile {args.compile} runs on its own runtime, not on --backend {args.backend}:"
            " leave out --backend (--device picks the device)"
        )
    if not args.compile:  # an unusable backend is reported before any download
        impl, dev = get_backend(args.backend, args.device)
    _fetch_first(args)
    x, t = load_mnist(normalize=False, split="test", data_dir=args.data_dir, download=not args.no_download)
    weights = (
        load_weights(args.weights)
        if args.weights
        else load_sample_network(args.data_dir, download=not args.no_download)
    )
    if args.compile:
        network, where = _compiled(weights, args)
    else:
        network, where = to_backend(weights, impl.name, dev), f"{impl.name} {describe_device(impl.name, dev)}"
    accuracy(
        network, x[:1], t[:1], normalize=True, activation=args.activation
    )  # warm-up: kernels, JIT, first allocation
    start = time.perf_counter()
    result = accuracy(network, x, t, batch_size=args.batch_size, normalize=True, activation=args.activation)
    seconds = time.perf_counter() - start
    print(f"Accuracy:{result}")
    print(
        f"{len(x)} images in {seconds * 1e3:.1f} ms ({len(x) / seconds:,.0f} images/s) on"
        f" {where}, batch size {args.batch_size or len(x)}"
    )
    return 0


def _compiled(weights: Any, args: argparse.Namespace) -> tuple[Any, str]:
    """``mnist --compile TARGET``: the network compiled for onnxruntime or jax, and where it runs."""
    from .export import compile

    if args.compile == "onnxruntime":
        try:
            network = compile(weights, "onnxruntime", device=args.device, activation=args.activation)
        except (BackendUnavailableError, ValueError) as e:  # say it in the command's words, not the API's
            words = str(e).replace("use provider='cpu'", "leave out --device (onnxruntime on the CPU)")
            raise type(e)(words.replace("; got device=", "; got --device ")) from None
        return network, f"onnxruntime ({network.session.get_providers()[0]})"
    network = compile(weights, "jax", device=args.device, activation=args.activation)
    return network, f"jax.jit on {network.device}"


def _export(args: argparse.Namespace) -> int:
    from .export import export_onnx  # ONNX export is a lazy part of xpnn: only this command imports it

    weights = (
        load_weights(args.weights)
        if args.weights
        else load_sample_network(args.data_dir, download=not args.no_download)
    )
    model = export_onnx(
        weights,
        args.out,
        activation=args.activation,
        output=args.output,
        input_dtype=args.input_dtype,
        normalize=args.normalize,
    )
    meta = {p.key: p.value for p in model.metadata_props}
    (inp,), (out,) = model.graph.input, model.graph.output
    print(
        f"wrote {args.out}: {meta['xpnn.sizes'].replace(',', '-')} {meta['xpnn.activation']} network, input"
        f" {inp.name!r} ({args.input_dtype}{', divided by 255' if args.normalize else ''}),"
        f" output {out.name!r}, opset {model.opset_import[0].version}"
    )
    return 0


def _add_export(sub: Any) -> None:
    e = sub.add_parser("export", help="write a network as an ONNX model (pip install -e '.[onnx]')")
    e.add_argument("--out", required=True, help="the .onnx file to write")
    e.add_argument(
        "--weights", default=None, help="weights file (.pkl, .npz, .safetensors); default: the book's"
    )
    e.add_argument("--activation", default="sigmoid", choices=["sigmoid", "relu"], help="hidden activation")
    e.add_argument(
        "--output",
        default="softmax",
        choices=["softmax", "identity", "argmax"],
        help="probabilities (default), logits, or class indices",
    )
    e.add_argument(
        "--input-dtype",
        default="float32",
        choices=["float32", "float64", "float16", "uint8"],
        help="the model's input dtype (default: float32)",
    )
    e.add_argument(
        "--normalize", action="store_true", help="divide the input by 255 in the model (raw bytes in)"
    )
    e.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR or the per-user one)"
    )
    e.add_argument("--no-download", action="store_true", help="never download; fail if a file is missing")
    e.set_defaults(run=_export)


def _train(args: argparse.Namespace) -> int:
    from .mnist import load_mnist
    from .training import random_network, train
    from .weights import save_weights

    _check_train_args(args)
    if args.out and not args.out.lower().endswith((".npz", ".safetensors")):
        raise ValueError(f"--out must name a .npz or .safetensors file; got {args.out!r}")
    try:
        sizes = [int(s) for s in args.sizes.replace("-", ",").split(",")]
    except ValueError:
        raise ValueError(f"--sizes takes layer widths such as 784,50,10; got {args.sizes!r}") from None
    if sizes[0] != 784 or sizes[-1] != 10:
        raise ValueError(f"MNIST needs 784 inputs and 10 outputs: --sizes 784,...,10; got {args.sizes!r}")
    try:
        init: str | float = float(args.weight_init)
    except ValueError:
        init = args.weight_init
    impl, dev = get_backend(args.backend, args.device)
    download = not args.no_download
    x, t = load_mnist(normalize=True, split="train", data_dir=args.data_dir, download=download)
    x_test, t_test = load_mnist(normalize=True, split="test", data_dir=args.data_dir, download=download)
    if args.train_size is not None:
        x, t = x[: args.train_size], t[: args.train_size]
    net = random_network(sizes, weight_init=init, seed=args.seed, dtype=args.dtype)
    print(
        f"{'-'.join(map(str, sizes))} {args.activation}, {args.optimizer} lr {args.lr}, batch {args.batch_size},"
        f" {len(x):,} images on {impl.name} {describe_device(impl.name, dev)}"
    )
    start = time.perf_counter()

    def report(row: dict) -> None:
        print(
            f"epoch {row['epoch']:>3} (iteration {row['iteration']:>6}) loss {row['loss']:.4f}"
            f" | train acc, test acc | {row['train_acc']:.4f}, {row['test_acc']:.4f}",
            flush=True,
        )

    network, history = train(
        net, x, t, activation=args.activation, optimizer=args.optimizer, lr=args.lr,
        batch_size=args.batch_size, iters=args.iters if args.iters is not None or args.epochs is not None else 10_000,
        epochs=args.epochs,
        seed=args.seed,
        weight_decay=args.weight_decay, backend=impl.name, device=dev, x_test=x_test, t_test=t_test,
        progress=False if args.no_progress else None, on_epoch=report,
    )  # fmt: skip
    print(f"trained in {time.perf_counter() - start:.1f} s; test accuracy {history['test_acc'][-1]:.4f}")
    if args.out:
        print(f"weights written to {save_weights(network, args.out)}")
        print(f"evaluate them with: {_evaluate_command(args)}")
    return 0


def _check_train_args(args: argparse.Namespace) -> None:
    """Refuse impossible ``xpnn train`` settings before any data is loaded (one line, status 2)."""
    import math

    from .optimizers import OPTIMIZERS

    for flag, value in (
        ("--iters", args.iters),
        ("--epochs", args.epochs),
        ("--train-size", args.train_size),
        ("--batch-size", args.batch_size),
    ):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be a positive integer; got {value}")
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer; got {args.seed}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be a positive finite number; got {args.lr}")
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise ValueError(f"--weight-decay must be a non-negative finite number; got {args.weight_decay}")
    if args.optimizer.lower() not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}; got {args.optimizer!r}")


def _evaluate_command(args: argparse.Namespace) -> str:
    """The ``xpnn mnist`` command that evaluates the file ``xpnn train`` wrote (weight files carry no
    activation, so a relu network needs ``--activation relu``)."""
    import shlex

    words = ["xpnn", "mnist", "--weights", args.out]
    if args.activation != "sigmoid":
        words += ["--activation", args.activation]
    if args.data_dir is not None:
        words += ["--data-dir", args.data_dir]
    return shlex.join(words)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xpnn", description="The book's networks on any Array API backend.")
    p.add_argument("--version", action="version", version=f"xpnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("backends", help="list the backends usable here, and why the others are not").set_defaults(
        run=_backends
    )
    m = sub.add_parser("mnist", help="accuracy and time of the book's network on the MNIST test set")
    m.add_argument("--backend", default="numpy", help=f"{', '.join(BACKENDS)} or auto (default: numpy)")
    m.add_argument("--device", default=None, help="backend device, e.g. cuda:0")
    m.add_argument("--batch-size", type=int, default=100, help="images per batch (default: 100, as the book)")
    m.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR or the per-user one)"
    )
    m.add_argument(
        "--weights", default=None, help="weights file (.pkl, .npz, .safetensors); default: the book's"
    )
    m.add_argument("--no-download", action="store_true", help="never download; fail if a file is missing")
    m.add_argument("--activation", default="sigmoid", help="hidden activation: sigmoid (the book's) or relu")
    m.add_argument(
        "--compile",
        default=None,
        choices=["onnxruntime", "jax"],
        help="run the network compiled (xpnn.compile) for onnxruntime (--device cuda: its CUDA provider) or jax",
    )
    m.add_argument(
        "--network",
        default=None,
        choices=["simple_convnet", "deep_convnet"],
        help="the book's trained ch. 7 SimpleConvNet or ch. 8 DeepConvNet instead of the ch. 3 network",
    )
    m.set_defaults(run=_mnist)
    _add_export(sub)

    r = sub.add_parser(
        "train", help="train a network on MNIST (default: the book's ch. 5 run, 10,000 iterations)"
    )
    r.add_argument("--backend", default="numpy", help=f"{', '.join(BACKENDS)} or auto (default: numpy)")
    r.add_argument("--device", default=None, help="backend device, e.g. cuda:0")
    r.add_argument("--sizes", default="784,50,10", help="layer widths, input first (default: 784,50,10)")
    r.add_argument("--activation", default="relu", choices=["relu", "sigmoid"], help="hidden activation")
    r.add_argument("--weight-init", default="0.01", help="he, xavier or a standard deviation (default: 0.01)")
    r.add_argument("--optimizer", default="sgd", help="sgd, momentum, nesterov, adagrad, rmsprop or adam")
    r.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
    r.add_argument("--batch-size", type=int, default=100, help="mini-batch size (default: 100)")
    steps = r.add_mutually_exclusive_group()
    steps.add_argument(
        "--iters", type=int, default=None, help="the book's loop: batches drawn with replacement"
    )
    steps.add_argument("--epochs", type=int, default=None, help="epochs, shuffled without replacement")
    r.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay lambda (default: 0)")
    r.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches (default: 0)")
    r.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    r.add_argument("--train-size", type=int, default=None, help="train on the first N images only")
    r.add_argument("--out", default=None, help="write the trained weights here (.npz or .safetensors)")
    r.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR or the per-user one)"
    )
    r.add_argument("--no-download", action="store_true", help="never download; fail if a file is missing")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(run=_train)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except USER_ERRORS as e:
        print(f"xpnn: error: {one_line(e)}", file=sys.stderr)
        return 2


def one_line(error: BaseException) -> str:
    """The error as one line: its own line breaks joined; an OSError as ``path: reason``."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error)
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
