"""The book's gradient check (ch05/gradient_check.py) in xpnn: backpropagation against central differences.

    XPNN_DATA_DIR=../shared/data python examples/gradient_check.py
    python examples/gradient_check.py --dtype float32   # to see why the check needs float64

The book's 784-50-10 ReLU network (weights drawn with standard deviation 0.01), its first three
training images; for each weight array it prints the mean absolute difference between
``xpnn.gradient`` (backpropagation) and ``xpnn.numerical_gradient`` (the book prints about
1e-13 to 1e-10). The check runs in float64, as the book's NumPy code does: in float32 each loss
is rounded to about 1e-7, and the central difference ``(L(w+h) - L(w-h)) / 2h`` with h = 1e-4
then differs by about 1e-4 however right the gradient is. ``--hidden 5`` makes it quick.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import xpnn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float64", help="float64 (default, the book's) or float32")
    parser.add_argument("--hidden", type=int, default=50, help="hidden units (default: 50, the book's)")
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR, else per-user)"
    )
    parser.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading missing files"
    )
    args = parser.parse_args(argv)
    if args.hidden < 1:
        print(f"error: --hidden must be a positive integer; got {args.hidden}", file=sys.stderr)
        return 2
    try:
        # (x_train, t_train), _ = load_mnist(normalize=True, one_hot_label=True)
        x_train, t_train = xpnn.load_mnist(
            normalize=True, split="train", data_dir=args.data_dir, download=not args.no_download
        )
        # network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
        network = xpnn.random_network([784, args.hidden, 10], weight_init=0.01, seed=0, dtype=args.dtype)
    except (ValueError, TypeError, OSError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    x_batch, t_batch = x_train[:3], t_train[:3]

    grad_numerical = xpnn.numerical_gradient(network, x_batch, t_batch, activation="relu")
    grad_backprop = xpnn.gradient(network, x_batch, t_batch, activation="relu")

    for key in grad_numerical:
        diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
        print(key + ":" + str(diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
