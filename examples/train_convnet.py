"""The book's ch. 7 training run (ch07/train_convnet.py) in xpnn: SimpleConvNet on MNIST.

    XPNN_DATA_DIR=../shared/data python examples/train_convnet.py              # the book's 20 epochs
    python examples/train_convnet.py --epochs 1 --train-size 10000 --out convnet.png
    python examples/train_convnet.py --quick                                    # a few seconds

The book's ``SimpleConvNet`` (conv 30 5x5 - ReLU - max-pool 2x2 - affine 100 - ReLU - affine 10,
``weight_init_std=0.01``) learns the unflattened ``(N, 1, 28, 28)`` images with Adam (lr 0.001)
in mini-batches of 100 for 20 epochs, as the book's ``Trainer`` does (each epoch visits every
training image once). After each epoch it prints the mean training loss and the accuracy on the
test images; the figure is the learning curve (test accuracy per epoch, and the loss). The book
reaches about 0.99 test accuracy after 20 epochs (several hours on 2 cores of NumPy; PyTorch or
a GPU is faster: ``--backend torch``). ``--quick`` trains 2 epochs on 300 images and tests on
1,000: it only shows the run works. Ends with ``result: SimpleConvNet test_acc=... final_loss=...``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, NoReturn

import numpy as np
from ch6_common import pyplot

import xpnn


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20, help="epochs (default 20, the book's max_epochs)")
    p.add_argument("--train-size", type=int, default=None, help="train on the first N images (default: all)")
    p.add_argument("--quick", action="store_true", help="a tiny run: 2 epochs, 300 images, 1,000 to test")
    p.add_argument("--out", default="train_convnet.png", help="the PNG to write (default train_convnet.png)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the batches")
    p.add_argument("--backend", default="numpy", help="numpy, torch, jax, cupy, array_api_strict")
    p.add_argument("--device", default=None, help="backend device, e.g. cuda:0")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="(default float32)")
    p.add_argument("--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR, else per-user)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    return p


def train(net: Any, x: np.ndarray, t: np.ndarray, epochs: int, seed: int, **kw: Any) -> tuple[Any, dict]:
    """The book's ``Trainer(..., optimizer='Adam', optimizer_param={'lr': 0.001}, mini_batch_size=100)``."""
    return xpnn.nn.train_network(
        net, x, t, optimizer="adam", lr=0.001, batch_size=100, epochs=epochs, seed=seed, normalize=True, **kw
    )


def fail(message: str) -> NoReturn:
    """A user error: one line on standard error, exit status 2."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    epochs, train_size, test_size = (2, 300, 1000) if args.quick else (args.epochs, args.train_size, None)
    for flag, value in (("--epochs", epochs), ("--train-size", train_size)):
        if value is not None and value < 1:
            fail(f"{flag} must be >= 1; got {value}")
    if args.backend in xpnn.backends.TABLE and not xpnn.backends.TABLE[args.backend].trainable:
        fail("training does not run on Dask: train on numpy, torch, jax or cupy (then predict on Dask)")
    plt = pyplot()  # a missing plot extra is reported before the data is read
    where = {"data_dir": args.data_dir, "download": not args.no_download, "normalize": False}
    try:  # the backend first: an unusable one is reported before the data is read
        # network = SimpleConvNet(input_dim=(1,28,28), conv_param={'filter_num': 30, 'filter_size': 5,
        #                         'pad': 0, 'stride': 1}, hidden_size=100, output_size=10, weight_init_std=0.01)
        net = xpnn.SimpleConvNet(
            weight_init_std=0.01, seed=args.seed, dtype=args.dtype, backend=args.backend, device=args.device
        )
        # (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
        x_train, t_train = xpnn.load_mnist(flatten=False, split="train", **where)
        x_test, t_test = xpnn.load_mnist(flatten=False, split="test", **where)
    except (ValueError, OSError, ImportError, xpnn.BackendUnavailableError) as e:
        fail(str(e))
    x_train, t_train = x_train[:train_size], t_train[:train_size]
    x_test, t_test = x_test[:test_size], t_test[:test_size]
    print(f"SimpleConvNet on {args.backend}: {len(x_train):,} training images, {epochs} epochs of Adam")
    start = time.perf_counter()

    def report(row: dict) -> None:
        print(
            f"epoch {row['epoch']:>3} loss {row['loss']:.4f} test acc {row['test_acc']:.4f}"
            f" ({time.perf_counter() - start:.1f} s)",
            flush=True,
        )

    try:
        net, history = train(
            net, x_train, t_train, epochs, args.seed, x_test=x_test, t_test=t_test, on_epoch=report
        )
    except ValueError as e:  # e.g. Dask, which predicts but does not train
        fail(str(e))
    train_acc = xpnn.accuracy(net, x_train[:1000], t_train[:1000], normalize=True)
    print(f"=============== Final Test Accuracy ===============\ntest acc:{history['test_acc'][-1]}")
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(9, 3.6))
    x = np.arange(1, epochs + 1)
    acc_ax.plot(x, history["test_acc"], marker="s", markevery=2, label="test")
    acc_ax.set(xlabel="epochs", ylabel="accuracy", ylim=(0, 1.0), title="SimpleConvNet, Adam lr 0.001")
    acc_ax.legend(loc="lower right")
    loss_ax.plot(x, history["loss"], marker="o", markevery=2, color="C1")
    loss_ax.set(xlabel="epochs", ylabel="mean training loss", ylim=(0, None))
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(
        f"result: SimpleConvNet test_acc={history['test_acc'][-1]:.4f} train_acc={train_acc:.4f}"
        f" final_loss={history['loss'][-1]:.4f}"
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
