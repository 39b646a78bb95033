"""The ``xpnn`` command.

    xpnn backends                                  which backends are usable here, and why not
    xpnn mnist [--backend NAME] [--batch-size N]   the book's network on the MNIST test set
               [--data-dir DIR] [--weights PATH] [--activation relu] [--no-download]
               [--compile onnxruntime|jax]       a weights file's recorded activation is used
    xpnn mnist --network deep_convnet              the book's trained ch. 7-8 CNNs instead
    xpnn export --out model.onnx [--weights PATH]  a network as an ONNX model (xpnn[onnx])
               [--activation relu] [--output argmax] [--input-dtype uint8 --normalize]
    xpnn train [--backend NAME] [--sizes 784,50,10] [--optimizer sgd] [--lr 0.1] [--iters N |
               --epochs N] [--out FILE] ...       train on MNIST (default: the book's ch. 5 run)
    xpnn train --network simple_convnet            the book's ch. 7 CNN (Adam, 20 epochs) or ch. 8
               [--epochs N] [--train-size N] ...  deep_convnet instead of the ch. 5 MLP

User errors print one line and exit with status 2, not a traceback; every option, output path
and backend is checked before anything is downloaded, computed or printed. Names (backends,
activations, optimizers, dtypes) are case-insensitive.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import hashlib
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import __version__
from ._timing import describe_device
from .backends import BACKENDS, TABLE, backend_status, get_backend, missing_extra
from .errors import BackendUnavailableError, DataError, DataNotFoundError
from .functions import HIDDEN_ACTIVATIONS
from .inference import accuracy
from .io import load_mnist, load_sample_network, load_weights
from .network import to_backend
from .optimizers import OPTIMIZERS

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
        install = f"; install with {status.install}" if status.install else ""
        print(f"{name:17} {mark} {status.reason}{version}{install}")
    return 0


def _fetch_first(args: argparse.Namespace) -> None:
    """Every file ``xpnn mnist`` needs, fetched before anything else: offline, one error names them all."""
    from .io import data_dir, fetch_all
    from .io.mnist import MNIST_FILES
    from .io.samples import SAMPLE_WEIGHTS

    root = data_dir(args.data_dir)
    wanted = [(MNIST_FILES[("test", kind)][0], root / "mnist") for kind in ("images", "labels")]
    if not args.weights:
        wanted.append((SAMPLE_WEIGHTS, root / "weights"))
    fetch_all(wanted, root, download=not args.no_download, verify=False)  # each is checked as it loads


def _mnist_convnet(args: argparse.Namespace) -> int:
    """``mnist --network simple_convnet|deep_convnet``: the book's trained ch. 7-8 CNN on the test set."""
    from .io import data_dir, fetch_all, load_sample_convnet
    from .io.mnist import MNIST_FILES
    from .io.samples import SAMPLE_CONVNETS

    if args.compile or args.weights or args.activation is not None:
        raise ValueError(
            f"--network {args.network} runs the book's trained file: leave out --weights, --compile and --activation"
        )
    impl, dev = get_backend(args.backend or "numpy", args.device)  # reported before any download
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
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be a positive integer; got {args.batch_size}")
    if args.network:
        return _mnist_convnet(args)
    if args.compile:
        if args.backend is not None:
            raise ValueError(
                f"--compile {args.compile} runs on its own runtime, not on --backend {args.backend}:"
                " leave out --backend (--device picks the device)"
            )
        _require_extra(f"--compile {args.compile}", *COMPILE_NEEDS[args.compile])
    else:  # an unusable backend is reported before any download
        impl, dev = get_backend(args.backend or "numpy", args.device)
    local = _network_and_activation(args) if args.weights else None  # a bad file: refused before downloads
    _fetch_first(args)
    x, t = load_mnist(normalize=False, split="test", data_dir=args.data_dir, download=not args.no_download)
    weights, activation, warning = local or _network_and_activation(args)
    if warning:  # once nothing else can fail on the way: an error stays one line
        print(warning, file=sys.stderr)
    if args.compile:
        network, where = _compiled(weights, args, activation)
    else:
        network = to_backend(weights, impl.name, dev, activation=activation)
        where = f"{impl.name} {describe_device(impl.name, dev)}"
    accuracy(
        network, x[:1], t[:1], normalize=True, activation=activation
    )  # warm-up: kernels, JIT, first allocation
    start = time.perf_counter()
    result = accuracy(network, x, t, batch_size=args.batch_size, normalize=True, activation=activation)
    seconds = time.perf_counter() - start
    print(f"Accuracy:{result}")
    print(
        f"{len(x)} images in {seconds * 1e3:.1f} ms ({len(x) / seconds:,.0f} images/s) on"
        f" {where}, batch size {args.batch_size or len(x)}"
    )
    return 0


#: What ``--compile TARGET`` needs: the extra that installs it, and the modules it imports.
COMPILE_NEEDS = {
    "onnxruntime": ("onnx", "ndonnx", "onnx", "onnxruntime", "onnxscript"),
    "jax": ("jax", "jax"),
}


def _require_extra(what: str, extra: str, *modules: str) -> None:
    """Refuse, in the one wording for a missing extra, unless every module of ``extra`` imports."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ImportError(f"{missing_extra(what, extra)}; {module} cannot be imported here ({e})") from e


def _network_and_activation(args: argparse.Namespace) -> tuple[Any, str, str | None]:
    """The weights ``--weights`` names (else the book's), the hidden activation to run them with,
    and the warning to print, if any.

    A file that records its activation (``xpnn train --out``) runs with it, and an ``--activation``
    that contradicts it is an error; a file that records none runs with ``--activation``, else
    the book's sigmoid, with a warning unless it is the book's own ``sample_weight.pkl``.
    """
    if args.weights:
        weights = load_weights(args.weights)
    else:
        weights = load_sample_network(args.data_dir, download=not args.no_download)
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
    from .io import samples

    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size > 1 << 20:  # the book's file is 178 KiB
            return False
        return hashlib.sha256(f.read()).hexdigest() == samples.SAMPLE_WEIGHTS.sha256


def _check_out(path: str, suffixes: tuple[str, ...], what: str) -> None:
    """Refuse an output path that cannot be written, before any work: a directory, an unknown
    suffix, a folder that is not one or that this user cannot write to."""
    out = Path(path)
    if out.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"is a directory: name the {what} file to write", path)
    if not out.name.lower().endswith(suffixes):
        raise ValueError(f"--out must name a {what} file; got {path!r}")
    folder = out.absolute().parent
    while not folder.exists():  # written into folders made on the way
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "is not a directory: --out cannot be written there", str(folder)
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "this user cannot write here: choose another --out", str(folder))


def _compiled(weights: Any, args: argparse.Namespace, activation: str) -> tuple[Any, str]:
    """``mnist --compile TARGET``: the network compiled for onnxruntime or jax, and where it runs."""
    from .export import compile

    if args.compile == "onnxruntime":
        try:
            network = compile(weights, "onnxruntime", device=args.device, activation=activation)
        except (BackendUnavailableError, ValueError) as e:  # say it in the command's words, not the API's
            words = str(e).replace("use provider='cpu'", "leave out --device (onnxruntime on the CPU)")
            raise type(e)(words.replace("; got device=", "; got --device ")) from None
        return network, f"onnxruntime ({network.session.get_providers()[0]})"
    network = compile(weights, "jax", device=args.device, activation=activation)
    return network, f"jax.jit on {network.device}"


def _export(args: argparse.Namespace) -> int:
    _check_out(args.out, (".onnx",), ".onnx")
    _require_extra("xpnn export", "onnx", "ndonnx", "onnx", "onnxscript")
    from .export import export_onnx  # ONNX export is a lazy part of xpnn: only this command imports it

    weights, activation, warning = _network_and_activation(args)
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
        f"wrote {args.out}: {meta['xpnn.sizes'].replace(',', '-')} {meta['xpnn.activation']} network, input"
        f" {inp.name!r} ({args.input_dtype}{', divided by 255' if args.normalize else ''}),"
        f" output {out.name!r}, opset {model.opset_import[0].version}"
    )
    return 0


def _add_export(sub: Any) -> None:
    e = sub.add_parser(
        "export", help="write a network as an ONNX model (needs the `onnx` extra: pip install 'xpnn[onnx]')"
    )
    e.add_argument("--out", required=True, help="the .onnx file to write")
    e.add_argument(
        "--weights", default=None, help="weights file (.pkl, .npz, .safetensors); default: the book's"
    )
    e.add_argument("--activation", **ACTIVATION)
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
    e.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR or the per-user one)"
    )
    e.add_argument("--no-download", action="store_true", help="never download; fail if a file is missing")
    e.set_defaults(run=_export, parser=e)


def _train(args: argparse.Namespace) -> int:
    from .io import load_mnist, save_weights
    from .training import train

    if args.network != "mlp":
        return _train_convnet(args)
    _mlp_defaults(args)
    sizes, net, impl, dev, lr = _check_train_args(args)  # all refusals come before a download or a line
    download = not args.no_download
    x, t = load_mnist(normalize=True, split="train", data_dir=args.data_dir, download=download)
    x_test, t_test = load_mnist(normalize=True, split="test", data_dir=args.data_dir, download=download)
    if args.train_size is not None:
        x, t = x[: args.train_size], t[: args.train_size]
    print(
        f"{'-'.join(map(str, sizes))} {args.activation}, {args.optimizer} lr {lr}, batch {args.batch_size},"
        f" {args.dtype}, {len(x):,} images on {impl.name} {describe_device(impl.name, dev)}"
    )
    start = time.perf_counter()

    def report(row: dict) -> None:
        print(
            f"epoch {row['epoch']:>3} (iteration {row['iteration']:>6}) loss {row['loss']:.4f}"
            f" | train acc, test acc | {row['train_acc']:.4f}, {row['test_acc']:.4f}",
            flush=True,
        )

    network, history = train(
        net, x, t, activation=args.activation, optimizer=args.optimizer, lr=lr,
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


def _check_train_args(args: argparse.Namespace) -> tuple[list[int], dict, Any, Any, float]:
    """Refuse impossible ``xpnn train`` settings before any data is loaded or a line printed (one
    line, status 2): options, the output path and its extra, the backend and device. Returns the
    layer widths, the initial network, the backend and its device, and the learning rate."""
    import math

    from .training import random_network

    _check_common_train_args(args)
    try:
        sizes = [int(s) for s in args.sizes.replace("-", ",").split(",")]
    except ValueError:
        raise ValueError(f"--sizes takes layer widths such as 784,50,10; got {args.sizes!r}") from None
    if sizes[0] != 784 or sizes[-1] != 10:
        raise ValueError(f"MNIST needs 784 inputs and 10 outputs: --sizes 784,...,10; got {args.sizes!r}")
    if min(sizes) < 1:
        raise ValueError(f"--sizes takes positive layer widths such as 784,50,10; got {args.sizes!r}")
    try:
        init: str | float = float(args.weight_init)
    except ValueError:
        init = args.weight_init.lower()
    if init not in ("he", "xavier") and not (isinstance(init, float) and math.isfinite(init) and init >= 0):
        raise ValueError(
            f"--weight-init takes he, xavier or a standard deviation such as 0.01; got {args.weight_init!r}"
        )
    impl, dev = _train_backend(args)
    net = random_network(sizes, weight_init=init, seed=args.seed, dtype=args.dtype)
    return sizes, net, impl, dev, _learning_rate(args)


def _mlp_defaults(args: argparse.Namespace) -> None:
    """The ch. 5 MLP's defaults for the options ``--network`` CNNs refuse (they default to None)."""
    for name, value in (
        ("sizes", "784,50,10"),
        ("activation", "relu"),
        ("weight_init", "0.01"),
        ("optimizer", "sgd"),
        ("weight_decay", 0.0),
    ):
        if getattr(args, name) is None:
            setattr(args, name, value)


def _check_common_train_args(args: argparse.Namespace) -> None:
    """The refusals every ``xpnn train`` network shares: counts, seed, rates and the output path."""
    import math

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
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be a positive finite number; got {args.lr}")
    if args.weight_decay is not None and not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        raise ValueError(f"--weight-decay must be a non-negative finite number; got {args.weight_decay}")
    if args.out:
        _check_out(args.out, (".npz", ".safetensors"), ".npz or .safetensors")
        if args.out.lower().endswith(".safetensors"):
            try:
                importlib.import_module("safetensors.numpy")
            except ImportError as e:
                raise ImportError(
                    f"{missing_extra(f'--out {args.out}', 'safetensors')}; or name a .npz file, which needs nothing more"
                ) from e


def _train_backend(args: argparse.Namespace) -> tuple[Any, Any]:
    """The backend and device ``xpnn train`` computes on (Dask refused: it does not train)."""
    if args.backend in TABLE and not TABLE[args.backend].trainable:  # Dask
        raise ValueError(
            "xpnn train does not run on Dask: train with --backend numpy, torch, jax, cupy or"
            " array_api_strict, then evaluate on Dask: xpnn mnist --backend dask --weights FILE"
        )
    return get_backend(args.backend, args.device)


#: Options of the ch. 5 MLP that the book's CNNs do not take, and why.
_MLP_ONLY = {
    "sizes": ("--sizes", "its layers are the book's"),
    "activation": ("--activation", "its activations are the book's ReLU layers"),
    "iters": ("--iters", "it trains by epochs, as the book's Trainer: use --epochs"),
    "weight_decay": ("--weight-decay", "the book's CNNs train without weight decay"),
}


def _check_convnet_args(args: argparse.Namespace) -> tuple[Any, Any, Any, float]:
    """Refuse what ``xpnn train --network CNN`` cannot do, before any work; returns the initial
    network, its backend and device, and the learning rate."""
    import math

    from .nn import DeepConvNet, SimpleConvNet

    for name, (flag, why) in _MLP_ONLY.items():
        if getattr(args, name) is not None:
            raise ValueError(f"--network {args.network} takes no {flag} ({why}): leave out {flag}")
    _check_common_train_args(args)
    std = 0.01  # SimpleConvNet's weight_init_std, the book's default
    if args.weight_init is not None:
        if args.network == "deep_convnet":
            raise ValueError(
                "--network deep_convnet takes no --weight-init (the book draws its weights with He's"
                " scale): leave out --weight-init"
            )
        try:
            std = float(args.weight_init)
        except ValueError:
            std = math.nan
        if not (math.isfinite(std) and std >= 0):
            raise ValueError(
                "--network simple_convnet takes --weight-init as a standard deviation such as 0.01"
                f" (the book's weight_init_std); got {args.weight_init!r}"
            )
    args.optimizer = args.optimizer or "adam"  # the book's train_convnet.py and train_deepnet.py
    impl, dev = _train_backend(args)
    place = {"seed": args.seed, "dtype": args.dtype, "backend": impl.name, "device": dev}
    if args.network == "simple_convnet":
        net: Any = SimpleConvNet(weight_init_std=std, **place)
    else:
        net = DeepConvNet(**place)
    lr = float(args.lr) if args.lr is not None else float(OPTIMIZERS[args.optimizer]().lr)
    return net, impl, dev, lr


def _train_layers(net: Any, x: Any, t: Any, args: argparse.Namespace, lr: float, **kw: Any) -> Any:
    """The one call that trains a layer network (the book's ``Trainer``): ``(network, history)``."""
    from .nn import train_network

    return train_network(
        net, x, t, optimizer=args.optimizer, lr=lr, batch_size=args.batch_size,
        epochs=args.epochs or 20, seed=args.seed, normalize=True, **kw,
    )  # fmt: skip


def _train_convnet(args: argparse.Namespace) -> int:
    """``xpnn train --network simple_convnet|deep_convnet``: the book's ch. 7 / ch. 8 training run."""
    from .io import save_weights

    net, impl, dev, lr = _check_convnet_args(args)  # all refusals come before a download or a line
    download = not args.no_download
    x, t = load_mnist(
        normalize=False, flatten=False, split="train", data_dir=args.data_dir, download=download
    )
    x_test, t_test = load_mnist(
        normalize=False, flatten=False, split="test", data_dir=args.data_dir, download=download
    )
    if args.train_size is not None:
        x, t = x[: args.train_size], t[: args.train_size]
    per_epoch = -(-len(x) // args.batch_size)
    print(
        f"{args.network}, {args.optimizer} lr {lr}, batch {args.batch_size}, {args.dtype},"
        f" {len(x):,} images on {impl.name} {describe_device(impl.name, dev)}"
    )
    start = time.perf_counter()

    def report(row: dict) -> None:
        print(
            f"epoch {row['epoch']:>3} (iteration {row['epoch'] * per_epoch:>6}) loss {row['loss']:.4f}"
            f" | test acc {row['test_acc']:.4f}",
            flush=True,
        )

    network, history = _train_layers(net, x, t, args, lr, x_test=x_test, t_test=t_test, on_epoch=report)
    print(f"trained in {time.perf_counter() - start:.1f} s; test accuracy {history['test_acc'][-1]:.4f}")
    if args.out:
        print(f"weights written to {save_weights(network, args.out)}")
    return 0


def _learning_rate(args: argparse.Namespace) -> float:
    """``--lr``, else 0.1 for sgd (the book's ch. 5 run), else the optimizer's own (the book's)."""
    if args.lr is not None:
        return float(args.lr)
    return 0.1 if args.optimizer == "sgd" else float(OPTIMIZERS[args.optimizer]().lr)


def _evaluate_command(args: argparse.Namespace) -> str:
    """The ``xpnn mnist`` command that evaluates the file ``xpnn train`` wrote (the file records
    its activation)."""
    import shlex

    words = ["xpnn", "mnist", "--weights", args.out]
    if args.data_dir is not None:
        words += ["--data-dir", args.data_dir]
    return shlex.join(words)


def _unrecognized(extras: list[str], command: argparse.ArgumentParser) -> str:
    """argparse's "unrecognized arguments" message, with the closest option for each unknown one
    (difflib: Python 3.11's argparse has no ``suggest_on_error``)."""
    known = [flag for action in command._actions for flag in action.option_strings]
    hints = []
    for word in extras:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.6)
            hints += [f"{word.split('=', 1)[0]}: did you mean {close[0]}?" for _ in close]
    return f"unrecognized arguments: {' '.join(extras)}" + (f" ({'; '.join(hints)})" if hints else "")


#: ``--activation``, as each command takes it: a name, case-insensitive; None means the weights'
#: own (``mnist`` and ``export``).
ACTIVATION: dict[str, Any] = {
    "default": None,
    "type": str.lower,
    "choices": sorted(HIDDEN_ACTIVATIONS),
    "help": "hidden activation (default: the one the weights file records, else sigmoid, the book's)",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xpnn", description="The book's networks on any Array API backend.")
    p.add_argument("--version", action="version", version=f"xpnn {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backends", help="list the backends usable here, and why the others are not")
    b.set_defaults(run=_backends, parser=b)
    m = sub.add_parser("mnist", help="accuracy and time of the book's network on the MNIST test set")
    m.add_argument(
        "--backend", default=None, type=str.lower, help=f"{', '.join(BACKENDS)} or auto (default: numpy)"
    )
    m.add_argument("--device", default=None, help="backend device, e.g. cuda:0")
    m.add_argument("--batch-size", type=int, default=100, help="images per batch (default: 100, as the book)")
    m.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR or the per-user one)"
    )
    m.add_argument(
        "--weights", default=None, help="weights file (.pkl, .npz, .safetensors); default: the book's"
    )
    m.add_argument("--no-download", action="store_true", help="never download; fail if a file is missing")
    m.add_argument("--activation", **ACTIVATION)
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
    m.set_defaults(run=_mnist, parser=m)
    _add_export(sub)

    r = sub.add_parser(
        "train", help="train a network on MNIST (default: the book's ch. 5 run, 10,000 iterations)"
    )
    r.add_argument(
        "--backend", default="numpy", type=str.lower, help=f"{', '.join(BACKENDS)} or auto (default: numpy)"
    )
    r.add_argument("--device", default=None, help="backend device, e.g. cuda:0")
    r.add_argument(
        "--network",
        default="mlp",
        type=str.lower,
        choices=["mlp", "simple_convnet", "deep_convnet"],
        help="mlp (default: the ch. 5 network of --sizes), or the book's ch. 7 SimpleConvNet or ch. 8"
        " DeepConvNet (Adam, 20 epochs, as the book's train_convnet.py)",
    )
    r.add_argument("--sizes", default=None, help="layer widths, input first (default: 784,50,10)")
    r.add_argument(
        "--activation",
        default=None,
        type=str.lower,
        choices=sorted(HIDDEN_ACTIVATIONS),
        help="hidden activation (default: relu)",
    )
    r.add_argument(
        "--weight-init",
        default=None,
        help="he, xavier or a standard deviation (default: 0.01; simple_convnet: its weight_init_std)",
    )
    r.add_argument(
        "--optimizer",
        default=None,
        type=str.lower,
        choices=list(OPTIMIZERS),
        help="update rule (default: sgd; adam for the CNNs)",
    )
    own = ", ".join(f"{name} {cls().lr}" for name, cls in OPTIMIZERS.items() if name != "sgd")
    r.add_argument(
        "--lr",
        type=float,
        default=None,
        help=f"learning rate (default: 0.1 for the mlp with sgd, the book's ch. 5 run; else the optimizer's own: {own})",
    )
    r.add_argument("--batch-size", type=int, default=100, help="mini-batch size (default: 100)")
    steps = r.add_mutually_exclusive_group()
    steps.add_argument(
        "--iters", type=int, default=None, help="the book's loop: batches drawn with replacement"
    )
    steps.add_argument(
        "--epochs", type=int, default=None, help="epochs, shuffled without replacement (the CNNs: default 20)"
    )
    r.add_argument("--weight-decay", type=float, default=None, help="L2 weight decay lambda (default: 0)")
    r.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches (default: 0)")
    r.add_argument(
        "--dtype",
        default="float32",
        type=str.lower,
        choices=["float32", "float64"],
        help="weights and compute dtype (default: float32)",
    )
    r.add_argument("--train-size", type=int, default=None, help="train on the first N images only")
    r.add_argument("--out", default=None, help="write the trained weights here (.npz or .safetensors)")
    r.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR or the per-user one)"
    )
    r.add_argument("--no-download", action="store_true", help="never download; fail if a file is missing")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(run=_train, parser=r)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extras = p.parse_known_args(argv)
    if extras:  # argparse would report them with the top-level usage, and suggest nothing
        args.parser.error(_unrecognized(extras, args.parser))
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
