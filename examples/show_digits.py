"""A PNG grid of MNIST test digits, labelled "predicted (true)", misclassified ones in red.

XPNN_DATA_DIR=../shared/data python examples/show_digits.py --out digits.png
python examples/show_digits.py --errors      # only misclassified digits
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import xpnn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="digits.png", help="PNG to write (default: digits.png)")
    parser.add_argument("--count", type=int, default=40, help="how many digits (default: 40)")
    parser.add_argument("--start", type=int, default=0, help="first test image (default: 0)")
    parser.add_argument("--errors", action="store_true", help="show only misclassified digits")
    parser.add_argument("--backend", default="numpy", help=f"one of {', '.join(xpnn.BACKENDS)}")
    parser.add_argument(
        "--data-dir", default=None, help="data directory (default: $XPNN_DATA_DIR, else per-user)"
    )
    parser.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading missing files"
    )
    args = parser.parse_args(argv)
    try:
        x, t = xpnn.load_mnist(split="test", data_dir=args.data_dir, download=not args.no_download)
        network = xpnn.to_backend(
            xpnn.load_sample_network(args.data_dir, download=not args.no_download), args.backend
        )
        predicted = xpnn.to_numpy(xpnn.predict(network, x))
    except (ValueError, FileNotFoundError, ImportError, xpnn.BackendUnavailableError) as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    chosen = np.flatnonzero(predicted != t) if args.errors else np.arange(len(t))
    chosen = chosen[args.start : args.start + args.count]
    wrong = int((predicted[chosen] != t[chosen]).sum())
    kind = "misclassified MNIST test digits" if args.errors else "MNIST test digits"
    title = f"{kind}: predicted (true); {wrong} of {len(chosen)} wrong, in red"
    path = xpnn.save_digit_grid(x[chosen], predicted[chosen], t[chosen], args.out, title=title)
    print(f"wrote {path}: {len(chosen)} digits, {wrong} misclassified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
