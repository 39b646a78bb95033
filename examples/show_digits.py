"""A PNG or JPEG grid of MNIST test digits, labelled "predicted (true)", misclassified ones in red.

python examples/show_digits.py --out digits.png
python examples/show_digits.py --errors --out errors.jpg     # only misclassified digits, as a JPEG

Needs the plot extra (matplotlib and Pillow): pip install 'xpnn[plot]' (in a clone: pip install -e '.[plot]').
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import xpnn
from xpnn.backends import missing_extra  # the one wording xpnn uses for a missing extra
from xpnn.plotting import FORMATS

#: The most digits one grid draws: beyond that the picture is too big to read (and slow to draw).
MAX_COUNT = 400


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="digits.png", help="picture to write, .png or .jpg (default: digits.png)"
    )
    parser.add_argument(
        "--count", type=int, default=40, help=f"how many digits, 1 to {MAX_COUNT} (default: 40)"
    )
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
    if not 1 <= args.count <= MAX_COUNT or args.start < 0:
        parser.exit(2, f"error: --count must be 1 to {MAX_COUNT} and --start not negative\n")
    if Path(args.out).suffix.lower() not in FORMATS:
        parser.exit(2, f"error: --out {args.out}: name a .png or .jpg file (the format follows the suffix)\n")
    try:
        import matplotlib  # noqa: F401  (checked first: no point in loading the data without it)
        import PIL  # noqa: F401
    except ImportError as e:
        parser.exit(2, f"error: {missing_extra('show_digits.py', 'plot')}; {e}\n")
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
    if args.start >= len(chosen):
        what = f"{len(chosen)} misclassified test digits" if args.errors else f"{len(chosen)} test digits"
        print(f"error: --start {args.start} is past the end: there are {what}", file=sys.stderr)
        return 2
    chosen = chosen[args.start : args.start + args.count]
    wrong = int((predicted[chosen] != t[chosen]).sum())
    kind = "misclassified MNIST test digits" if args.errors else "MNIST test digits"
    title = f"{kind}: predicted (true); {wrong} of {len(chosen)} wrong, in red"
    try:
        path = xpnn.save_digit_grid(x[chosen], predicted[chosen], t[chosen], args.out, title=title)
    except OSError as e:  # e.g. no permission to write there
        print(f"error: cannot write {args.out}: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}: {len(chosen)} digits, {wrong} misclassified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
