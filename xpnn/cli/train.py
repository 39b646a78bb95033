"""``xpnn train``: the book's ch. 5 MLP (or its ch. 7-8 CNNs) trained on MNIST, and written out."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .._timing import describe_device
from ..io import load_mnist
from ..optimizers import OPTIMIZERS
from ._common import ACTIVATION, add_backend, add_options, timed
from ._train_checks import check_convnet_args, check_mlp_args


def add_parser(sub: Any) -> None:
    r = sub.add_parser(
        "train", help="train a network on MNIST (default: the book's ch. 5 run, 10,000 iterations)"
    )
    add_backend(r, default="numpy")
    add_options(r, "--device")
    r.add_argument(
        "--network",
        default="mlp",
        type=str.lower,
        choices=["mlp", "simple_convnet", "deep_convnet"],
        help="mlp (default: the ch. 5 network of --sizes), or the book's ch. 7 SimpleConvNet or ch. 8"
        " DeepConvNet (Adam, 20 epochs, as the book's train_convnet.py)",
    )
    r.add_argument("--sizes", default=None, help="layer widths, input first (default: 784,50,10)")
    r.add_argument("--activation", **{**ACTIVATION, "help": "hidden activation (default: relu)"})
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
    add_options(r, "--data-dir", "--no-download")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(run=run, parser=r)


def run(args: argparse.Namespace) -> int:
    from ..training import train

    if args.network != "mlp":
        return _train_convnet(args)
    sizes, net, impl, dev, lr = check_mlp_args(args)  # all refusals come before a download or a line
    x, t, x_test, t_test = _train_and_test_sets(args, normalize=True)

    def report(row: dict) -> None:
        accuracies = f"train acc, test acc | {row['train_acc']:.4f}, {row['test_acc']:.4f}"
        _print_epoch(row, row["iteration"], accuracies)

    def fit() -> Any:
        return train(
            net, x, t, activation=args.activation, optimizer=args.optimizer, lr=lr,
            batch_size=args.batch_size, iters=args.iters if args.iters is not None or args.epochs is not None else 10_000,
            epochs=args.epochs,
            seed=args.seed,
            weight_decay=args.weight_decay, backend=impl.name, device=dev, x_test=x_test, t_test=t_test,
            progress=False if args.no_progress else None, on_epoch=report,
        )  # fmt: skip

    _fit_and_save(args, f"{'-'.join(map(str, sizes))} {args.activation}", lr, impl, dev, len(x), fit)
    return 0


def _train_layers(net: Any, x: Any, t: Any, args: argparse.Namespace, lr: float, **kw: Any) -> Any:
    """The one call that trains a layer network (the book's ``Trainer``): ``(network, history)``."""
    from ..nn import train_network

    return train_network(
        net, x, t, optimizer=args.optimizer, lr=lr, batch_size=args.batch_size,
        epochs=args.epochs or 20, seed=args.seed, normalize=True, **kw,
    )  # fmt: skip


def _train_convnet(args: argparse.Namespace) -> int:
    """``xpnn train --network simple_convnet|deep_convnet``: the book's ch. 7 / ch. 8 training run."""
    net, impl, dev, lr = check_convnet_args(args)  # all refusals come before a download or a line
    x, t, x_test, t_test = _train_and_test_sets(args, normalize=False, flatten=False)
    per_epoch = -(-len(x) // args.batch_size)

    def report(row: dict) -> None:
        _print_epoch(row, row["epoch"] * per_epoch, f"test acc {row['test_acc']:.4f}")

    def fit() -> Any:
        return _train_layers(net, x, t, args, lr, x_test=x_test, t_test=t_test, on_epoch=report)

    _fit_and_save(args, args.network, lr, impl, dev, len(x), fit)
    return 0


def _print_epoch(row: dict, iteration: int, accuracies: str) -> None:
    """One epoch's line, flushed as it ends (``xpnn train | tee log`` shows it then)."""
    print(
        f"epoch {row['epoch']:>3} (iteration {iteration:>6}) loss {row['loss']:.4f} | {accuracies}",
        flush=True,
    )


def _train_and_test_sets(
    args: argparse.Namespace, *, normalize: bool, flatten: bool = True
) -> tuple[Any, Any, Any, Any]:
    """MNIST's training set (its first ``--train-size`` images) and test set, in the layout asked for."""
    where = {"data_dir": args.data_dir, "download": not args.no_download}
    x, t = load_mnist(normalize=normalize, flatten=flatten, split="train", **where)
    x_test, t_test = load_mnist(normalize=normalize, flatten=flatten, split="test", **where)
    if args.train_size is not None:
        x, t = x[: args.train_size], t[: args.train_size]
    return x, t, x_test, t_test


def _fit_and_save(
    args: argparse.Namespace, what: str, lr: float, impl: Any, dev: Any, images: int, fit: Callable[[], Any]
) -> None:
    """Say what is trained where, ``fit()`` it (epoch lines come from its ``on_epoch``), say how long
    it took and how well it does, and write it to ``--out`` if given, with the command that evaluates it."""
    from ..io import save_weights

    print(
        f"{what}, {args.optimizer} lr {lr}, batch {args.batch_size}, {args.dtype},"
        f" {images:,} images on {impl.name} {describe_device(impl.name, dev)}"
    )
    (network, history), seconds = timed(fit)
    print(f"trained in {seconds:.1f} s; test accuracy {history['test_acc'][-1]:.4f}")
    if args.out:
        print(f"weights written to {save_weights(network, args.out)}")
        print(f"evaluate them with: {_evaluate_command(args)}")


def _evaluate_command(args: argparse.Namespace) -> str:
    """The ``xpnn mnist`` command that evaluates the file ``xpnn train`` wrote (the file records
    its activation)."""
    import shlex

    words = ["xpnn", "mnist", "--weights", args.out]
    if args.data_dir is not None:
        words += ["--data-dir", args.data_dir]
    return shlex.join(words)
