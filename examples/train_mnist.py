"""The book's ch. 5 training run (ch05/train_neuralnet.py) in xpnn, on any backend.

    XPNN_DATA_DIR=../shared/data python examples/train_mnist.py
    python examples/train_mnist.py --backend torch --iters 2000 --plot curve.png

A 784-50-10 ReLU network (weights drawn with standard deviation 0.01, as the book's
TwoLayerNet) learns MNIST by SGD with learning rate 0.1 on mini-batches of 100 drawn with
replacement, 10,000 iterations; every epoch (600 iterations) it prints the train and test
accuracy as the book does. With --plot FILE it then draws the learning curve (train and test
accuracy per epoch, the book's Figure 5-29) into FILE; that needs the plot extra (matplotlib).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import xpnn
from xpnn.backends import missing_extra  # the one wording xpnn uses for a missing extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    trainable = [b for b in xpnn.BACKENDS if b != "dask"]  # training runs in memory, not on Dask
    parser.add_argument("--backend", default="numpy", help=f"one of {', '.join(trainable)} or 'auto'")
    parser.add_argument("--device", default=None, help="backend device, e.g. cuda:0")
    parser.add_argument("--iters", type=int, default=10_000, help="iterations (default: 10,000, the book's)")
    parser.add_argument("--train-size", type=int, default=None, help="use the first N training images only")
    parser.add_argument(
        "--plot",
        default=None,
        help="draw the learning curve into this image, e.g. curve.png (needs matplotlib)",
    )
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR, else per-user)"
    )
    parser.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading missing files"
    )
    args = parser.parse_args(argv)
    plt = None
    if args.plot is not None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as e:
            print(f"error: {missing_extra('--plot', 'plot')}; {e}", file=sys.stderr)
            return 2
    problem = _check(args, plt)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        # load_mnist(normalize=True): the data goes to the backend's device once
        where = {"data_dir": args.data_dir, "download": not args.no_download}
        place = {"backend": args.backend, "device": args.device}
        x_train, t_train = xpnn.load_mnist(normalize=True, split="train", **where, **place)
        x_test, t_test = xpnn.load_mnist(normalize=True, split="test", **where, **place)
    except (ValueError, OSError, ImportError, xpnn.BackendUnavailableError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    if args.train_size is not None:
        x_train, t_train = x_train[: args.train_size, ...], t_train[: args.train_size, ...]

    # network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    network = xpnn.random_network([784, 50, 10], weight_init=0.01, seed=0)

    def report(epoch: dict) -> None:  # the book prints train_acc, test_acc every epoch
        print(f"train acc, test acc | {epoch['train_acc']:.4f}, {epoch['test_acc']:.4f}", flush=True)

    # the loop: batch_mask = np.random.choice(train_size, batch_size); grad = network.gradient(...);
    # params[key] -= learning_rate * grad[key]; accuracy every iter_per_epoch
    try:
        network, history = xpnn.train(
            network, x_train, t_train, activation="relu", optimizer="sgd", lr=0.1, batch_size=100,
            iters=args.iters, x_test=x_test, t_test=t_test, on_epoch=report,
        )  # fmt: skip
    except (ValueError, TypeError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2

    if plt is None:
        return 0
    epochs = history["epoch"]
    plt.plot(epochs, history["train_acc"], marker="o", label="train acc")
    plt.plot(epochs, history["test_acc"], marker="s", label="test acc", linestyle="--")
    plt.xlabel("epochs")
    plt.ylabel("accuracy")
    plt.ylim(0, 1.0)
    plt.legend(loc="lower right")
    plt.savefig(args.plot)
    print(f"learning curve written to {args.plot}")
    return 0


def _check(args: argparse.Namespace, plt: Any) -> str | None:
    """What is wrong with the arguments, before any data is loaded or time is spent training."""
    if args.iters < 1:
        return f"--iters must be a positive integer; got {args.iters}"
    if args.train_size is not None and args.train_size < 1:
        return f"--train-size must be a positive integer; got {args.train_size}"
    if args.backend == "dask":
        return "training does not run on Dask: train on numpy, torch, jax or cupy (then predict on Dask)"
    if plt is None:
        return None
    folder = Path(args.plot).absolute().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        return f"--plot {args.plot}: {folder} is not a folder this user can write to"
    formats = plt.figure().canvas.get_supported_filetypes()
    suffix = Path(args.plot).suffix.lower().lstrip(".")
    if suffix not in formats:
        return f"--plot {args.plot}: name an image file ending in one of .{', .'.join(sorted(formats))}"
    return None


if __name__ == "__main__":
    sys.exit(main())
