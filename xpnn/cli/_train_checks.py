"""Every refusal of ``xpnn train``, made before any data is loaded or a line printed (one line,
status 2), and the defaults that depend on the network trained."""

from __future__ import annotations

import argparse
import importlib
import math
from typing import Any

from ..backends import TABLE, get_backend, missing_extra
from ..optimizers import OPTIMIZERS
from ._common import check_out


def check_mlp_args(args: argparse.Namespace) -> tuple[list[int], dict, Any, Any, float]:
    """Refuse impossible ``xpnn train`` settings of the ch. 5 MLP: options, the output path and its
    extra, the backend and device. Returns the layer widths, the initial network, the backend and
    its device, and the learning rate."""
    from ..training import random_network

    _mlp_defaults(args)
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
    return sizes, net, impl, dev, _learning_rate(args, sgd=0.1)  # the book's ch. 5 run


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


#: Options of the ch. 5 MLP that the book's CNNs do not take, and why.
_MLP_ONLY = {
    "sizes": ("--sizes", "its layers are the book's"),
    "activation": ("--activation", "its activations are the book's ReLU layers"),
    "iters": ("--iters", "it trains by epochs, as the book's Trainer: use --epochs"),
    "weight_decay": ("--weight-decay", "the book's CNNs train without weight decay"),
}


def check_convnet_args(args: argparse.Namespace) -> tuple[Any, Any, Any, float]:
    """Refuse what ``xpnn train --network CNN`` cannot do; returns the initial network, its backend
    and device, and the learning rate."""
    from ..nn import DeepConvNet, SimpleConvNet

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
    return net, impl, dev, _learning_rate(args)


def _learning_rate(args: argparse.Namespace, sgd: float | None = None) -> float:
    """``--lr``, else ``sgd`` where given and the optimizer is sgd, else the optimizer's own (the book's)."""
    if args.lr is not None:
        return float(args.lr)
    if sgd is not None and args.optimizer == "sgd":
        return sgd
    return float(OPTIMIZERS[args.optimizer]().lr)


def _check_common_train_args(args: argparse.Namespace) -> None:
    """The refusals every ``xpnn train`` network shares: counts, seed, rates and the output path."""
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
        check_out(args.out, (".npz", ".safetensors"), ".npz or .safetensors")
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
